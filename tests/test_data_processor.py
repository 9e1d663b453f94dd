"""The data processor (issue #4): output shape, duplicates, rejections, accounting, streaming.

The property tests compare the processor (the columnar Polars path) with a plain-Python
oracle built from the scalar reference rules in ``customer_sync.transform.rules``.
"""

from __future__ import annotations

import random
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_sync.errors import InvalidRecord
from customer_sync.frames import CANONICAL_SCHEMA
from customer_sync.models import (
    QUALITY_BANDS,
    SCORED_FIELDS,
    SOURCE_FIELDS,
    Customer,
    DataQuality,
    FieldQuality,
)
from customer_sync.transform import _patterns
from customer_sync.transform import processor as processor_module
from customer_sync.transform.dedupe import deduplicate
from customer_sync.transform.record import canonical_values, normalize_record
from customer_sync.transform.rules.activity import ACTIVITY_STATUSES
from customer_sync.transform.rules.channel import ACQUISITION_CHANNELS
from customer_sync.transform.rules.customer_id import reason_code
from customer_sync.transform.rules.engagement import ENGAGEMENT_LEVELS
from customer_sync.transform.rules.quality import (
    SCORE_BINS,
    invalid_fields,
    missing_fields,
    quality_band,
    score_bin,
)
from customer_sync.transform.rules.segment import MARKET_SEGMENTS, country_value
from customer_sync.transform.rules.tier import CUSTOMER_TIERS
from src.data_processor import AccountingError, BusinessRules, CustomerDataProcessor
from src.models import (
    CUSTOMER_FIELDS,
    CUSTOMER_SCHEMA,
    Merge,
    ProcessCounts,
    ProcessResult,
    Rejection,
)
from tests.transform.support import HUGE, LONE_SURROGATE, awkward

AS_OF = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def record(customer_id: Any = 1, **fields: Any) -> dict[str, Any]:
    """A clean raw record (data quality 100) with some fields replaced."""
    base: dict[str, Any] = {
        "id": customer_id,
        "email": f"user{customer_id}@example.com",
        "first_name": "Ann",
        "last_name": "Lee",
        "created_at": "2024-01-01",
        "last_login_at": "2025-05-30T10:00:00Z",
        "updated_at": "2025-05-01T00:00:00Z",
        "sessions_30d": 3,
        "orders_count": 1,
        "lifetime_value": 10.0,
        "signup_source": "web",
        "country": "US",
        "region": "CA",
        "plan": "basic",
    }
    base.update(fields)
    return base


def run(records: Sequence[Any], **rules: Any) -> ProcessResult:
    return CustomerDataProcessor(BusinessRules(**rules), AS_OF).process_customers(records)


# --- the oracle: scalar rules + plain-Python deduplication --------------------------------


def oracle(records: Sequence[Any], rules: BusinessRules) -> ProcessResult:
    """What the processor must return, computed one record at a time."""
    accepted = []
    rejected = []
    for position, raw in enumerate(records):
        try:
            accepted.append((position, normalize_record(raw, AS_OF, rules), raw))
        except InvalidRecord as exc:
            rejected.append(Rejection(exc.reason, raw, position))
    parent = {position: position for position, _, _ in accepted}

    def find(node: int) -> int:
        while parent[node] != node:
            node = parent[node]
        return node

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        parent[max(ra, rb)] = min(ra, rb)

    first_by_key: dict[Any, int] = {}
    for position, rec, _ in accepted:
        union(position, first_by_key.setdefault(("id", rec.customer_id), position))
        if rules.match_email and rec.email_key is not None:
            union(position, first_by_key.setdefault(("email", rec.email_key), position))
    groups = defaultdict(list)
    for position, rec, raw in accepted:
        groups[find(position)].append((position, rec, raw))
    survivors, merges = [], []
    for members in groups.values():
        _, best, best_raw = min(
            members,
            key=lambda m: (
                -m[1].data_quality_score,
                m[1].updated_at_us is None,
                -(m[1].updated_at_us or 0),
                m[1].customer_id,
                m[0],
            ),
        )
        survivors.append((best.customer(), best_raw))
        merges.extend(
            Merge(
                best.customer_id,
                rec.customer_id,
                "same_id" if rec.customer_id == best.customer_id else "same_email",
                position,
            )
            for position, rec, _ in members
            if rec is not best
        )
    survivors.sort(key=lambda pair: (pair[0]["full_name"], pair[0]["customer_id"]))
    merges.sort(key=lambda m: m.position)
    customers = [customer for customer, _ in survivors]
    raws = [raw for _, raw in survivors]
    frame = pl.DataFrame(customers, schema=CUSTOMER_SCHEMA)
    canonical = pl.DataFrame(
        [canonical_values(raw, AS_OF, rules) for raw in raws], schema=CANONICAL_SCHEMA
    )
    counts = ProcessCounts(len(records), len(survivors), len(merges), len(rejected))
    quality = oracle_quality(records, customers, raws, rejected, rules)
    return ProcessResult(frame, rejected, merges, counts, canonical, quality)


