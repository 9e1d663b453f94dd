"""The warning for source fields that are absent from most records (issue #15)."""

from __future__ import annotations

import pytest

from customer_sync.quality import (
    RULE_FIELDS,
    field_warnings,
    format_share,
    unmet_requirements,
)

REQRES_COVERAGE = {
    "id": 1.0,
    "email": 1.0,
    "first_name": 1.0,
    "last_name": 1.0,
    **{name: 0.0 for name in RULE_FIELDS if name not in ("email", "first_name", "last_name")},
}
ALL_UNKNOWN = {
    name: {"unknown": 12}
    for name in ("engagement_level", "activity_status", "acquisition_channel",
                 "market_segment", "customer_tier")
}


def test_reqres_fields_give_the_issue_s_example_message() -> None:
    """The 12 reqres users warn: no sessions_30d or orders_count, engagement unknown for all."""
    messages = [w["message"] for w in field_warnings(REQRES_COVERAGE, ALL_UNKNOWN, 12)]
    assert (
        "the source sent no sessions_30d or orders_count in 100% of records: "
        "engagement_level is unknown for all 12 customers"
    ) in messages
    assert (
        "the source sent no last_login_at in 100% of records: "
        "activity_status is unknown for all 12 customers"
    ) in messages
    assert len(messages) == 6  # engagement, activity, channel, segment, tier, created_at


def test_a_source_that_sends_everything_gives_no_warning() -> None:
    """Full coverage: no warning."""
    assert field_warnings(dict.fromkeys(RULE_FIELDS, 1.0), {}, 5) == []


@pytest.mark.parametrize(
    ("share_present", "warned"),
    [(0.11, False), (0.1, False), (0.09, True), (0.0, True)],
)
def test_the_limit_is_absent_from_more_than_90_percent(share_present: float, warned: bool) -> None:
    """Absent from exactly 90% does not warn; from more than 90% does."""
    coverage = {**dict.fromkeys(RULE_FIELDS, 1.0), "signup_source": share_present}
    assert bool(field_warnings(coverage, {}, 10)) is warned


def test_partial_unknowns_and_different_shares_are_named_exactly() -> None:
    """Different shares are named per field; a partial count says "N of M"."""
    coverage = {**dict.fromkeys(RULE_FIELDS, 1.0), "plan": 0.0, "lifetime_value": 0.05}
    [warning] = field_warnings(coverage, {"customer_tier": {"unknown": 950, "basic": 50}}, 1000)
    assert warning["message"] == (
        "the source sent no plan in 100% and no lifetime_value in 95% of records: "
        "customer_tier is unknown for 950 of 1,000 customers"
    )
    assert warning["fields"] == ["plan", "lifetime_value"]
    assert warning["absent_share"] == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("share", "text"), [(1.0, "100%"), (0.9996, "99.9%"), (0.95, "95%"), (0.0, "0%")]
)
def test_shares_never_round_up_to_100_percent(share: float, text: str) -> None:
    """A share just under 1 reads 99.9%, never 100%."""
    assert format_share(share) == text


def test_required_fields_are_unmet_only_when_warned() -> None:
    """--require-fields fails only for the fields a warning names."""
    warnings = field_warnings(REQRES_COVERAGE, ALL_UNKNOWN, 12)
    assert unmet_requirements(warnings, ["email", "sessions_30d"]) == ["sessions_30d"]
    assert unmet_requirements(warnings, ["email"]) == []


def test_page_timeline_is_thinned_and_keeps_the_last_page() -> None:
    """10,000 page arrivals become at most ~120 points, ending on the last page."""
    from customer_sync.pipeline import page_timeline

    arrivals = [10.0 + i * 0.01 for i in range(10_000)]
    points = page_timeline(arrivals, started=10.0)
    assert len(points) <= 121
    assert points[-1] == [99.99, 10_000]
    assert [p[1] for p in points] == sorted(p[1] for p in points)
    assert page_timeline([], started=0.0) == []
    assert page_timeline([1.5], started=1.0) == [[0.5, 1]]
