"""The columnar path: the rules of :mod:`.normalizers`, a million records at a time.

Two steps, so that the streaming form can drop raw dicts early:

1. :class:`Extractor` turns raw dicts into small frames of text columns, one per input
   field. Text fields (names, email, signup_source, country, region, plan) keep strings
   and turn anything else into null. Numeric fields (counts, money, timestamps) hold
   the value as text (``str(value)``, or Polars' equivalent rendering), so ``17`` and
   ``"17"`` read the same and ``True`` or ``[1]`` read as no number. The id is decided
   at once, by :func:`.normalizers.normalize_id`, so that a rejected record can still be
   kept raw. This is the only per-record Python work, and it is mostly C loops
   (``itemgetter``, ``zip``, Polars' own conversion).
2. :class:`Deriver` computes every output field with Polars expressions built from the
   grammars in :mod:`._patterns`. Low-cardinality fields are computed by calling the
   scalar reference function once per distinct value (memoized across batches) and
   mapping the column with ``replace_strict``.

The property tests check that this path and :func:`.normalizers.normalize_record` agree
on arbitrary records.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import zip_longest
from operator import itemgetter
from threading import Lock
from typing import Any, Final

import polars as pl

from ..errors import InvalidRecord
from ..rules import BusinessRules
from . import geo
from ._patterns import (
    DECIMAL,
    DIGITS,
    EMAIL,
    EMAIL_MAX_LENGTH,
    EPOCH,
    INT64_LIMIT,
    ISO_TIMESTAMP,
    MONEY,
    MONEY_SYMBOLS,
    WHITESPACE,
    anchored,
)
from .normalizers import (
    ACQUISITION_CHANNELS,
    ACTIVITY_STATUSES,
    CUSTOMER_TIERS,
    ENGAGEMENT_LEVELS,
    MARKET_SEGMENTS,
    MICROS_PER_DAY,
    UNKNOWN,
    acquisition_channel,
    micros,
    name_part,
    normalize_id,
    numeric_text,
    plan_tier,
    signup_source_is_valid,
    text_value,
)

__all__ = ["CHUNK", "DERIVED_SCHEMA", "FIELDS", "Deriver", "Extractor"]

#: The raw fields read, in the order of the extracted frame.
FIELDS: Final = (
    "id",
    "first_name",
    "last_name",
    "email",
    "created_at",
    "last_login_at",
    "updated_at",
    "sessions_30d",
    "orders_count",
    "lifetime_value",
    "signup_source",
    "country",
    "region",
    "plan",
)
_TEXT_FIELDS: Final = frozenset(
    {"first_name", "last_name", "email", "signup_source", "country", "region", "plan"}
)
_TIMESTAMPS: Final = ("created_at", "last_login_at", "updated_at")
_STRIPPED: Final = (*_TIMESTAMPS, "email", "sessions_30d", "orders_count", "lifetime_value")
#: Records per extraction slice and rows per extracted frame: small enough to stay in cache.
CHUNK: Final = 1024
_GET_ALL: Final = itemgetter(*FIELDS)
_STR_OR_NONE: Final = frozenset({str, type(None)})
_SMALL: Final = 256  # a column this short is mapped value by value

#: Columns of a derived frame: one row per accepted record.
DERIVED_SCHEMA: Final[dict[str, pl.DataType]] = {
    "position": pl.Int64(),
    "customer_id": pl.Int64(),
    "full_name": pl.String(),
    "email_domain": pl.String(),
    "engagement_level": pl.Enum(ENGAGEMENT_LEVELS),
    "activity_status": pl.Enum(ACTIVITY_STATUSES),
    "acquisition_channel": pl.Enum(ACQUISITION_CHANNELS),
    "market_segment": pl.Enum(MARKET_SEGMENTS),
    "customer_tier": pl.Enum(CUSTOMER_TIERS),
    "data_quality_score": pl.Int16(),
    "email_key": pl.String(),
    "updated_at_us": pl.Int64(),
}


# --- step 1: raw dicts -> text columns ----------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many short-lived, acyclic tuples.

    Extraction allocates a tuple per record; with millions of live dicts each full
    collection would walk them all. Reference counting still frees everything at once.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _text_series(name: str, values: Sequence[Any]) -> pl.Series:
    if not set(map(type, values)) <= _STR_OR_NONE:  # never hand Polars a non-string
        values = [value if isinstance(value, str) else None for value in values]
    try:
        return pl.Series(name, values, dtype=pl.String, strict=True)
    except ValueError:  # a string with a lone surrogate cannot be UTF-8
        return pl.Series(name, [text_value(value) for value in values], dtype=pl.String)


def _numeric_series(name: str, values: Sequence[Any]) -> pl.Series:
    # Polars writes ints as Python does, floats as a shortest round-trip decimal that the
    # grammars read back to the same number ("1.5e-7" where Python says "1.5e-07"), and
    # true/false, null, lists and objects as text that no grammar accepts.
    try:
        return pl.Series(name, values, dtype=pl.String, strict=False)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        pass  # an int beyond 128 bits, a lone surrogate, a mixed nested value
    try:
        return pl.Series(name, list(map(str, values)), dtype=pl.String, strict=True)
    except (ValueError, RecursionError):  # an int too long to print, a lone surrogate
        return pl.Series(name, [numeric_text(v) for v in values], dtype=pl.String)


def _customer_id(value: Any) -> int | None:
    """:func:`normalize_id` as int-or-None, with a fast path for plain digit strings."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 18:
        number = int(value)
        if number:
            return number
    try:
        return normalize_id(value)
    except InvalidRecord:
        return None