_ALLOWED = {
    "engagement_level": ENGAGEMENT_LEVELS,
    "activity_status": ACTIVITY_STATUSES,
    "acquisition_channel": ACQUISITION_CHANNELS,
    "market_segment": MARKET_SEGMENTS,
    "customer_tier": CUSTOMER_TIERS,
    "data_quality_band": QUALITY_BANDS,
}


def oracle_quality(
    records: Sequence[Any],
    customers: list[Customer],
    raws: list[dict[str, Any]],
    rejected: list[Rejection],
    rules: BusinessRules,
) -> DataQuality:
    """The run's DataQuality, counted one exported raw record at a time."""
    fields = {}
    for name in SCORED_FIELDS:
        scored = [
            raw for raw in raws if name != "region" or country_value(raw.get("country")) == "US"
        ]
        bad = sum(name in invalid_fields(raw, AS_OF, rules) for raw in scored)
        absent = sum(name in missing_fields(raw) for raw in scored)
        fields[name] = FieldQuality(len(scored) - bad, absent, bad - absent)
    distributions: dict[str, dict[str, int]] = {}
    for name, allowed in _ALLOWED.items():
        seen = Counter(
            quality_band(c["data_quality_score"], rules) if name == "data_quality_band" else c[name]
            for c in customers
        )
        distributions[name] = {value: seen[value] for value in allowed}
    bins = Counter(score_bin(c["data_quality_score"]) for c in customers)
    reasons = Counter(reason_code(r.reason) for r in rejected)
    objects = [raw for raw in records if isinstance(raw, dict)]
    return DataQuality(
        fields=fields,
        distributions=distributions,
        score_histogram={label: bins[label] for label in SCORE_BINS},
        rejection_reasons=dict(reasons.most_common()),
        records_seen=len(objects),
        keys_seen={name: sum(name in raw for raw in objects) for name in SOURCE_FIELDS},
    )


def assert_same(result: ProcessResult, expected: ProcessResult) -> None:
    assert result.customers == expected.customers
    assert result.merges == expected.merges
    assert result.rejected == expected.rejected
    assert result.counts == expected.counts
    assert result.canonical is not None
    assert expected.canonical is not None
    assert result.canonical.schema == expected.canonical.schema
    assert result.canonical.to_dicts() == expected.canonical.to_dicts()
    assert result.quality == expected.quality
    assert result.quality_details() == expected.quality_details()
    assert result.field_coverage() == expected.field_coverage()


# --- strategies ---------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


