"""Every rule: consistent thresholds, and no JSON value ever raises."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given

from customer_sync.errors import ConfigError
from customer_sync.rules import BusinessRules
from customer_sync.transform.rules.activity import activity_status
from customer_sync.transform.rules.channel import (
    acquisition_channel,
)
from customer_sync.transform.rules.counts import parse_count
from customer_sync.transform.rules.email import (
    email_domain,
)
from customer_sync.transform.rules.engagement import engagement_level
from customer_sync.transform.rules.money import parse_money
from customer_sync.transform.rules.names import name_part
from customer_sync.transform.rules.quality import (
    quality_score,
)
from customer_sync.transform.rules.segment import (
    market_segment,
)
from customer_sync.transform.rules.tier import (
    customer_tier,
)
from tests.transform.rules.test_quality import CLEAN
from tests.transform.support import (
    AS_OF,
    awkward,
)

# --- settings and robustness --------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"active_days": -1},
        {"premium_ltv": 20_000.0},
        {"enterprise_ltv": float("nan")},
        {"medium_sessions": 11},
        {"quality_penalty": 101},
        {"medium_quality_min": 95},
        {"min_valid_year": 0},
        {"epoch_ms_threshold": 0},
    ],
)
def test_inconsistent_rules_are_refused(changes: dict[str, Any]) -> None:
    """BusinessRules refuses thresholds that cannot work together, naming the setting."""
    with pytest.raises(ConfigError, match=next(iter(changes))):
        BusinessRules(**changes)


@given(awkward)
def test_no_rule_raises_on_any_json_value(value: Any) -> None:
    """Every field rule returns a value for any JSON value, NaN, huge numbers and all."""
    assert name_part(value) is None or isinstance(name_part(value), str)
    assert email_domain(value)
    assert activity_status(value, AS_OF) in ("active", "inactive", "unknown")
    assert engagement_level(value, value, "active") in ("high", "medium", "low", "unknown")
    assert acquisition_channel(value) in ("mobile", "email", "website", "unknown")
    assert market_segment(value, value)
    assert customer_tier(value, value)
    amount = parse_money(value)
    assert amount is None or (math.isfinite(amount) and amount >= 0)
    count = parse_count(value)
    assert count is None or 0 <= count < 2**63
    record = dict.fromkeys(CLEAN, value)
    assert 0 <= quality_score(record, AS_OF) <= 100
