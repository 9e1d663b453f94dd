"""The business rules of issue #4 as scalar, pure functions: one raw JSON value in, one value out.

These are the reference. The columnar path (:mod:`._columnar`) computes the same results
for a million records at a time and is tested against these functions; the
low-cardinality fields (names, country, region, plan, signup source) are computed by
calling these very functions once per distinct value.

No function here ever raises on a JSON value, except :func:`normalize_id`,
:func:`check_record` and :func:`normalize_record`, which raise
:class:`~customer_sync.errors.InvalidRecord` for a record that must be rejected. Timestamps are
handled as integer microseconds since the Unix epoch (UTC); ``as_of`` is always passed
in. docs/business_rules.md documents every rule.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from typing import Any, Final

from ..errors import InvalidRecord
from ..models import Customer
from ..rules import BusinessRules
from . import geo
from ._patterns import (
    DECIMAL_RE,
    DIGITS_RE,
    EMAIL_MAX_LENGTH,
    EMAIL_RE,
    EPOCH_RE,
    ID_RE,
    INT64_LIMIT,
    ISO_TIMESTAMP_RE,
    MONEY_RE,
    MONEY_SYMBOLS,
    WHITESPACE,
)

__all__ = [
    "ACQUISITION_CHANNELS",
    "ACTIVITY_STATUSES",
    "CUSTOMER_TIERS",
    "ENGAGEMENT_LEVELS",
    "MARKET_SEGMENTS",
    "UNKNOWN",
    "NormalizedRecord",
    "acquisition_channel",
    "activity_status",
    "check_record",
    "country_is_valid",
    "customer_tier",
    "email_domain",
    "email_key",
    "engagement_level",
    "full_name",
    "invalid_fields",
    "market_segment",
    "micros",
    "name_part",
    "normalize_id",
    "normalize_record",
    "numeric_text",
    "parse_count",
    "parse_money",
    "parse_timestamp",
    "plan_tier",
    "quality_band",
    "quality_score",
    "reason_code",
    "region_is_valid",
    "signup_source_is_valid",
    "text_value",
    "timestamp_us",
]

UNKNOWN: Final = "unknown"
ENGAGEMENT_LEVELS: Final = ("high", "medium", "low", UNKNOWN)
ACTIVITY_STATUSES: Final = ("active", "inactive", UNKNOWN)
ACQUISITION_CHANNELS: Final = ("mobile", "email", "website", UNKNOWN)
MARKET_SEGMENTS: Final = ("US-West", "US-East", "EU", "APAC", "Other", UNKNOWN)
CUSTOMER_TIERS: Final = ("enterprise", "premium", "basic", UNKNOWN)

MICROS_PER_DAY: Final = 86_400_000_000
#: A float microsecond count must lie strictly inside this bound before it becomes an int.
_FLOAT_MICROS_LIMIT: Final = 4e18
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_TOKENS: Final = re.compile(r"[^\W_]+")  # runs of letters and digits
_MOBILE_TOKENS: Final = frozenset({"ios", "android", "app", "mobile", "iphone", "ipad"})
_EMAIL_TOKENS: Final = frozenset({"email", "newsletter", "mail"})
_WEB_TOKENS: Final = frozenset({"web", "website", "www", "desktop", "organic", "seo", "direct"})
_PLAN_TIERS: Final = {
    "enterprise": "enterprise",
    "premium": "premium",
    "pro": "premium",
    "plus": "premium",
    "basic": "basic",
    "free": "basic",
    "starter": "basic",
}
_DETAIL_LENGTH: Final = 40
_DEFAULT_RULES: Final = BusinessRules()


# --- raw values --------------------------------------------------------------------------


def text_value(value: Any) -> str | None:
    """``value`` if it is a string that can be encoded as UTF-8, else None.

    Strings with lone surrogates (which ``json.loads`` can produce) are not text.
    """
    if not isinstance(value, str):
        return None
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return value


def numeric_text(value: Any) -> str | None:
    """The text a number is read from: a string as given, any other non-null value via ``str``.

    ``str(3.0)`` is ``"3.0"``, ``str(True)`` is ``"True"`` (no number), ``str([1])`` is
    ``"[1]"`` (no number). None, an unencodable string, or a value that cannot be
    turned into text (an int of more than 4,300 digits) gives None.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return text_value(value)
    try:
        return text_value(str(value))
    except (ValueError, RecursionError):
        return None