timestamps = (
    st.sampled_from(
        [
            "2025-05-30T10:00:00Z",
            "2025-05-02T12:00:00+00:00",
            "2025-05-02",
            "2024-01-01 08:00:00",
            "2025-06-02T12:00:00Z",
            "1989-12-31",
            "2023-02-29",
            1748599200,
            "1748599200000",
            "1748599200.5",
            "soon",
            "",
        ]
    )
    | st.datetimes(min_value=datetime(1985, 1, 1), max_value=datetime(2025, 6, 5)).map(_iso)
    | st.integers(min_value=0, max_value=2 * 10**12)
    | st.integers(min_value=0, max_value=2 * 10**12).map(str)
    | awkward
)
counts = st.integers(-2, 15) | st.integers(0, 15).map(str) | st.sampled_from([3.0, "2.0", 4.5])
counts = counts | awkward
fields = {
    "id": st.sampled_from([1, 2, 3, "2", " 3 ", 4.0, "5.0", 6, 0, -1, "x", None, True]) | awkward,
    "email": st.sampled_from(["a@x.com", " A@X.COM ", "b@y.org", "bad@", "c@z.net", None])
    | awkward,
    "first_name": st.sampled_from(["alice", "BOB", "McDonald", "  o'neil ", "", None]) | awkward,
    "last_name": st.sampled_from(["smith", "VAN DER BERG", "Lee", " ", None]) | awkward,
    "created_at": timestamps,
    "last_login_at": timestamps,
    "updated_at": timestamps,
    "sessions_30d": counts,
    "orders_count": counts,
    "lifetime_value": st.floats(0, 20_000)
    | st.sampled_from(["1,234.50", "$10,000", "USD 999.99", "1000", "-5", "n/a", 0])
    | awkward,
    "signup_source": st.sampled_from(["web", "iOS App", "e-mail", "Newsletter", "referral", "??"])
    | awkward,
    "country": st.sampled_from(["US", "usa", "DEU", "Japan", "UK", "Brazil", "Narnia", "", None])
    | awkward,
    "region": st.sampled_from(["CA", "ny", "Texas", "ZZ", None]) | awkward,
    "plan": st.sampled_from(["Enterprise", "PRO", "free", "gold", None]) | awkward,
}
raw_records = st.fixed_dictionaries({}, optional=fields) | awkward
inputs = st.lists(raw_records, max_size=12)
PROPERTY = settings(max_examples=60)


# --- output -------------------------------------------------------------------------------


def test_output_frame_has_exactly_the_customer_schema() -> None:
    """The frame has CUSTOMER_SCHEMA's columns, in order, even when empty."""
    for records in ([], [record(1)], ["junk"]):
        frame = run(records).frame
        assert frame.schema == pl.Schema(CUSTOMER_SCHEMA)
        assert tuple(frame.columns) == CUSTOMER_FIELDS


def test_a_messy_record_becomes_an_analytics_ready_customer() -> None:
    """Every field of one messy record is normalized by its rule."""
    messy = {
        "id": "42",
        "email": "  Jean.Luc@Example.COM ",
        "first_name": "  jean-luc ",
        "last_name": "PICARD",
        "created_at": "2020-02-02 10:00:00",
        "last_login_at": 1748599200000,
        "updated_at": "2025-05-31",
        "sessions_30d": "12",
        "orders_count": 0,
        "lifetime_value": "USD 1,234.50",
        "signup_source": "iOS App",
        "country": "United States",
        "region": "california",
        "plan": None,
    }
    assert run([messy]).customers == [
        {
            "customer_id": 42,
            "full_name": "Jean-Luc Picard",
            "email_domain": "example.com",
            "engagement_level": "high",
            "activity_status": "active",
            "acquisition_channel": "mobile",
            "market_segment": "US-West",
            "customer_tier": "premium",
            "data_quality_score": 100,
        }
    ]


def test_frame_is_sorted_by_full_name_then_customer_id() -> None:
    """Rows are ordered by full_name, then customer_id."""
    records = [
        record(5, first_name="bob"),
        record(3, first_name="ann"),
        record(4, first_name="bob"),
        record(9, first_name=None, last_name=None),
        record(1, first_name="Zed"),
    ]
    rows = [(c["full_name"], c["customer_id"]) for c in run(records).customers]
    assert rows == [("Ann Lee", 3), ("Bob Lee", 4), ("Bob Lee", 5), ("Zed Lee", 1), ("unknown", 9)]