class Extractor:
    """Turns dict records into frames of text columns, ``CHUNK`` rows at a time.

    Values are pulled out a slice at a time while the slice is in CPU cache (a tuple per
    record via ``itemgetter``, transposed by ``zip``) and buffered per column; every
    ``CHUNK`` rows the buffers become one small frame (``position``, ``customer_id`` and
    the text columns of :data:`FIELDS` but ``id``). The records themselves are not kept,
    so small batches (an API page) cost little and memory stays flat.
    """

    def __init__(self) -> None:
        self._positions: list[int] = []
        self._ids: list[int | None] = []
        self._columns: list[list[Any]] = [[] for _ in FIELDS[1:]]
        self._frames: list[pl.DataFrame] = []

    @property
    def buffered_rows(self) -> int:
        """Rows extracted but not yet returned by :meth:`take_frames`."""
        return len(self._ids) + sum(frame.height for frame in self._frames)

    def add(
        self,
        records: Sequence[dict[str, Any]],
        positions: Sequence[int],
        *,
        exact: bool | None = None,
    ) -> list[int]:
        """Extract ``records`` (dicts) at ``positions``; the indexes of those without an id.

        ``exact`` says whether every record is a plain ``dict`` (found out if not given).
        """
        if exact is None:
            exact = set(map(type, records)) == {dict}
        no_id: list[int] = []
        with _gc_paused():
            for start in range(0, len(records), CHUNK):
                chunk = records[start : start + CHUNK]
                rows = _rows(chunk) if exact else _rows_of_subclasses(chunk)
                if not rows:
                    continue
                columns = zip(*rows, strict=True)
                ids = [
                    value if type(value) is int and 0 < value < INT64_LIMIT else _customer_id(value)
                    for value in next(columns)
                ]
                if None in ids:
                    no_id.extend(start + index for index, cid in enumerate(ids) if cid is None)
                self._ids.extend(ids)
                self._positions.extend(positions[start : start + CHUNK])
                for buffer, column in zip(self._columns, columns, strict=True):
                    buffer.extend(column)
                if len(self._ids) >= CHUNK:
                    self._build()
        return no_id

    def take_frames(self) -> list[pl.DataFrame]:
        """Every frame built so far, including a last partial one; the buffers restart."""
        if self._ids:
            self._build()
        frames, self._frames = self._frames, []
        return frames

    def _build(self) -> None:
        series = [
            pl.Series("position", self._positions, dtype=pl.Int64),
            pl.Series("customer_id", self._ids, dtype=pl.Int64),
        ]
        for name, values in zip(FIELDS[1:], self._columns, strict=True):
            build = _text_series if name in _TEXT_FIELDS else _numeric_series
            series.append(build(name, values))
        self._frames.append(pl.DataFrame(series))
        self._positions, self._ids = [], []
        self._columns = [[] for _ in FIELDS[1:]]


