"""The scalar business rules of issue #4, one table per output field."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.errors import ConfigError, InvalidRecord
from customer_sync.rules import BusinessRules
from customer_sync.transform import geo
from customer_sync.transform.normalizers import (
    acquisition_channel,
    activity_status,
    customer_tier,
    email_domain,
    email_key,
    engagement_level,
    full_name,
    invalid_fields,
    market_segment,
    micros,
    name_part,
    normalize_id,
    normalize_record,
    parse_count,
    parse_money,
    parse_timestamp,
    quality_band,
    quality_score,
    reason_code,
    signup_source_is_valid,
    timestamp_us,
)

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
RULES = BusinessRules()
HUGE = 10**5000  # more digits than str() will print
LONE_SURROGATE = json.loads('"a\\ud800b"')  # what the stdlib json module makes of "\ud800"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
#: Values no rule may raise on: arbitrary JSON plus the awkward ones named in issue #4.
awkward = json_values | st.sampled_from(
    [float("nan"), float("inf"), HUGE, -HUGE, "", "   ", [], {}, LONE_SURROGATE]
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- customer_id --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (17, 17),
        ("17", 17),
        (" 17\t", 17),
        ("0017", 17),
        (17.0, 17),
        ("17.00", 17),
        (2**63 - 1, 2**63 - 1),
        (str(2**63 - 1), 2**63 - 1),
    ],
)
def test_id_accepts_ints_and_int_valued_spellings(value: Any, expected: int) -> None:
    """An int, an int-valued float or an int-valued string is the customer id."""
    assert normalize_id(value) == expected


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (None, "missing_id"),
        ("", "missing_id"),
        ("  ", "missing_id"),
        ("abc", "invalid_id"),
        ("17a", "invalid_id"),
        ("+17", "invalid_id"),
        ("1_000", "invalid_id"),
        ("١٧", "invalid_id"),  # Arabic-Indic digits are not ASCII digits
        (17.5, "invalid_id"),
        ("17.5", "invalid_id"),
        (True, "invalid_id"),
        (False, "invalid_id"),
        (float("nan"), "invalid_id"),
        (float("inf"), "invalid_id"),
        (2**63, "invalid_id"),
        pytest.param(HUGE, "invalid_id", id="huge"),
        ([17], "invalid_id"),
        ({"id": 17}, "invalid_id"),
        (LONE_SURROGATE, "invalid_id"),
        (0, "non_positive_id"),
        ("0", "non_positive_id"),
        (0.0, "non_positive_id"),
        (-3, "non_positive_id"),
        ("-3", "non_positive_id"),
        (-2.5, "non_positive_id"),
        (-(10**30), "non_positive_id"),
    ],
)
def test_unusable_id_is_rejected_with_its_reason(value: Any, code: str) -> None:
    """A record without a usable id raises InvalidRecord with a stable reason code."""
    with pytest.raises(InvalidRecord) as caught:
        normalize_id(value)
    assert reason_code(caught.value.reason) == code


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("abc", "invalid_id: 'abc'"),
        (True, "invalid_id: True"),
        ([1], "invalid_id: <list>"),
        (-3, "non_positive_id: -3"),
        ("x" * 100, "invalid_id: '" + "x" * 38 + "…"),
        pytest.param(HUGE, "invalid_id: <int>", id="huge"),
    ],
)
def test_rejection_reason_detail_is_short_and_safe(value: Any, reason: str) -> None:
    """The reason detail is a repr cut to 40 characters, or the type name."""
    with pytest.raises(InvalidRecord) as caught:
        normalize_id(value)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("junk", "not_an_object: 'junk'"),
        ([{"id": 1}], "not_an_object: <list>"),
        (None, "not_an_object: <NoneType>"),
        (5, "not_an_object: 5"),
        ({}, "missing_id"),
        ({"id": None}, "missing_id"),
        ({"id": "x"}, "invalid_id: 'x'"),
    ],
)
def test_record_rejection_carries_the_raw_record(raw: Any, reason: str) -> None:
    """normalize_record rejects non-objects and id-less records, keeping the raw record."""
    with pytest.raises(InvalidRecord) as caught:
        normalize_record(raw, AS_OF)
    assert caught.value.reason == reason
    assert caught.value.record is raw


# --- full_name ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("alice", "smith", "Alice Smith"),
        ("ALICE", "SMITH", "Alice Smith"),
        ("  alice ", "\tsmith\n", "Alice Smith"),
        ("Alice", "McDonald", "Alice McDonald"),
        ("alice", "McDonald", "Alice McDonald"),
        ("mARY", "smith", "mARY Smith"),  # mixed case is kept as given
        ("mary   jane", "van  der berg", "Mary Jane Van Der Berg"),
        ("jean-luc", "o'neil", "Jean-Luc O'Neil"),
        ("JEAN-LUC", "O'NEIL", "Jean-Luc O'Neil"),
        ("José", "ÑÚÑEZ", "José Ñúñez"),
        ("李", "小龙", "李 小龙"),  # no case: kept
        ("alice", None, "Alice"),
        (None, "smith", "Smith"),
        ("alice", "", "Alice"),
        ("  ", "smith", "Smith"),
        (None, None, "unknown"),
        ("", "   ", "unknown"),
        ("123", "456", "unknown"),  # no letter: invalid
        ("--", "smith", "Smith"),
        ("al\x00ice", "smith", "Smith"),  # control character: invalid
        (42, "smith", "Smith"),  # not a string: invalid
        (["alice"], {"x": 1}, "unknown"),
        (LONE_SURROGATE, "smith", "Smith"),
    ],
)
def test_full_name(first: Any, last: Any, expected: str) -> None:
    """Parts are stripped, collapsed, title-cased when single-cased, and joined by one space."""
    assert full_name(first, last) == expected


@given(awkward, awkward)
def test_full_name_is_clean(first: Any, last: Any) -> None:
    """A full name never has outer or doubled spaces and is never empty."""
    name = full_name(first, last)
    assert name
    assert name == " ".join(name.split(" ")) == name.strip()
    assert "  " not in name


@given(awkward)
def test_name_part_is_idempotent(value: Any) -> None:
    """Cleaning a cleaned name part changes nothing."""
    part = name_part(value)
    assert part is None or name_part(part) == part


# --- email_domain -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "key", "domain"),
    [
        ("alice@example.com", "alice@example.com", "example.com"),
        ("  Alice@Example.COM \n", "alice@example.com", "example.com"),
        ("a.b+tag@mail.co.uk", "a.b+tag@mail.co.uk", "mail.co.uk"),
        ("o'neil@x-y.io", "o'neil@x-y.io", "x-y.io"),
        ("alice@example", None, "unknown"),  # one label
        ("alice@@example.com", None, "unknown"),
        ("alice@ex@ample.com", None, "unknown"),
        ("@example.com", None, "unknown"),
        ("alice@", None, "unknown"),
        ("ali ce@example.com", None, "unknown"),
        (".alice@example.com", None, "unknown"),
        ("al..ice@example.com", None, "unknown"),
        ("alice@-example.com", None, "unknown"),
        ("alice@example-.com", None, "unknown"),
        ("alice@example..com", None, "unknown"),
        ("alice@example.c", None, "unknown"),  # TLD of one letter
        ("alice@example.123", None, "unknown"),  # numeric TLD
        ("alïce@example.com", None, "unknown"),  # ASCII only
        ("a" * 250 + "@x.com", None, "unknown"),  # longer than 254
        ("", None, "unknown"),
        (None, None, "unknown"),
        (42, None, "unknown"),
        (["a@b.com"], None, "unknown"),
    ],
)
def test_email(value: Any, key: str | None, domain: str) -> None:
    """A syntactically valid email gives its lower-cased domain; anything else "unknown"."""
    assert email_key(value) == key
    assert email_domain(value) == domain


# --- timestamps and activity_status -------------------------------------------------------

LAST_VALID = AS_OF + timedelta(days=1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-05T06:07:08Z", utc(2024, 3, 5, 6, 7, 8)),
        ("2024-03-05t06:07:08z", utc(2024, 3, 5, 6, 7, 8)),
        ("2024-03-05T06:07:08.123456Z", utc(2024, 3, 5, 6, 7, 8, 123456)),
        ("2024-03-05T06:07:08.1234567891Z", None),  # more than 9 fraction digits
        ("2024-03-05T06:07:08.123456789Z", utc(2024, 3, 5, 6, 7, 8, 123456)),
        ("2024-03-05T06:07:08,5Z", utc(2024, 3, 5, 6, 7, 8, 500000)),
        ("2024-03-05T06:07:08+02:00", utc(2024, 3, 5, 4, 7, 8)),
        ("2024-03-05T06:07:08-0530", utc(2024, 3, 5, 11, 37, 8)),
        ("2024-03-05T06:07:08+02", utc(2024, 3, 5, 4, 7, 8)),
        ("2024-03-05T06:07:08", utc(2024, 3, 5, 6, 7, 8)),
        ("2024-03-05T06:07", utc(2024, 3, 5, 6, 7)),
        ("2024-03-05 06:07:08", utc(2024, 3, 5, 6, 7, 8)),
        ("  2024-03-05 06:07:08 ", utc(2024, 3, 5, 6, 7, 8)),
        ("2024-03-05", utc(2024, 3, 5)),
        ("2024-02-29", utc(2024, 2, 29)),
        (1709618828, utc(2024, 3, 5, 6, 7, 8)),
        ("1709618828", utc(2024, 3, 5, 6, 7, 8)),
        (1709618828.5, utc(2024, 3, 5, 6, 7, 8, 500000)),
        (1709618828123, utc(2024, 3, 5, 6, 7, 8, 123000)),
        ("1709618828123", utc(2024, 3, 5, 6, 7, 8, 123000)),
        # the window: 1990-01-01 is the first valid instant, as-of + 1 day the last
        ("1990-01-01T00:00:00Z", utc(1990, 1, 1)),
        ("1990-01-01T00:30:00+01:00", None),  # 1989-12-31T23:30Z
        ("1989-12-31T23:59:59Z", None),
        (631152000, utc(1990, 1, 1)),
        (631151999, None),
        (LAST_VALID.isoformat(), LAST_VALID),
        ("2025-06-02T12:00:00.000001Z", None),
        (micros(LAST_VALID) // 1000, LAST_VALID),
        (micros(LAST_VALID) // 1000 + 1, None),
        # invalid spellings and values
        ("2023-02-29", None),
        ("2024-13-01", None),
        ("2024-1-5", None),
        ("2024-03-05T24:00:00Z", None),
        ("2024-03-05T23:60:00Z", None),
        ("2024-03-05T23:59:60Z", None),  # no leap seconds
        ("2024-03-05T06:07:08+24:00", None),
        ("2024-03-05T06:07:08 +02:00", None),
        ("2024-03-05Z", None),
        ("05/03/2024", None),
        ("yesterday", None),
        ("", None),
        ("-1709618828", None),
        ("1.7e9", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        (1e300, None),
        pytest.param(HUGE, None, id="huge"),
        ([1709618828], None),
    ],
)
def test_timestamp_spellings_and_window(value: Any, expected: datetime | None) -> None:
    """Every timestamp spelling parses to UTC; outside [1990, as-of + 1 day] is invalid."""
    assert parse_timestamp(value, AS_OF) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10**11, utc(5138, 11, 16, 9, 46, 40)),  # at the threshold: seconds
        (10**11 + 1, utc(1973, 3, 3, 9, 46, 40, 1000)),  # above: milliseconds
    ],
)
def test_epochs_above_the_threshold_are_milliseconds(value: int, expected: datetime) -> None:
    """Numeric epochs above rules.epoch_ms_threshold are read as milliseconds."""
    wide = BusinessRules(min_valid_year=1970)
    assert parse_timestamp(value, utc(6000, 1, 1), wide) == expected


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2025, 6, 2, 12)))
def test_iso_and_epoch_spellings_agree(moment: datetime) -> None:
    """An instant spelled as ISO with Z, with an offset, or as epoch seconds/ms is the same."""
    aware = moment.replace(tzinfo=UTC)
    expected = micros(aware)
    iso = aware.isoformat().replace("+00:00", "Z")
    assert timestamp_us(iso, AS_OF) == expected
    shifted = aware.astimezone(timezone(timedelta(hours=-7)))
    assert timestamp_us(shifted.isoformat(), AS_OF) == expected
    assert timestamp_us(expected // 1_000_000, AS_OF) == expected // 1_000_000 * 1_000_000
    assert timestamp_us(str(expected // 1000), AS_OF) == expected // 1000 * 1000


@pytest.mark.parametrize(
    ("last_login_at", "expected"),
    [
        (AS_OF.isoformat(), "active"),
        ((AS_OF - timedelta(days=30)).isoformat(), "active"),  # exactly 30 days: inclusive
        ((AS_OF - timedelta(days=30, microseconds=1)).isoformat(), "inactive"),
        ("2025-05-02T12:00:00Z", "active"),
        ("2025-05-02", "inactive"),  # a date is midnight UTC: 30.5 days before as-of
        ("2025-05-03", "active"),
        ((AS_OF + timedelta(hours=23)).isoformat(), "active"),  # slightly in the future
        ((AS_OF + timedelta(days=1)).isoformat(), "active"),
        ((AS_OF + timedelta(days=1, seconds=1)).isoformat(), "unknown"),
        ("1989-12-31", "unknown"),
        ("2010-01-01", "inactive"),
        ("garbage", "unknown"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_activity_status(last_login_at: Any, expected: str) -> None:
    """Active when the last login is at most 30 days before as-of; invalid is "unknown"."""
    assert activity_status(last_login_at, AS_OF) == expected


def test_activity_window_follows_the_rules() -> None:
    """rules.active_days moves the boundary."""
    login = (AS_OF - timedelta(days=8)).isoformat()
    assert activity_status(login, AS_OF, BusinessRules(active_days=7)) == "inactive"
    assert activity_status(login, AS_OF, BusinessRules(active_days=8)) == "active"


# --- counts and engagement_level ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, 0),
        (7, 7),
        ("7", 7),
        (" 7 ", 7),
        ("007", 7),
        (7.0, 7),
        ("7.0", 7),
        ("1e3", 1000),
        (2**63 - 1, 2**63 - 1),
        (2**63, None),
        ("9" * 30, None),
        (-1, None),
        ("-1", None),
        (-0.0, None),  # reads as "-0.0": a sign is never a count
        (7.5, None),
        ("7.5", None),
        ("seven", None),
        ("", None),
        (True, None),
        (None, None),
        (float("nan"), None),
        (float("inf"), None),
        ([7], None),
        pytest.param(HUGE, None, id="huge"),
    ],
)
def test_parse_count(value: Any, expected: int | None) -> None:
    """Counts are non-negative whole numbers, as ints, int-valued floats or numeric strings."""
    assert parse_count(value) == expected


@pytest.mark.parametrize(
    ("sessions", "orders", "activity", "expected"),
    [
        (10, 0, "inactive", "high"),  # s = 10
        ("10", None, "unknown", "high"),
        (9, 0, "active", "medium"),
        (0, 5, "active", "high"),  # o = 5 and active
        (0, 5, "inactive", "medium"),
        (0, 5, "unknown", "medium"),
        (0, 4, "active", "medium"),
        (3, 0, "inactive", "medium"),  # s = 3
        (2, 0, "inactive", "low"),
        (0, 1, "inactive", "medium"),  # o = 1
        (0, 0, "active", "low"),
        (None, None, "active", "unknown"),
        ("many", -1, "active", "unknown"),  # both invalid
        (None, 0, "active", "low"),  # one missing counts as 0
        (12, "n/a", "inactive", "high"),
        ("n/a", 6, "active", "high"),
    ],
)
def test_engagement_level(sessions: Any, orders: Any, activity: str, expected: str) -> None:
    """High from s >= 10 or (o >= 5 and active); medium from s >= 3 or o >= 1; else low."""
    assert engagement_level(sessions, orders, activity) == expected


# --- acquisition_channel ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("iOS App", "mobile"),
        ("android_app", "mobile"),
        ("Mobile", "mobile"),
        ("iPhone", "mobile"),
        ("ipad-store", "mobile"),
        ("APP", "mobile"),
        ("mobile web", "mobile"),  # mobile wins over website
        ("email newsletter app", "mobile"),
        ("Newsletter", "email"),
        ("e-mail", "email"),
        ("E Mail", "email"),
        ("email", "email"),
        ("mail", "email"),
        ("web newsletter", "email"),  # email wins over website
        ("web", "website"),
        ("Website", "website"),
        ("WWW", "website"),
        ("desktop", "website"),
        ("organic", "website"),
        ("SEO", "website"),
        ("direct", "website"),
        ("web.site", "website"),
        ("webapp", "unknown"),  # whole tokens only
        ("emailer", "unknown"),
        ("referral", "unknown"),
        ("", "unknown"),
        ("???", "unknown"),
        (None, "unknown"),
        (42, "unknown"),
        (["web"], "unknown"),
    ],
)
def test_acquisition_channel(source: Any, expected: str) -> None:
    """Tokens of the lower-cased source pick mobile, then email, then website."""
    assert acquisition_channel(source) == expected


@pytest.mark.parametrize(
    ("source", "valid"),
    [
        ("web", True),
        ("referral", True),
        ("x1", True),
        ("???", False),
        ("", False),
        (None, False),
        (7, False),
    ],
)
def test_signup_source_validity(source: Any, valid: bool) -> None:
    """A source is valid when it is a string with a letter or digit, known channel or not."""
    assert signup_source_is_valid(source) is valid


# --- market_segment -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("country", "region", "expected"),
    [
        ("US", "CA", "US-West"),
        ("usa", "California", "US-West"),
        ("United States", "wa", "US-West"),
        ("U.S.", "Alaska", "US-West"),
        ("United States of America", "HI", "US-West"),
        ("U.S.A.", "new mexico", "US-West"),
        ("America", "WY", "US-West"),
        ("US", "ny", "US-East"),
        ("us", "New York", "US-East"),
        ("USA", "TX", "US-East"),
        ("US", "DC", "US-East"),
        ("US", "District of Columbia", "US-East"),
        ("US", "Washington, D.C.", "US-East"),
        ("US", "US-CA", "US-West"),
        ("US", None, "unknown"),
        ("US", "", "unknown"),
        ("US", "ZZ", "unknown"),
        ("US", "PR", "unknown"),  # a territory is not a state
        ("US", 6, "unknown"),
        ("DEU", None, "EU"),
        ("Germany", "Bavaria", "EU"),
        ("fr", None, "EU"),
        ("UK", None, "EU"),
        ("Great Britain", None, "EU"),
        ("GB", None, "EU"),
        ("Norway", None, "EU"),
        ("CH", None, "EU"),
        ("Iceland", None, "EU"),
        ("LI", None, "EU"),
        ("Japan", None, "APAC"),
        ("South Korea", None, "APAC"),
        ("Korea, Republic of", None, "APAC"),
        ("India", None, "APAC"),
        ("VNM", None, "APAC"),
        ("Viet Nam", None, "APAC"),
        ("Australia", None, "APAC"),
        ("nz", None, "APAC"),
        ("Fiji", None, "APAC"),
        ("Taiwan", None, "APAC"),
        ("Canada", "CA", "Other"),
        ("Brazil", None, "Other"),
        ("Russia", None, "Other"),  # Eastern Europe, not EU
        ("Türkiye", None, "Other"),
        ("Turkey", None, "Other"),
        ("China", None, "APAC"),
        ("Kazakhstan", None, "Other"),  # Central Asia is not in the APAC sub-regions
        ("Narnia", "CA", "unknown"),
        ("", None, "unknown"),
        (None, "CA", "unknown"),
        (840, None, "unknown"),
        (["US"], "CA", "unknown"),
    ],
)
def test_market_segment(country: Any, region: Any, expected: str) -> None:
    """Country resolves to ISO alpha-2; US splits by Census West; EU+, APAC, Other, unknown."""
    assert market_segment(country, region) == expected


def test_segment_tables_hold_real_iso_codes() -> None:
    """Every code of the EU and APAC tables and the West states is a real ISO code."""
    for code in geo.EUROPE_COUNTRIES | geo.APAC_COUNTRIES:
        assert pycountry.countries.get(alpha_2=code) is not None, code
    assert len(geo.EUROPE_COUNTRIES) == 32
    for state in geo.US_WEST_STATES:
        assert geo.us_state_code(state) == state


def test_every_iso_country_resolves_by_code_and_name() -> None:
    """Each ISO 3166-1 country resolves from its alpha-2, alpha-3 and name in any case."""
    for country in pycountry.countries:
        for spelling in (country.alpha_2, country.alpha_3.lower(), country.name.upper()):
            assert geo.country_code(spelling) == country.alpha_2, spelling


# --- lifetime_value and customer_tier -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.5, 1234.5),
        (0, 0.0),
        ("0", 0.0),
        ("1234.50", 1234.5),
        ("1,234.50", 1234.5),
        ("$1,234.50", 1234.5),
        ("$ 1,234.50", 1234.5),
        ("USD 1234.50", 1234.5),
        ("usd1234.50", 1234.5),
        ("1234.50 USD", 1234.5),
        (" $12,345,678 ", 12345678.0),
        ("1e3", 1000.0),
        (1e300, 1e300),
        (-5, None),
        ("-5", None),
        ("$-5", None),
        ("1234,50", None),  # decimal comma
        ("1,23", None),
        ("12,34.5", None),
        ("EUR 100", None),
        ("€100", None),
        ("n/a", None),
        ("", None),
        (None, None),
        (True, None),
        (float("nan"), None),
        (float("inf"), None),
        ("1e999", None),
        ([100], None),
    ],
)
def test_parse_money(value: Any, expected: float | None) -> None:
    """Every money spelling gives its amount; negative, foreign or garbage gives None."""
    assert parse_money(value) == expected


@pytest.mark.parametrize(
    ("plan", "ltv", "expected"),
    [
        ("Enterprise", None, "enterprise"),
        ("ENTERPRISE", 0, "enterprise"),
        ("premium", None, "premium"),
        ("PRO", None, "premium"),
        ("plus", None, "premium"),
        (" Pro ", None, "premium"),
        ("free", 50_000, "basic"),  # the plan wins over lifetime_value
        ("starter", None, "basic"),
        ("basic", None, "basic"),
        ("gold", 10_000, "enterprise"),  # unrecognized plan: lifetime_value decides
        (None, 10_000, "enterprise"),
        (None, "$10,000.00", "enterprise"),
        (None, 9_999.99, "premium"),
        (None, 1_000, "premium"),
        (None, "USD 1000", "premium"),
        (None, 999.99, "basic"),
        (None, 0, "basic"),
        (None, None, "unknown"),
        ("gold", "n/a", "unknown"),
        (42, -5, "unknown"),
        ("", "", "unknown"),
    ],
)
def test_customer_tier(plan: Any, ltv: Any, expected: str) -> None:
    """Plan first (case-insensitive), else lifetime_value at 10,000 and 1,000, else unknown."""
    assert customer_tier(plan, ltv) == expected


def test_tier_thresholds_follow_the_rules() -> None:
    """rules.enterprise_ltv and rules.premium_ltv move the tier boundaries."""
    rules = BusinessRules(premium_ltv=50, enterprise_ltv=100)
    assert [customer_tier(None, v, rules) for v in (49.99, 50, 99.99, 100)] == [
        "basic",
        "premium",
        "premium",
        "enterprise",
    ]


# --- data_quality_score -------------------------------------------------------------------

CLEAN = {
    "id": 1,
    "email": "a@b.com",
    "first_name": "Ann",
    "last_name": "Lee",
    "created_at": "2024-01-01",
    "last_login_at": "2025-05-30T10:00:00Z",
    "sessions_30d": 3,
    "orders_count": 1,
    "lifetime_value": 10.0,
    "signup_source": "web",
    "country": "US",
    "region": "CA",
}
COSMETIC = {
    "id": " 1 ",
    "email": "  A@B.COM ",
    "first_name": "  ann ",
    "last_name": "LEE",
    "created_at": 1704067200,
    "last_login_at": "1748599200000",
    "sessions_30d": "3",
    "orders_count": 1.0,
    "lifetime_value": "$10.00",
    "signup_source": "Website",
    "country": "usa",
    "region": "california",
}


def test_clean_record_scores_100() -> None:
    """A record with every scored field valid scores 100."""
    assert invalid_fields(CLEAN, AS_OF) == ()
    assert quality_score(CLEAN, AS_OF) == 100


def test_cosmetic_repairs_cost_nothing() -> None:
    """Case, whitespace, numbers sent as strings and currency signs are still valid."""
    assert invalid_fields(COSMETIC, AS_OF) == ()
    assert quality_score(COSMETIC, AS_OF) == 100


@pytest.mark.parametrize(
    ("field", "bad"),
    [
        ("email", "not-an-email"),
        ("first_name", None),
        ("last_name", "  "),
        ("created_at", "2099-01-01"),
        ("last_login_at", "garbage"),
        ("sessions_30d", -1),
        ("orders_count", 2.5),
        ("lifetime_value", "-3"),
        ("signup_source", "!!"),
        ("country", "Narnia"),
        ("region", "ZZ"),
    ],
)
def test_each_missing_or_invalid_field_costs_ten(field: str, bad: Any) -> None:
    """Each scored field that is invalid, or missing, costs quality_penalty points."""
    invalid = {**CLEAN, field: bad}
    missing = {key: value for key, value in CLEAN.items() if key != field}
    assert invalid_fields(invalid, AS_OF) == (field,)
    assert quality_score(invalid, AS_OF) == 90
    assert quality_score(missing, AS_OF) == 90


def test_region_is_scored_for_us_customers_only() -> None:
    """A missing region costs points for a US customer only."""
    assert quality_score({**CLEAN, "region": None}, AS_OF) == 90
    assert quality_score({**CLEAN, "country": "DE", "region": None}, AS_OF) == 100
    assert invalid_fields({**CLEAN, "country": None, "region": None}, AS_OF) == ("country",)


def test_score_has_a_floor_of_zero() -> None:
    """Eleven invalid fields would cost 110 points; the score stops at 0."""
    assert quality_score({"id": 1, "country": "US"}, AS_OF) == 0
    assert quality_score({"id": 1}, AS_OF) == 0
    assert quality_score({"id": 1}, AS_OF, BusinessRules(quality_penalty=5)) == 50


@pytest.mark.parametrize(
    ("score", "band"),
    [(100, "high"), (90, "high"), (89, "medium"), (70, "medium"), (69, "low"), (0, "low")],
)
def test_quality_band(score: int, band: str) -> None:
    """Bands: high >= 90, medium 70-89, low < 70."""
    assert quality_band(score) == band


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