# --- duplicates ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "exported", "merges"),
    [
        pytest.param(
            [record(1, email="a@x.com"), record(1, email="b@x.com", first_name=None)],
            [1],
            [Merge(1, 1, "same_id", 1)],
            id="same id: the higher score survives",
        ),
        pytest.param(
            [record(1, first_name=None), record("1")],
            [1],
            [Merge(1, 1, "same_id", 0)],
            id="same id as int and string",
        ),
        pytest.param(
            [record(1, email="A@X.com "), record(2, email=" a@x.COM", last_name=None)],
            [1],
            [Merge(1, 2, "same_email", 1)],
            id="same email after case and whitespace",
        ),
        pytest.param(
            [
                record(1, email="e1@x.com", first_name=None),
                record(2, email="e1@x.com", first_name=None),
                record(2, email="e2@x.com", first_name=None),
                record(3, email="e2@x.com"),
            ],
            [3],
            [
                Merge(3, 1, "same_email", 0),
                Merge(3, 2, "same_email", 1),
                Merge(3, 2, "same_email", 2),
            ],
            id="transitive: id and email links chain into one group",
        ),
        pytest.param(
            [record(1, email="bad"), record(2, email="bad")],
            [1, 2],
            [],
            id="invalid emails never match",
        ),
        pytest.param(
            [record(1, email=None), record(2, email=None)],
            [1, 2],
            [],
            id="missing emails never match",
        ),
        pytest.param(
            [record(1, updated_at="2025-01-01"), record(1, updated_at="2025-03-01", plan="pro")],
            [1],
            [Merge(1, 1, "same_id", 0)],
            id="score tie: the latest updated_at survives",
        ),
        pytest.param(
            [record(1, updated_at="2025-03-01"), record(1, updated_at="garbage")],
            [1],
            [Merge(1, 1, "same_id", 1)],
            id="score tie: an invalid updated_at loses",
        ),
        pytest.param(
            [record(7, email="s@x.com"), record(3, email="s@x.com"), record(5, email="S@x.com")],
            [3],
            [Merge(3, 7, "same_email", 0), Merge(3, 5, "same_email", 2)],
            id="score and updated_at tie: the lowest id survives",
        ),
        pytest.param(
            [record(2, email="t@x.com", updated_at=None), record(1, email="t@x.com")],
            [1],
            [Merge(1, 2, "same_email", 0)],
            id="updated_at decides before the id",
        ),
    ],
)
def test_duplicates(records: list[Any], exported: list[int], merges: list[Merge]) -> None:
    """Duplicates by id or email fold into the best record; each merge is in the lineage."""
    result = run(records)
    assert sorted(c["customer_id"] for c in result.customers) == exported
    assert result.merges == merges
    assert result.counts.duplicates_merged == len(merges)


def test_exact_duplicates_keep_the_earliest_record() -> None:
    """Records with the same id, score and updated_at: the first one in the input survives."""
    result = run([record(1, plan="free"), record(1, plan="enterprise")])
    assert [c["customer_tier"] for c in result.customers] == ["basic"]
    assert result.merges == [Merge(1, 1, "same_id", 1)]


def test_survivor_is_exported_as_it_is() -> None:
    """Nothing is blended in from merged records: a survivor's unknowns stay unknown."""
    survivor = record(1, plan=None, lifetime_value=None, signup_source=None)
    poorer = record(1, email=None, last_name=None, first_name=None, plan="enterprise")
    (customer,) = run([poorer, survivor]).customers
    assert customer["customer_tier"] == "unknown"
    assert customer["acquisition_channel"] == "unknown"
    assert customer["email_domain"] == "example.com"


