"""Every rule applied to one raw record: the scalar reference of the whole transform.

The processor's columnar path computes the same as :func:`normalize_record` for a
million records at a time; the property tests compare the two record by record.
No function here ever raises on a JSON value, except :func:`normalize_record`, which
raises :class:`~customer_sync.errors.InvalidRecord` for a record that must be rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ..models import Customer
from ..rules import BusinessRules
from .rules.activity import activity_status
from .rules.channel import acquisition_channel, signup_source_value
from .rules.counts import parse_count
from .rules.customer_id import check_record
from .rules.email import email_domain, email_key
from .rules.engagement import engagement_level
from .rules.money import parse_money, round_cents
from .rules.names import full_name, name_part
from .rules.quality import invalid_fields, quality_band, quality_score
from .rules.segment import country_value, market_segment, region_value
from .rules.tier import customer_tier, plan_value
from .rules.timestamps import parse_timestamp, timestamp_us

__all__ = ["NormalizedRecord", "canonical_values", "normalize_record"]

_DEFAULT_RULES: Final = BusinessRules()


@dataclass(frozen=True, slots=True)
class NormalizedRecord:
    """One accepted raw record after every rule, plus what deduplication needs."""

    customer_id: int
    full_name: str
    email_domain: str
    engagement_level: str
    activity_status: str
    acquisition_channel: str
    market_segment: str
    customer_tier: str
    data_quality_score: int
    email_key: str | None  # the valid normalized email, for matching duplicates
    updated_at_us: int | None  # the valid updated_at, for breaking ties

    def customer(self) -> Customer:
        """The exported record, keys in output order."""
        return Customer(
            customer_id=self.customer_id,
            full_name=self.full_name,
            email_domain=self.email_domain,
            engagement_level=self.engagement_level,
            activity_status=self.activity_status,
            acquisition_channel=self.acquisition_channel,
            market_segment=self.market_segment,
            customer_tier=self.customer_tier,
            data_quality_score=self.data_quality_score,
        )


def normalize_record(
    raw: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> NormalizedRecord:
    """Apply every rule to one raw record; :class:`InvalidRecord` if it must be rejected."""
    customer_id = check_record(raw)
    get = raw.get
    activity = activity_status(get("last_login_at"), as_of, rules)
    return NormalizedRecord(
        customer_id=customer_id,
        full_name=full_name(get("first_name"), get("last_name")),
        email_domain=email_domain(get("email")),
        engagement_level=engagement_level(
            get("sessions_30d"), get("orders_count"), activity, rules
        ),
        activity_status=activity,
        acquisition_channel=acquisition_channel(get("signup_source")),
        market_segment=market_segment(get("country"), get("region")),
        customer_tier=customer_tier(get("plan"), get("lifetime_value"), rules),
        data_quality_score=quality_score(raw, as_of, rules),
        email_key=email_key(get("email")),
        updated_at_us=timestamp_us(get("updated_at"), as_of, rules),
    )


def canonical_values(
    raw: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> dict[str, Any]:
    """The canonical row of one raw record (``frames.CANONICAL_SCHEMA``'s columns, in order).

    An invalid or missing value is None. :class:`InvalidRecord` if it must be rejected.
    """
    customer_id = check_record(raw)
    get = raw.get
    amount = parse_money(get("lifetime_value"))
    return {
        "customer_id": customer_id,
        "email": email_key(get("email")),
        "first_name": name_part(get("first_name")),
        "last_name": name_part(get("last_name")),
        "country": country_value(get("country")),
        "region": region_value(get("country"), get("region")),
        "plan": plan_value(get("plan")),
        "lifetime_value": None if amount is None else round_cents(amount),
        "sessions_30d": parse_count(get("sessions_30d")),
        "orders_count": parse_count(get("orders_count")),
        "signup_source": signup_source_value(get("signup_source")),
        "created_at": parse_timestamp(get("created_at"), as_of, rules),
        "last_login_at": parse_timestamp(get("last_login_at"), as_of, rules),
        "updated_at": parse_timestamp(get("updated_at"), as_of, rules),
        "data_quality_band": quality_band(quality_score(raw, as_of, rules), rules),
        "quality_issues": list(invalid_fields(raw, as_of, rules)),
    }