def _describe(value: Any) -> str:
    """A short, safe rendering of a raw value for a rejection reason."""
    if isinstance(value, str | int | float):  # bool is an int
        try:
            shown = repr(value)
        except ValueError:  # an int too long to print
            shown = f"<{type(value).__name__}>"
    else:
        shown = f"<{type(value).__name__}>"
    if len(shown) > _DETAIL_LENGTH:
        shown = shown[: _DETAIL_LENGTH - 1] + "…"
    return shown


def reason_code(reason: str) -> str:
    """The stable code of a rejection reason: ``"invalid_id: 'abc'"`` -> ``"invalid_id"``."""
    return reason.partition(":")[0]


# --- customer_id -------------------------------------------------------------------------


def normalize_id(value: Any) -> int:
    """The customer id of a raw ``id`` value, or :class:`InvalidRecord` with the reason.

    Accepted: an int, an int-valued float or string ("17", " 17 ", "17.0", 17.0) in
    1..2**63-1. Reasons: ``missing_id`` (absent, null, blank string), ``non_positive_id``
    (zero or negative), ``invalid_id`` (anything else, including bool and out of range).
    """
    if value is None:
        raise InvalidRecord("missing_id", value)
    text = None if isinstance(value, bool) else numeric_text(value)
    if text is None:
        raise InvalidRecord(f"invalid_id: {_describe(value)}", value)
    stripped = text.strip(WHITESPACE)
    if not stripped:
        raise InvalidRecord("missing_id", value)
    if ID_RE.fullmatch(stripped):
        digits = stripped.partition(".")[0].lstrip("0")
        if not digits:
            raise InvalidRecord(f"non_positive_id: {_describe(value)}", value)
        if len(digits) <= 19 and int(digits) < INT64_LIMIT:
            return int(digits)
    elif stripped.startswith("-") and DECIMAL_RE.fullmatch(stripped[1:]):
        raise InvalidRecord(f"non_positive_id: {_describe(value)}", value)
    raise InvalidRecord(f"invalid_id: {_describe(value)}", value)


# --- full_name ---------------------------------------------------------------------------


def name_part(value: Any) -> str | None:
    """A cleaned first or last name, or None when missing or invalid.

    Whitespace is stripped and inner runs collapse to one space. A part that is all
    lower-case or all upper-case becomes ``str.title()`` ("o'neil" -> "O'Neil",
    "MARY-JANE" -> "Mary-Jane"); mixed case is kept ("McDonald"). Invalid: not a string,
    blank, no letter at all ("123", "--"), or a control character.
    """
    text = text_value(value)
    if text is None:
        return None
    part = " ".join(text.split())
    if not any(ch.isalpha() for ch in part):
        return None
    if any(unicodedata.category(ch) == "Cc" for ch in part):
        return None
    if part.islower() or part.isupper():
        return part.title()
    return part


def full_name(first_name: Any, last_name: Any) -> str:
    """First and last name parts joined by one space; one part alone; else "unknown"."""
    parts = [part for part in (name_part(first_name), name_part(last_name)) if part]
    return " ".join(parts) if parts else UNKNOWN


# --- email -------------------------------------------------------------------------------


