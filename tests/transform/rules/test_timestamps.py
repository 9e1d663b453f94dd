"""The timestamp rule: spellings, epochs and the validity window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.rules import BusinessRules
from customer_sync.transform._patterns import EPOCH, ISO_TIMESTAMP
from customer_sync.transform.rules.timestamps import (
    micros,
    parse_timestamp,
    timestamp_stages,
    timestamp_us,
)
from tests.transform.support import (
    AS_OF,
    HUGE,
    RULES,
    awkward,
    numeric_column,
    run_stages,
    utc,
)

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


timestamp_values = (
    awkward
    | st.from_regex(ISO_TIMESTAMP, fullmatch=True)
    | st.from_regex(EPOCH, fullmatch=True)
    | st.integers(min_value=0, max_value=10**14)
    | st.floats(min_value=0, max_value=1e14)
    | st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2025, 6, 5)).map(
        lambda moment: moment.replace(tzinfo=UTC).isoformat()
    )
)


@given(st.lists(timestamp_values, max_size=20))
def test_timestamp_columnar_form_equals_the_scalar_form(values: list[Any]) -> None:
    """timestamp_stages reads every raw value exactly as timestamp_us does."""
    stages = timestamp_stages("value", "out", AS_OF, RULES)
    expected = [timestamp_us(v, AS_OF, RULES) for v in values]
    assert run_stages(stages, numeric_column(values)) == expected