def _rows(chunk: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    try:
        return list(map(_GET_ALL, chunk))
    except KeyError:  # some record lacks a field
        return [tuple(map(record.get, FIELDS)) for record in chunk]


def _rows_of_subclasses(chunk: Sequence[dict[str, Any]]) -> list[tuple[Any, ...]]:
    # dict.get of the base class: a subclass's __missing__ or get hooks are never called
    return [tuple(dict.get(record, name) for name in FIELDS) for record in chunk]


# --- step 2: text columns -> derived columns ---------------------------------------------


class _Memo:
    """A scalar function applied once per distinct value, remembered across batches.

    Thread-safe: runs of one processor may derive in different threads at once.
    """

    def __init__(self, func: Callable[[str], Any], dtype: pl.DataType, limit: int = 250_000):
        self._func = func
        self._dtype = dtype
        self._limit = limit
        self._cache: dict[str, Any] = {}
        self._lock = Lock()

    def apply(self, column: pl.Series) -> pl.Series:
        with self._lock:
            if column.len() <= _SMALL:  # a few values: cheaper in Python than a Polars join
                values = [None if key is None else self._value(key) for key in column.to_list()]
                return pl.Series(column.name, values, dtype=self._dtype)
            keys: list[str] = column.drop_nulls().unique().to_list()
            if len(self._cache) + len(keys) > self._limit:
                self._cache.clear()  # bounded memory on adversarial, high-cardinality input
            values = [self._value(key) for key in keys]
        return column.replace_strict(keys, values, default=None, return_dtype=self._dtype)

    def _value(self, key: str) -> Any:
        cache = self._cache
        if key in cache:
            return cache[key]
        value = cache[key] = self._func(key)
        return value


def _source_code(text: str) -> str:
    """The channel of a signup source, or "invalid" for a source with no letter or digit."""
    return acquisition_channel(text) if signup_source_is_valid(text) else "invalid"


# Each rule below is a list of stages: each stage is the expressions of one ``with_columns``
# over a lazy frame whose text columns are already stripped. Intermediate results are
# materialized as temporary "_" columns, because Polars does not reuse a sub-expression
# (such as a regex match) that several expressions share. The stages of all rules are
# built once per :class:`Deriver` and run side by side.

_Stages = list[list[pl.Expr]]


def _count_stages(name: str, alias: str) -> _Stages:
    """``alias``: a non-negative Int64 count from text ``name`` (see ``parse_count``)."""
    text = pl.col(name)
    digits, number = pl.col(f"_digits{alias}"), pl.col(f"_number{alias}")
    from_digits = (
        pl.when(digits == "")
        .then(pl.lit(0, dtype=pl.Int64))
        .when(digits.str.len_bytes() <= 19)
        .then(digits.cast(pl.Int64, strict=False))
    )
    from_decimal = pl.when(
        number.is_finite() & (number == number.floor()) & (number < float(INT64_LIMIT))
    ).then(number.cast(pl.Int64, strict=False))
    return [
        [
            pl.when(text.str.contains(anchored(DIGITS)))
            .then(text.str.strip_chars_start("0"))
            .alias(f"_digits{alias}"),
            pl.when(text.str.contains(anchored(DECIMAL)))
            .then(text)
            .cast(pl.Float64, strict=False)
            .alias(f"_number{alias}"),
        ],
        [pl.when(digits.is_not_null()).then(from_digits).otherwise(from_decimal).alias(alias)],
    ]


def _money_stages(name: str, alias: str) -> _Stages:
    """``alias``: a finite, non-negative Float64 amount (see ``parse_money``)."""
    text = pl.col(name)
    amount = pl.col(f"_amount{alias}")
    return [
        [
            pl.when(text.str.contains(anchored(MONEY)))
            .then(text.str.strip_chars(MONEY_SYMBOLS).str.replace_all(",", "", literal=True))
            .cast(pl.Float64, strict=False)
            .alias(f"_amount{alias}")
        ],
        [pl.when(amount.is_finite()).then(amount).alias(alias)],
    ]


def _timestamp_stages(name: str, alias: str, rules: BusinessRules, window: range) -> _Stages:
    """``alias``: Int64 microseconds since the epoch (see ``timestamp_us``), or null."""
    text = pl.col(name)

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
    from_epoch = pl.when((scaled > -4e18) & (scaled < 4e18)).then(
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
        [pl.when(moment.is_between(window.start, window.stop - 1)).then(moment).alias(alias)],
    ]


def _side_by_side(*rules: _Stages) -> _Stages:
    """Stage k of every rule, run in one ``with_columns``."""
    return [
        [expr for stage in stages for expr in stage] for stages in zip_longest(*rules, fillvalue=[])
    ]


def _outputs(rules: BusinessRules, as_of_us: int) -> list[pl.Expr]:
    """The derived columns, from the parsed and mapped temporary columns."""
    active_since = as_of_us - rules.active_days * MICROS_PER_DAY
    first, last = pl.col("_first"), pl.col("_last")
    country, state = pl.col("_country"), pl.col("_state")
    login, sessions, orders, ltv = (pl.col(n) for n in ("_login", "_sessions", "_orders", "_ltv"))
    is_us = (country == "US").fill_null(value=False)
    activity = (
        pl.when(login.is_null())
        .then(pl.lit(UNKNOWN))
        .when(login >= active_since)
        .then(pl.lit("active"))
        .otherwise(pl.lit("inactive"))
    )
    some_sessions, some_orders = sessions.fill_null(0), orders.fill_null(0)
    engagement = (
        pl.when(sessions.is_null() & orders.is_null())
        .then(pl.lit(UNKNOWN))
        .when(
            (some_sessions >= rules.high_sessions)
            | ((some_orders >= rules.high_orders_if_active) & (activity == "active"))
        )
        .then(pl.lit("high"))
        .when((some_sessions >= rules.medium_sessions) | (some_orders >= rules.medium_orders))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    segment = (
        pl.when(country.is_null())
        .then(pl.lit(UNKNOWN))
        .when(is_us & state.is_null())
        .then(pl.lit(UNKNOWN))
        .when(is_us & state.is_in(sorted(geo.US_WEST_STATES)))
        .then(pl.lit("US-West"))
        .when(is_us)
        .then(pl.lit("US-East"))
        .when(country.is_in(sorted(geo.EUROPE_COUNTRIES)))
        .then(pl.lit("EU"))
        .when(country.is_in(sorted(geo.APAC_COUNTRIES)))
        .then(pl.lit("APAC"))
        .otherwise(pl.lit("Other"))
    )
    tier = (
        pl.when(pl.col("_plan").is_not_null())
        .then(pl.col("_plan"))
        .when(ltv.is_null())
        .then(pl.lit(UNKNOWN))
        .when(ltv >= rules.enterprise_ltv)
        .then(pl.lit("enterprise"))
        .when(ltv >= rules.premium_ltv)
        .then(pl.lit("premium"))
        .otherwise(pl.lit("basic"))
    )
    invalid = [
        pl.col("email_key").is_null(),
        first.is_null(),
        last.is_null(),
        pl.col("_created").is_null(),
        login.is_null(),
        sessions.is_null(),
        orders.is_null(),
        ltv.is_null(),
        pl.col("_source") == "invalid",
        country.is_null(),
        is_us & state.is_null(),
    ]
    penalties = pl.sum_horizontal([flag.cast(pl.Int32) for flag in invalid])
    score = (100 - penalties * rules.quality_penalty).clip(lower_bound=0)
    channel = (
        pl.when(pl.col("_source") == "invalid").then(pl.lit(UNKNOWN)).otherwise(pl.col("_source"))
    )
    full_name = (
        pl.when(first.is_null() & last.is_null())
        .then(pl.lit(UNKNOWN))
        .otherwise(pl.concat_str([first, last], separator=" ", ignore_nulls=True))
    )
    domain = pl.col("email_key").str.splitn("@", 2).struct.field("field_1").fill_null(UNKNOWN)
    schema = DERIVED_SCHEMA
    return [
        pl.col("position").cast(schema["position"]),
        pl.col("customer_id").cast(schema["customer_id"]),
        full_name.alias("full_name"),
        domain.alias("email_domain"),
        engagement.cast(schema["engagement_level"]).alias("engagement_level"),
        activity.cast(schema["activity_status"]).alias("activity_status"),
        channel.cast(schema["acquisition_channel"]).alias("acquisition_channel"),
        segment.cast(schema["market_segment"]).alias("market_segment"),
        tier.cast(schema["customer_tier"]).alias("customer_tier"),
        score.cast(schema["data_quality_score"]).alias("data_quality_score"),
        pl.col("email_key"),
        pl.col("updated_at_us"),
    ]


class Deriver:
    """Computes the derived frame (:data:`DERIVED_SCHEMA`) of extracted text columns.

    The expressions are built once; the memo caches of the low-cardinality fields live as
    long as the deriver.
    """

    def __init__(self, rules: BusinessRules, as_of: datetime) -> None:
        self.rules = rules
        self.as_of = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        as_of_us = micros(self.as_of)
        low = micros(datetime(rules.min_valid_year, 1, 1, tzinfo=UTC))
        high = as_of_us + rules.future_tolerance_days * MICROS_PER_DAY
        window = range(low, high + 1)
        email = pl.col("email")
        valid_email = (email.str.len_bytes() <= EMAIL_MAX_LENGTH) & email.str.contains(
            anchored(EMAIL)
        )
        self._stages = [
            [pl.col(_STRIPPED).str.strip_chars(WHITESPACE)],
            *_side_by_side(
                [[pl.when(valid_email).then(email.str.to_lowercase()).alias("email_key")]],
                _timestamp_stages("created_at", "_created", rules, window),
                _timestamp_stages("last_login_at", "_login", rules, window),
                _timestamp_stages("updated_at", "updated_at_us", rules, window),
                _count_stages("sessions_30d", "_sessions"),
                _count_stages("orders_count", "_orders"),
                _money_stages("lifetime_value", "_ltv"),
            ),
        ]
        self._outputs = _outputs(rules, as_of_us)
        self._names = _Memo(name_part, pl.String())
        self._sources = _Memo(_source_code, pl.String())
        self._countries = _Memo(geo.country_code, pl.String())
        self._states = _Memo(geo.us_state_code, pl.String())
        self._plans = _Memo(plan_tier, pl.String())

    def derive(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` has ``position``, ``customer_id`` and the text columns but ``id``.

        Rows without a customer id (rejected records) are dropped first.
        """
        frame = frame.filter(pl.col("customer_id").is_not_null())
        mapped = frame.with_columns(
            self._names.apply(frame["first_name"]).alias("_first"),
            self._names.apply(frame["last_name"]).alias("_last"),
            self._sources.apply(frame["signup_source"]).fill_null("invalid").alias("_source"),
            self._countries.apply(frame["country"]).alias("_country"),
            self._states.apply(frame["region"]).alias("_state"),
            self._plans.apply(frame["plan"]).alias("_plan"),
        ).lazy()
        for stage in self._stages:
            mapped = mapped.with_columns(stage)
        return mapped.select(self._outputs).collect()
