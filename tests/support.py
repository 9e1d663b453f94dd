"""Shared checks used by several test modules (schema validation, output reading)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from customer_sync.source import ClientSettings, CustomerAPIClient

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = ROOT / "docs" / "output.schema.json"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _no_constants(token: str) -> Any:
    raise ValueError(f"non-strict JSON constant {token}")


def read_strict(path: Path) -> Any:
    """Parse ``path`` as strict JSON: NaN and Infinity are refused."""
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constants)


def validate_output(path: Path) -> dict[str, Any]:
    """Read the output strictly, validate it against the published schema, return it."""
    document = read_strict(path)
    _validator().validate(document)
    return document


def sample_customer(**overrides: Any) -> dict[str, Any]:
    customer: dict[str, Any] = {
        "customer_id": 1,
        "full_name": "George Bluth",
        "email_domain": "reqres.in",
        "engagement_level": "high",
        "activity_status": "active",
        "acquisition_channel": "website",
        "market_segment": "US-West",
        "customer_tier": "premium",
        "data_quality_score": 100,
    }
    customer.update(overrides)
    return customer


def make_client(base_url: str, api_key: str | None = None, **options: Any) -> CustomerAPIClient:
    """A client from flat keyword arguments: settings fields go into its ClientSettings."""
    known = ClientSettings.model_fields
    fields = {name: options.pop(name) for name in list(options) if name in known}
    return CustomerAPIClient(base_url, api_key, settings=ClientSettings(**fields), **options)