def test_email_matching_can_be_switched_off() -> None:
    """With match_email off, only a shared id makes a duplicate."""
    records = [record(1, email="a@x.com"), record(2, email="a@x.com"), record(2, email="b@x.com")]
    result = run(records, match_email=False)
    assert sorted(c["customer_id"] for c in result.customers) == [1, 2]
    assert result.merges == [Merge(2, 2, "same_id", 2)]


def test_rejected_records_never_join_a_group() -> None:
    """A record without a usable id is set aside before matching by email."""
    result = run([record(1, email="a@x.com"), record("x", email="a@x.com")])
    assert [c["customer_id"] for c in result.customers] == [1]
    assert result.merges == []
    assert [r.position for r in result.rejected] == [1]


# --- rejections and accounting ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("junk", "not_an_object: 'junk'"),
        (None, "not_an_object: <NoneType>"),
        (17, "not_an_object: 17"),
        ([record(1)], "not_an_object: <list>"),
        ({"email": "a@x.com"}, "missing_id"),
        (record(None), "missing_id"),
        (record(""), "missing_id"),
        (record("abc"), "invalid_id: 'abc'"),
        (record(True), "invalid_id: True"),
        (record(2.5), "invalid_id: 2.5"),
        (record([1]), "invalid_id: <list>"),
        (record(2**63), "invalid_id: 9223372036854775808"),
        (record(0), "non_positive_id: 0"),
        (record("-4"), "non_positive_id: '-4'"),
    ],
)
def test_rejections(raw: Any, reason: str) -> None:
    """A record that is not an object or has no usable id is kept aside, raw, with its reason."""
    result = run([record(100), raw])
    assert result.rejected == [Rejection(reason, raw, 1)]
    assert result.rejected[0].record is raw
    assert [c["customer_id"] for c in result.customers] == [100]


def test_counts_balance_on_a_mixed_input() -> None:
    """records in = exported + duplicates merged + rejected."""
    records = [
        record(1),
        record(1),
        record(2, email="user1@example.com"),
        "junk",
        record(None),
        record(3),
    ]
    counts = run(records).counts
    assert counts == ProcessCounts(records_in=6, exported=2, duplicates_merged=2, rejected=2)
    assert counts.balanced


@pytest.mark.parametrize(
    ("counts", "merges", "rejected", "accepted", "message"),
    [
        (ProcessCounts(3, 1, 0, 1), [], [Rejection("missing_id", {}, 0)], 1, "records in 3"),
        (ProcessCounts(2, 1, 0, 1), [], [Rejection("missing_id", {}, 0)], 2, "accepted 2"),
        (
            ProcessCounts(2, 0, 1, 1),
            [Merge(1, 1, "same_id", 0)],
            [Rejection("missing_id", {}, 0)],
            1,
            "both rejected and merged",
        ),
    ],
)
def test_unbalanced_accounting_is_an_internal_error(
    counts: ProcessCounts,
    merges: list[Merge],
    rejected: list[Rejection],
    accepted: int,
    message: str,
) -> None:
    """If the numbers or positions ever fail to add up, the run raises AccountingError."""
    with pytest.raises(AccountingError, match=message):
        processor_module._check_accounting(counts, merges, rejected, accepted)


# --- streaming ----------------------------------------------------------------------------


_SPELLINGS = {
    "first_name": ["alice", "BOB", "McDonald", "  o'neil ", "", None, 7],
    "last_name": ["smith", "VAN DER BERG", "Lee", " ", None],
    "created_at": ["2024-01-01", "2024-01-01T10:00:00+02:00", 1704067200, "1704067200000", None],
    "last_login_at": ["2025-05-30T10:00:00Z", "2025-05-02 12:00:00", 1748599200, "x", None],
    "updated_at": ["2025-05-01", "2025-05-01T00:00:00.5Z", 1746057600000, None],
    "sessions_30d": [0, 3, "10", 12.0, -1, "many", None],
    "orders_count": [0, 1, "5", 5, None],
    "lifetime_value": [10.0, "1,234.50", "$10,000.00", "USD 999", -5, None],
    "signup_source": ["web", "iOS App", "e-mail", "Newsletter", "referral", 42, None],
    "country": ["US", "usa", "DEU", "Japan", "UK", "Narnia", None],
    "region": ["CA", "ny", "Texas", "ZZ", None],
    "plan": ["Enterprise", "PRO", "free", "gold", None],
}


