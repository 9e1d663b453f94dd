"""The columnar path: the rules of :mod:`.normalizers`, a million records at a time.

Two steps, so that the streaming form can drop raw dicts early:

1. :func:`extract` turns raw dicts into a frame of text columns, one per input field.
   Text fields (names, email, signup_source, country, region, plan) keep strings and
   turn anything else into null; numeric fields (id, counts, money, timestamps) hold
   ``str(value)`` (so ``17`` and ``"17"`` read the same, and ``True`` or ``[1]`` read as
   no number). This is the only per-record Python work, and it is mostly C loops
   (``itemgetter``, ``zip``, ``map(str)``).
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
from operator import itemgetter
from typing import Any, Final

import polars as pl

from . import geo
from ._patterns import (
    DECIMAL,
    DIGITS,
    EMAIL,
    EMAIL_MAX_LENGTH,
    EPOCH,
    ID,
    INT64_LIMIT,
    ISO_TIMESTAMP,
    MONEY,
    MONEY_DECORATION,
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
    numeric_text,
    plan_tier,
    signup_source_is_valid,
    text_value,
)
from .rules import BusinessRules

__all__ = ["DERIVED_SCHEMA", "FIELDS", "Deriver", "extract", "parse_ids"]

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
_CHUNK: Final = 1024  # records per extraction chunk: small enough to stay in CPU cache
_GET_ALL: Final = itemgetter(*FIELDS)

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
    try:
        return pl.Series(name, values, dtype=pl.String, strict=True)
    except TypeError:  # a non-string value
        values = [value if isinstance(value, str) else None for value in values]
    except ValueError:  # a string with a lone surrogate
        pass
    try:
        return pl.Series(name, values, dtype=pl.String, strict=True)
    except ValueError:
        return pl.Series(name, [text_value(value) for value in values], dtype=pl.String)


def _numeric_series(name: str, values: Sequence[Any]) -> pl.Series:
    try:
        return pl.Series(name, list(map(str, values)), dtype=pl.String, strict=True)
    except (ValueError, RecursionError):  # an int too long to print, a lone surrogate
        return pl.Series(name, [numeric_text(v) for v in values], dtype=pl.String)


def _chunk_frame(chunk: Sequence[dict[str, Any]]) -> pl.DataFrame:
    try:
        rows = list(map(_GET_ALL, chunk))
    except KeyError:  # some record lacks a field
        rows = [tuple(map(record.get, FIELDS)) for record in chunk]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in FIELDS]
    return pl.DataFrame(
        [
            _text_series(name, column) if name in _TEXT_FIELDS else _numeric_series(name, column)
            for name, column in zip(FIELDS, columns, strict=True)
        ]
    )


def extract(records: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """Text columns :data:`FIELDS` for ``records`` (dicts only), one row per record."""
    if not records:
        return pl.DataFrame(schema=dict.fromkeys(FIELDS, pl.String()))
    exact = set(map(type, records)) == {dict}
    with _gc_paused():
        frames = []
        for start in range(0, len(records), _CHUNK):
            chunk = records[start : start + _CHUNK]
            if not exact:  # dict subclasses: never call a __missing__ hook
                chunk = [dict(record.items()) for record in chunk]
            frames.append(_chunk_frame(chunk))
    return pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]


def parse_ids(text: pl.Expr) -> pl.Expr:
    """The accepted customer id of an id text column, or null (see ``normalize_id``)."""
    stripped = text.str.strip_chars(WHITESPACE)
    digits = stripped.str.extract(r"^([0-9]+)", 1).str.strip_chars_start("0")
    usable = stripped.str.contains(anchored(ID)) & digits.str.len_bytes().is_between(1, 19)
    return pl.when(usable).then(digits.cast(pl.Int64, strict=False))


# --- step 2: text columns -> derived columns ---------------------------------------------


class _Memo:
    """A scalar function applied once per distinct value, remembered across batches."""

    def __init__(self, func: Callable[[str], Any], dtype: pl.DataType, limit: int = 250_000):
        self._func = func
        self._dtype = dtype
        self._limit = limit
        self._cache: dict[str, Any] = {}

    def apply(self, column: pl.Series) -> pl.Series:
        keys: list[str] = column.drop_nulls().unique().to_list()
        cache = self._cache
        if len(cache) + len(keys) > self._limit:
            cache.clear()  # bounded memory on adversarial, high-cardinality input
        func = self._func
        values = [cache[key] if key in cache else cache.setdefault(key, func(key)) for key in keys]
        return column.replace_strict(keys, values, default=None, return_dtype=self._dtype)


def _source_code(text: str) -> str:
    """The channel of a signup source, or "invalid" for a source with no letter or digit."""
    return acquisition_channel(text) if signup_source_is_valid(text) else "invalid"


# Each rule below is a few ``with_columns`` stages over a lazy frame whose text columns are
# already stripped. Intermediate results are materialized as temporary "_" columns: Polars
# does not reuse a sub-expression (such as a regex match) that several expressions share.


def _with_count(frame: pl.LazyFrame, name: str, alias: str) -> pl.LazyFrame:
    """Add ``alias``: a non-negative Int64 count from text ``name`` (see ``parse_count``)."""
    text = pl.col(name)
    digits, number = pl.col("_digits"), pl.col("_number")
    staged = frame.with_columns(
        pl.when(text.str.contains(anchored(DIGITS)))
        .then(text.str.strip_chars_start("0"))
        .alias("_digits"),
        pl.when(text.str.contains(anchored(DECIMAL)))
        .then(text)
        .cast(pl.Float64, strict=False)
        .alias("_number"),
    )
    from_digits = (
        pl.when(digits == "")
        .then(pl.lit(0, dtype=pl.Int64))
        .when(digits.str.len_bytes() <= 19)
        .then(digits.cast(pl.Int64, strict=False))
    )
    from_decimal = pl.when(
        number.is_finite() & (number == number.floor()) & (number < float(INT64_LIMIT))
    ).then(number.cast(pl.Int64, strict=False))
    return staged.with_columns(
        pl.when(digits.is_not_null()).then(from_digits).otherwise(from_decimal).alias(alias)
    ).drop("_digits", "_number")


def _with_money(frame: pl.LazyFrame, name: str, alias: str) -> pl.LazyFrame:
    """Add ``alias``: a finite, non-negative Float64 amount (see ``parse_money``)."""
    text = pl.col(name)
    amount = pl.col("_amount")
    return (
        frame.with_columns(
            pl.when(text.str.contains(anchored(MONEY)))
            .then(text.str.replace_all(MONEY_DECORATION, ""))
            .cast(pl.Float64, strict=False)
            .alias("_amount")
        )
        .with_columns(pl.when(amount.is_finite()).then(amount).alias(alias))
        .drop("_amount")
    )


def _with_timestamp(
    frame: pl.LazyFrame, name: str, alias: str, rules: BusinessRules, window: range
) -> pl.LazyFrame:
    """Add ``alias``: Int64 microseconds since the epoch (see ``timestamp_us``), or null."""
    text = pl.col(name)
    field = pl.col("_iso").struct.field
    staged = frame.with_columns(
        text.str.extract_groups(anchored(ISO_TIMESTAMP)).alias("_iso"),
        pl.when(text.str.contains(anchored(EPOCH)))
        .then(text)
        .cast(pl.Float64, strict=False)
        .alias("_epoch"),
    ).with_columns(
        field("1").str.to_date("%Y-%m-%d", strict=False).cast(pl.Int64).alias("_days"),
        *(
            field(str(group)).cast(pl.Int64, strict=False).fill_null(0).alias(f"_{unit}")
            for group, unit in ((2, "h"), (3, "m"), (4, "s"), (8, "oh"), (9, "om"))
        ),
        field("5")
        .str.pad_end(6, "0")
        .str.slice(0, 6)
        .cast(pl.Int64, strict=False)
        .fill_null(0)
        .alias("_us"),
        pl.when(field("7") == "-").then(pl.lit(-1)).otherwise(pl.lit(1)).alias("_sign"),
    )
    h, m, s, oh, om = (pl.col(f"_{unit}") for unit in ("h", "m", "s", "oh", "om"))
    valid_clock = (h <= 23) & (m <= 59) & (s <= 59) & (oh <= 23) & (om <= 59)
    iso = pl.when(valid_clock).then(
        pl.col("_days") * MICROS_PER_DAY
        + ((h * 60 + m) * 60 + s) * 1_000_000
        + pl.col("_us")
        - (oh * 60 + om) * 60_000_000 * pl.col("_sign")
    )
    epoch = pl.col("_epoch")
    scaled = (
        pl.when(epoch > float(rules.epoch_ms_threshold))
        .then(epoch * 1000.0)
        .otherwise(epoch * 1_000_000.0)
    )
    from_epoch = pl.when((scaled > -4e18) & (scaled < 4e18)).then(
        scaled.cast(pl.Int64, strict=False)
    )
    moment = pl.col("_moment")
    return (
        staged.with_columns(pl.coalesce(iso, from_epoch).alias("_moment"))
        .with_columns(
            pl.when(moment.is_between(window.start, window.stop - 1)).then(moment).alias(alias)
        )
        .drop("_iso", "_epoch", "_days", "_h", "_m", "_s", "_oh", "_om", "_us", "_sign", "_moment")
    )


class Deriver:
    """Computes the derived frame (:data:`DERIVED_SCHEMA`) of extracted text columns."""

    def __init__(self, rules: BusinessRules, as_of: datetime) -> None:
        self.rules = rules
        self.as_of = as_of if as_of.tzinfo is not None else as_of.replace(tzinfo=UTC)
        self._as_of_us = micros(self.as_of)
        self._names = _Memo(name_part, pl.String())
        self._sources = _Memo(_source_code, pl.String())
        self._countries = _Memo(geo.country_code, pl.String())
        self._states = _Memo(geo.us_state_code, pl.String())
        self._plans = _Memo(plan_tier, pl.String())

    def derive(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` has ``position``, ``customer_id`` and the text columns but ``id``."""
        rules = self.rules
        low = micros(datetime(rules.min_valid_year, 1, 1, tzinfo=UTC))
        high = self._as_of_us + rules.future_tolerance_days * MICROS_PER_DAY
        active_since = self._as_of_us - rules.active_days * MICROS_PER_DAY
        mapped = frame.with_columns(
            self._names.apply(frame["first_name"]).alias("_first"),
            self._names.apply(frame["last_name"]).alias("_last"),
            self._sources.apply(frame["signup_source"]).fill_null("invalid").alias("_source"),
            self._countries.apply(frame["country"]).alias("_country"),
            self._states.apply(frame["region"]).alias("_state"),
            self._plans.apply(frame["plan"]).alias("_plan"),
        )
        first, last = pl.col("_first"), pl.col("_last")
        country, state = pl.col("_country"), pl.col("_state")
        is_us = (country == "US").fill_null(value=False)
        window = range(low, high + 1)
        stripped = mapped.lazy().with_columns(
            pl.col(_STRIPPED).str.strip_chars(WHITESPACE),
        )
        for name, alias in zip(_TIMESTAMPS, ("_created", "_login", "updated_at_us"), strict=True):
            stripped = _with_timestamp(stripped, name, alias, rules, window)
        stripped = _with_count(stripped, "sessions_30d", "_sessions")
        stripped = _with_count(stripped, "orders_count", "_orders")
        stripped = _with_money(stripped, "lifetime_value", "_ltv")
        email = pl.col("email")
        valid_email = (email.str.len_bytes() <= EMAIL_MAX_LENGTH) & email.str.contains(
            anchored(EMAIL)
        )
        staged = stripped.with_columns(
            pl.when(valid_email).then(email.str.to_lowercase()).alias("email_key")
        )
        login, sessions, orders, ltv = (
            pl.col("_login"),
            pl.col("_sessions"),
            pl.col("_orders"),
            pl.col("_ltv"),
        )
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
            pl.when(pl.col("_source") == "invalid")
            .then(pl.lit(UNKNOWN))
            .otherwise(pl.col("_source"))
        )
        full_name = (
            pl.when(first.is_null() & last.is_null())
            .then(pl.lit(UNKNOWN))
            .otherwise(pl.concat_str([first, last], separator=" ", ignore_nulls=True))
        )
        schema = DERIVED_SCHEMA
        return staged.select(
            pl.col("position").cast(schema["position"]),
            pl.col("customer_id").cast(schema["customer_id"]),
            full_name.alias("full_name"),
            pl.col("email_key").str.splitn("@", 2).struct.field("field_1").fill_null(UNKNOWN)
            .alias("email_domain"),
            engagement.cast(schema["engagement_level"]).alias("engagement_level"),
            activity.cast(schema["activity_status"]).alias("activity_status"),
            channel.cast(schema["acquisition_channel"]).alias("acquisition_channel"),
            segment.cast(schema["market_segment"]).alias("market_segment"),
            tier.cast(schema["customer_tier"]).alias("customer_tier"),
            score.cast(schema["data_quality_score"]).alias("data_quality_score"),
            pl.col("email_key"),
            pl.col("updated_at_us"),
        ).collect()