def email_key(value: Any) -> str | None:
    """The stripped, lower-cased email if it is syntactically valid, else None."""
    text = text_value(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    if len(stripped) > EMAIL_MAX_LENGTH or not EMAIL_RE.fullmatch(stripped):
        return None
    return stripped.lower()


def email_domain(value: Any) -> str:
    """The lower-cased domain of a valid email, else "unknown"."""
    key = email_key(value)
    return UNKNOWN if key is None else key.partition("@")[2]


# --- timestamps and activity_status ------------------------------------------------------


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _window(as_of: datetime, rules: BusinessRules) -> tuple[int, int]:
    low = micros(datetime(rules.min_valid_year, 1, 1, tzinfo=UTC))
    high = micros(as_of) + rules.future_tolerance_days * MICROS_PER_DAY
    return low, high


def _iso_micros(text: str) -> int | None:
    match = ISO_TIMESTAMP_RE.fullmatch(text)
    if match is None:
        return None
    day, hour, minute, second, fraction, _zulu, sign, off_hours, off_minutes = match.groups()
    try:
        days = date(int(day[0:4]), int(day[5:7]), int(day[8:10])).toordinal() - _EPOCH_ORDINAL
    except ValueError:  # 2023-02-29, month 13, year 0
        return None
    h, m, s = int(hour or 0), int(minute or 0), int(second or 0)
    if h > 23 or m > 59 or s > 59:
        return None
    offset = 0
    if sign is not None:
        oh, om = int(off_hours), int(off_minutes or 0)
        if oh > 23 or om > 59:
            return None
        offset = (oh * 60 + om) * 60_000_000 * (1 if sign == "+" else -1)
    fraction_us = int((fraction or "")[:6].ljust(6, "0"))
    return days * MICROS_PER_DAY + ((h * 60 + m) * 60 + s) * 1_000_000 + fraction_us - offset


def _epoch_micros(text: str, rules: BusinessRules) -> int | None:
    if EPOCH_RE.fullmatch(text) is None:
        return None
    number = float(text)
    scaled = number * 1000.0 if number > float(rules.epoch_ms_threshold) else number * 1e6
    if not -_FLOAT_MICROS_LIMIT < scaled < _FLOAT_MICROS_LIMIT:
        return None
    return int(scaled)


def timestamp_us(value: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES) -> int | None:
    """A raw timestamp as microseconds since the epoch (UTC), or None if missing or invalid.

    Spellings: ISO-8601 with Z or an offset; ISO-8601 without a zone, or with a space for
    the T (UTC); a date alone (midnight UTC); Unix epoch seconds, or milliseconds above
    ``rules.epoch_ms_threshold``, as a number or a numeric string. Invalid: before
    ``rules.min_valid_year`` or more than ``rules.future_tolerance_days`` after ``as_of``.
    """
    text = numeric_text(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    moment = _iso_micros(stripped)
    if moment is None:
        moment = _epoch_micros(stripped, rules)
    low, high = _window(as_of, rules)
    if moment is None or not low <= moment <= high:
        return None
    return moment


def parse_timestamp(
    value: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> datetime | None:
    """:func:`timestamp_us` as an aware UTC datetime."""
    moment = timestamp_us(value, as_of, rules)
    return None if moment is None else _EPOCH + timedelta(microseconds=moment)


def activity_status(
    last_login_at: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> str:
    """Active if the last login is at most ``rules.active_days`` before ``as_of``."""
    moment = timestamp_us(last_login_at, as_of, rules)
    if moment is None:
        return UNKNOWN
    if moment >= micros(as_of) - rules.active_days * MICROS_PER_DAY:
        return "active"
    return "inactive"


# --- counts and engagement_level ---------------------------------------------------------


def parse_count(value: Any) -> int | None:
    """A non-negative whole number below 2**63, or None.

    Accepted: an int, an int-valued float, or a string of digits or of an int-valued
    decimal ("7", " 7 ", "7.0", "1e3"). Not: bool, negatives, fractions, NaN, inf.
    """
    text = numeric_text(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    if DIGITS_RE.fullmatch(stripped):
        digits = stripped.lstrip("0") or "0"
        if len(digits) <= 19 and int(digits) < INT64_LIMIT:
            return int(digits)
        return None
    if DECIMAL_RE.fullmatch(stripped):
        number = float(stripped)
        if math.isfinite(number) and number.is_integer() and number < INT64_LIMIT:
            return int(number)
    return None


def engagement_level(
    sessions_30d: Any,
    orders_count: Any,
    activity: str,
    rules: BusinessRules = _DEFAULT_RULES,
) -> str:
    """High, medium or low from sessions and orders; "unknown" if neither is usable."""
    sessions = parse_count(sessions_30d)
    orders = parse_count(orders_count)
    if sessions is None and orders is None:
        return UNKNOWN
    sessions = sessions or 0
    orders = orders or 0
    if sessions >= rules.high_sessions or (
        orders >= rules.high_orders_if_active and activity == "active"
    ):
        return "high"
    if sessions >= rules.medium_sessions or orders >= rules.medium_orders:
        return "medium"
    return "low"


# --- acquisition_channel -----------------------------------------------------------------


def _source_tokens(value: Any) -> list[str]:
    text = text_value(value)
    return [] if text is None else _TOKENS.findall(text.lower())


def acquisition_channel(signup_source: Any) -> str:
    """The channel (mobile, email, website, unknown) from the tokens of ``signup_source``."""
    tokens = _source_tokens(signup_source)
    found = set(tokens)
    if found & _MOBILE_TOKENS:
        return "mobile"
    if found & _EMAIL_TOKENS or ("e", "mail") in pairwise(tokens):
        return "email"
    if found & _WEB_TOKENS:
        return "website"
    return UNKNOWN


def signup_source_is_valid(signup_source: Any) -> bool:
    """A source is valid when it is a string with at least one letter or digit."""
    return bool(_source_tokens(signup_source))


# --- market_segment ----------------------------------------------------------------------


def _country(value: Any) -> str | None:
    text = text_value(value)
    return None if text is None else geo.country_code(text)


def _state(value: Any) -> str | None:
    text = text_value(value)
    return None if text is None else geo.us_state_code(text)


def country_is_valid(country: Any) -> bool:
    """The country resolves to an ISO 3166-1 code."""
    return _country(country) is not None


def region_is_valid(country: Any, region: Any) -> bool:
    """The region is usable: always for non-US customers, a state or DC for US ones."""
    return _country(country) != "US" or _state(region) is not None


def market_segment(country: Any, region: Any) -> str:
    """The segment: US-West, US-East, EU, APAC, Other or unknown."""
    code = _country(country)
    if code is None:
        return UNKNOWN
    if code == "US":
        state = _state(region)
        if state is None:
            return UNKNOWN
        return "US-West" if state in geo.US_WEST_STATES else "US-East"
    return geo.segment_for_country(code)


# --- lifetime_value and customer_tier ----------------------------------------------------


def parse_money(value: Any) -> float | None:
    """A finite, non-negative amount from any money spelling, or None.

    Accepted: 1234.5, "1234.50", "1,234.50", "$1,234.50", "USD 1234.50", "1234.50 usd",
    "1e3". Not: negatives, a decimal comma ("1234,50"), other currencies, NaN, inf.
    """
    text = numeric_text(value)
    if text is None:
        return None
    stripped = text.strip(WHITESPACE)
    if MONEY_RE.fullmatch(stripped) is None:
        return None
    amount = float(stripped.strip(MONEY_SYMBOLS).replace(",", ""))
    return amount if math.isfinite(amount) else None


def plan_tier(plan: Any) -> str | None:
    """The tier named by ``plan`` (case and surrounding whitespace ignored), else None."""
    text = text_value(plan)
    return None if text is None else _PLAN_TIERS.get(text.strip().casefold())


def customer_tier(plan: Any, lifetime_value: Any, rules: BusinessRules = _DEFAULT_RULES) -> str:
    """The tier from ``plan``; failing that from ``lifetime_value``; failing both "unknown"."""
    tier = plan_tier(plan)
    if tier is not None:
        return tier
    amount = parse_money(lifetime_value)
    if amount is None:
        return UNKNOWN
    if amount >= rules.enterprise_ltv:
        return "enterprise"
    if amount >= rules.premium_ltv:
        return "premium"
    return "basic"


# --- data_quality_score ------------------------------------------------------------------


def invalid_fields(
    record: Mapping[str, Any], as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> tuple[str, ...]:
    """The scored fields of ``record`` that are missing or invalid, in a fixed order."""
    get = record.get
    checks = (
        ("email", email_key(get("email")) is not None),
        ("first_name", name_part(get("first_name")) is not None),
        ("last_name", name_part(get("last_name")) is not None),
        ("created_at", timestamp_us(get("created_at"), as_of, rules) is not None),
        ("last_login_at", timestamp_us(get("last_login_at"), as_of, rules) is not None),
        ("sessions_30d", parse_count(get("sessions_30d")) is not None),
        ("orders_count", parse_count(get("orders_count")) is not None),
        ("lifetime_value", parse_money(get("lifetime_value")) is not None),
        ("signup_source", signup_source_is_valid(get("signup_source"))),
        ("country", country_is_valid(get("country"))),
        ("region", region_is_valid(get("country"), get("region"))),
    )
    return tuple(name for name, valid in checks if not valid)


def quality_score(
    record: Mapping[str, Any], as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> int:
    """100 minus ``rules.quality_penalty`` per missing or invalid scored field; at least 0."""
    return max(0, 100 - rules.quality_penalty * len(invalid_fields(record, as_of, rules)))


def quality_band(score: int, rules: BusinessRules = _DEFAULT_RULES) -> str:
    """The band (high, medium, low) of a data quality score."""
    if score >= rules.high_quality_min:
        return "high"
    if score >= rules.medium_quality_min:
        return "medium"
    return "low"


# --- one record --------------------------------------------------------------------------


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


def check_record(raw: Any) -> int:
    """The customer id of a raw record, or :class:`InvalidRecord` carrying the whole record.

    Reasons: ``not_an_object`` (not a dict) and those of :func:`normalize_id`.
    """
    if not isinstance(raw, dict):
        raise InvalidRecord(f"not_an_object: {_describe(raw)}", raw)
    try:
        return normalize_id(raw.get("id"))
    except InvalidRecord as exc:
        raise InvalidRecord(exc.reason, raw) from None


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