def _mixed(n: int, seed: int = 0) -> list[Any]:
    """``n`` messy records with duplicates, rejects and every spelling family."""
    rng = random.Random(seed)
    records: list[Any] = []
    for position in range(n):
        if rng.random() < 0.01:
            records.append(rng.choice(["junk", None, 3, [1]]))
            continue
        raw = {key: rng.choice(values) for key, values in _SPELLINGS.items()}
        raw["id"] = rng.choice([position + 1, str(position + 1), rng.randrange(1, n + 1), "x", 0])
        raw["email"] = rng.choice([f"u{rng.randrange(n)}@x.com", f" U{position}@Y.org", None])
        records.append(raw)
    return records


def test_large_mixed_input_matches_the_oracle() -> None:
    """Thousands of messy records (several extraction chunks) match the scalar oracle."""
    records = _mixed(5000)
    assert_same(run(records), oracle(records, BusinessRules()))


@pytest.mark.parametrize("page", [1, 7, 100, 1024, 5000])
def test_streaming_in_pages_equals_one_shot(page: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """add_batch page by page, then finish, gives the one-shot result; positions continue."""
    monkeypatch.setattr(processor_module, "_FLUSH_ROWS", 1500)  # derive in the background too
    records = _mixed(3000, seed=1)
    streaming = CustomerDataProcessor(as_of=AS_OF)
    for start in range(0, len(records), page):
        streaming.add_batch(records[start : start + page])
    assert_same(streaming.finish(), run(records))


def test_finish_starts_a_fresh_run() -> None:
    """After finish, the next batches are a new run with positions from 0."""
    processor = CustomerDataProcessor(as_of=AS_OF)
    processor.add_batch([record(1), "junk"])
    first = processor.finish()
    processor.add_batch(["junk", record(1)])
    second = processor.finish()
    assert first.counts == second.counts == ProcessCounts(2, 1, 0, 1)
    assert [r.position for r in second.rejected] == [0]


def test_one_shot_run_leaves_a_streaming_run_alone() -> None:
    """process_customers in the middle of a streaming run does not disturb it."""
    processor = CustomerDataProcessor(as_of=AS_OF)
    processor.add_batch([record(1)])
    processor.process_customers([record(2), record(3)])
    processor.add_batch([record(4)])
    assert sorted(c["customer_id"] for c in processor.finish().customers) == [1, 4]


def test_process_customers_accepts_any_iterable() -> None:
    """A generator of records works like a list."""
    records = _mixed(300, seed=2)
    assert_same(CustomerDataProcessor(as_of=AS_OF).process_customers(iter(records)), run(records))


@pytest.mark.parametrize("wrong", [record(1), "records", b"records"])
def test_a_single_value_instead_of_records_is_a_type_error(wrong: Any) -> None:
    """Passing one record (or a string) instead of a sequence of records fails loudly."""
    with pytest.raises(TypeError, match="sequence of raw records"):
        CustomerDataProcessor(as_of=AS_OF).process_customers(wrong)
    with pytest.raises(TypeError, match="sequence of raw records"):
        CustomerDataProcessor(as_of=AS_OF).add_batch(wrong)


# --- as_of and odd inputs -----------------------------------------------------------------


def test_as_of_defaults_to_now_in_utc() -> None:
    """Without as_of, the processor reads the clock once, at construction, in UTC."""
    before = datetime.now(UTC)
    processor = CustomerDataProcessor()
    assert before <= processor.as_of <= datetime.now(UTC)


def test_naive_as_of_is_utc() -> None:
    """A naive as_of is read as UTC."""
    processor = CustomerDataProcessor(as_of=datetime(2025, 6, 1, 12))
    assert processor.as_of == AS_OF


def test_as_of_drives_activity() -> None:
    """The same record is active or inactive depending only on as_of."""
    records = [record(1, last_login_at="2025-05-01T00:00:00Z")]
    early = CustomerDataProcessor(as_of=datetime(2025, 5, 15, tzinfo=UTC))
    late = CustomerDataProcessor(as_of=AS_OF + timedelta(days=30))
    assert early.process_customers(records).customers[0]["activity_status"] == "active"
    assert late.process_customers(records).customers[0]["activity_status"] == "inactive"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(HUGE, id="huge int"),
        pytest.param(LONE_SURROGATE, id="lone surrogate"),
        float("nan"),
        float("inf"),
        -1e308,
        "",
        [],
        {"nested": {"x": [1, 2]}},
        True,
    ],
)
def test_awkward_value_in_every_field_never_raises(value: Any) -> None:
    """Any JSON value in any field is missing or invalid, never an exception."""
    everywhere = {key: value for key in record()}
    elsewhere = {**{key: value for key in record()}, "id": 1}
    result = run([everywhere, elsewhere])
    assert result.counts.balanced
    assert [c["customer_id"] for c in result.customers] == [1]
    assert result.customers[0]["data_quality_score"] == 0


