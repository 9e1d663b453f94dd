"""The timestamp rule shared by ``created_at``, ``last_login_at`` and ``updated_at``
(docs/business_rules.md, rows "all timestamps" and "Timestamps").

Timestamps are integer microseconds since the Unix epoch (UTC). Scalar:
:func:`timestamp_us`. Columnar: :func:`timestamp_stages` over stripped text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Final

import polars as pl

from ...rules import BusinessRules
from .._patterns import EPOCH, EPOCH_RE, ISO_TIMESTAMP, ISO_TIMESTAMP_RE, WHITESPACE, anchored
from .values import Stages, numeric_text

__all__ = [
    "MICROS_PER_DAY",
    "micros",
    "parse_timestamp",
    "timestamp_stages",
    "timestamp_us",
    "valid_window",
]

MICROS_PER_DAY: Final = 86_400_000_000
#: A float microsecond count must lie strictly inside this bound before it becomes an int.
_FLOAT_MICROS_LIMIT: Final = 4e18
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_DEFAULT_RULES: Final = BusinessRules()


def micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch; a naive datetime is read as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def valid_window(as_of: datetime, rules: BusinessRules) -> tuple[int, int]:
    """The first and last valid instant (inclusive), in microseconds."""
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
    low, high = valid_window(as_of, rules)
    if moment is None or not low <= moment <= high:
        return None
    return moment


def parse_timestamp(
    value: Any, as_of: datetime, rules: BusinessRules = _DEFAULT_RULES
) -> datetime | None:
    """:func:`timestamp_us` as an aware UTC datetime."""
    moment = timestamp_us(value, as_of, rules)
    return None if moment is None else _EPOCH + timedelta(microseconds=moment)


def timestamp_stages(name: str, alias: str, as_of: datetime, rules: BusinessRules) -> Stages:
    """``alias``: :func:`timestamp_us` of stripped text column ``name``, as Int64 or null."""
    text = pl.col(name)
    low, high = valid_window(as_of, rules)

    def temp(unit: str) -> str:
        return f"_{unit}{alias}"

    field = pl.col(temp("iso")).struct.field
    h, m, s, oh, om = (pl.col(temp(unit)) for unit in ("h", "m", "s", "oh", "om"))
    valid_clock = (h <= 23) & (m <= 59) & (s <= 59) & (oh <= 23) & (om <= 59)
    iso = pl.when(valid_clock).then(
        pl.col(temp("days")) * MICROS_PER_DAY
        + ((h * 60 + m) * 60 + s) * 1_000_000
        + pl.col(temp("us"))
        - (oh * 60 + om) * 60_000_000 * pl.col(temp("sign"))
    )
    epoch = pl.col(temp("epoch"))
    scaled = (
        pl.when(epoch > float(rules.epoch_ms_threshold))
        .then(epoch * 1000.0)
        .otherwise(epoch * 1_000_000.0)
    )
    from_epoch = pl.when((scaled > -_FLOAT_MICROS_LIMIT) & (scaled < _FLOAT_MICROS_LIMIT)).then(
        scaled.cast(pl.Int64, strict=False)
    )
    moment = pl.col(temp("moment"))
    return [
        [
            text.str.extract_groups(anchored(ISO_TIMESTAMP)).alias(temp("iso")),
            pl.when(text.str.contains(anchored(EPOCH)))
            .then(text)
            .cast(pl.Float64, strict=False)
            .alias(temp("epoch")),
        ],
        [
            field("1").str.to_date("%Y-%m-%d", strict=False).cast(pl.Int64).alias(temp("days")),
            *(
                field(str(group)).cast(pl.Int64, strict=False).fill_null(0).alias(temp(unit))
                for group, unit in ((2, "h"), (3, "m"), (4, "s"), (8, "oh"), (9, "om"))
            ),
            field("5")
            .str.pad_end(6, "0")
            .str.slice(0, 6)
            .cast(pl.Int64, strict=False)
            .fill_null(0)
            .alias(temp("us")),
            pl.when(field("7") == "-").then(pl.lit(-1)).otherwise(pl.lit(1)).alias(temp("sign")),
        ],
        [pl.coalesce(iso, from_epoch).alias(temp("moment"))],
        [pl.when(moment.is_between(low, high)).then(moment).alias(alias)],
    ]