def test_missing_keys_and_dict_subclasses_are_records() -> None:
    """Records with missing keys, an OrderedDict and a defaultdict (never mutated) all work."""
    hooked: defaultdict[str, Any] = defaultdict(lambda: "web", {"id": 3})
    records = [{"id": 1}, OrderedDict(id=2, first_name="ann"), hooked]
    result = run(records)
    assert [c["customer_id"] for c in result.customers] == [2, 1, 3]
    assert dict(hooked) == {"id": 3}
    assert_same(result, oracle(records, BusinessRules()))


# --- properties ---------------------------------------------------------------------------


@PROPERTY
@given(inputs, st.booleans())
def test_processor_equals_the_scalar_oracle(records: list[Any], match_email: bool) -> None:
    """On arbitrary input the columnar path gives exactly the scalar oracle's result."""
    rules = BusinessRules(match_email=match_email)
    result = CustomerDataProcessor(rules, AS_OF).process_customers(records)
    assert_same(result, oracle(records, rules))


@PROPERTY
@given(st.lists(awkward | raw_records, max_size=20))
def test_every_record_is_accounted_for(records: list[Any]) -> None:
    """Each input position is exported, merged or rejected, and the counts balance."""
    result = run(records)
    counts = result.counts
    assert counts.balanced
    assert counts.records_in == len(records)
    set_aside = [r.position for r in result.rejected] + [m.position for m in result.merges]
    assert len(set(set_aside)) == len(set_aside)
    assert set(set_aside) <= set(range(len(records)))
    ids = result.frame["customer_id"].to_list()
    assert len(set(ids)) == len(ids) == counts.exported


@PROPERTY
@given(inputs)
def test_processing_is_deterministic(records: list[Any]) -> None:
    """The same input gives the same result, twice and from a fresh processor."""
    processor = CustomerDataProcessor(as_of=AS_OF)
    first, second = processor.process_customers(records), processor.process_customers(records)
    assert first.frame.equals(second.frame)
    assert_same(first, second)
    assert_same(run(records), first)


@PROPERTY
@given(inputs, st.randoms(use_true_random=False))
def test_exported_ids_do_not_depend_on_input_order(records: list[Any], rng: random.Random) -> None:
    """Shuffling the input never changes which customer ids are exported."""
    shuffled = list(records)
    rng.shuffle(shuffled)
    ids = set(run(records).frame["customer_id"].to_list())
    assert set(run(shuffled).frame["customer_id"].to_list()) == ids


@PROPERTY
@given(inputs, st.lists(st.integers(0, 12), max_size=4))
def test_batches_equal_one_shot(records: list[Any], cuts: list[int]) -> None:
    """Streaming the input in any batches gives the one-shot result."""
    bounds = [0, *sorted(c for c in cuts if c <= len(records)), len(records)]
    processor = CustomerDataProcessor(as_of=AS_OF)
    for start, stop in pairwise(bounds):
        processor.add_batch(records[start:stop])
    assert_same(processor.finish(), run(records))


near_numbers = (
    st.text(alphabet="0123456789.,eE+-$USDusd ", max_size=24)
    | st.from_regex(_patterns.MONEY, fullmatch=True)
    | st.from_regex(_patterns.DECIMAL, fullmatch=True)
    | st.floats(allow_nan=False).map(str)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
)
near_timestamps = (
    st.from_regex(_patterns.ISO_TIMESTAMP, fullmatch=True)
    | st.from_regex(_patterns.EPOCH, fullmatch=True)
    | st.text(alphabet="0123456789-:Tt Zz+.,", max_size=32)
    | st.integers(min_value=0, max_value=10**14)
    | st.floats(min_value=0, max_value=1e14)
)
near_emails = (
    st.from_regex(_patterns.EMAIL, fullmatch=True)
    | st.emails()
    | st.text(alphabet="aZ0.-_@+ \t", max_size=20)
)
grammar_records = st.fixed_dictionaries(
    {
        "email": near_emails,
        "created_at": near_timestamps,
        "last_login_at": near_timestamps,
        "updated_at": near_timestamps,
        "sessions_30d": near_numbers,
        "orders_count": near_numbers,
        "lifetime_value": near_numbers,
    }
)


@PROPERTY
@given(st.lists(grammar_records, min_size=1, max_size=25))
def test_text_grammars_agree_with_the_reference(records: list[dict[str, Any]]) -> None:
    """Near-miss numbers, money, timestamps and emails parse as the scalar rules say."""
    numbered = [{**raw, "id": index + 1} for index, raw in enumerate(records)]
    rules = BusinessRules(match_email=False)
    result = CustomerDataProcessor(rules, AS_OF).process_customers(numbered)
    assert_same(result, oracle(numbered, rules))


def test_public_surface_is_pinned() -> None:
    """The entry-point module re-exports exactly the transform's public names."""
    import customer_sync.transform as transform
    import src.data_processor as entry

    assert entry.__all__ == [
        "AccountingError",
        "BusinessRules",
        "CustomerDataProcessor",
        "NormalizedRecord",
        "acquisition_channel",
        "activity_status",
        "customer_tier",
        "email_domain",
        "engagement_level",
        "full_name",
        "market_segment",
        "normalize_record",
        "quality_band",
        "quality_score",
    ]
    for name in entry.__all__:
        assert getattr(entry, name) is getattr(transform, name)
    assert set(entry.__all__) <= set(transform.__all__)


def test_deduplicate_on_a_five_row_frame() -> None:
    """deduplicate keeps the best row of each id/email group, as a plain frame function."""
    frame = pl.DataFrame(
        {
            "position": [0, 1, 2, 3, 4],
            "customer_id": [1, 1, 2, 3, 4],
            "email_key": ["a@x.com", "b@x.com", "b@x.com", None, None],
            "data_quality_score": [80, 90, 70, 100, 100],
            "updated_at_us": [None, 5, 9, None, None],
        }
    )
    survivors, merges = deduplicate(frame, match_email=True)
    assert survivors["position"].to_list() == [1, 3, 4]
    assert merges == [Merge(1, 1, "same_id", 0), Merge(1, 2, "same_email", 2)]
    alone, none = deduplicate(frame.filter(pl.col("position") >= 3), match_email=True)
    assert (alone.height, none) == (2, [])
