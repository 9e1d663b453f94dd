"""Rule market_segment: countries, US states and the segment tables."""

from __future__ import annotations

from typing import Any

import polars as pl
import pycountry
import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_sync.transform import geo
from customer_sync.transform.rules.segment import (
    country_value,
    market_segment,
    market_segment_expr,
    region_expr,
    region_text,
    region_value,
    state_value,
)
from tests.transform.support import awkward, run_expr

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


@pytest.mark.parametrize(
    ("country", "region", "canonical"),
    [
        ("usa", "california", "CA"),
        ("US", "US-NY", "NY"),
        ("US", "PR", None),  # a territory is not a state
        ("US", None, None),
        ("Germany", "  Bavaria  ", "Bavaria"),
        ("DE", "--", None),
        (None, "Ontario", "Ontario"),
        ("Narnia", 7, None),
    ],
)
def test_canonical_region(country: Any, region: Any, canonical: str | None) -> None:
    """US customers get a state code; others the region text, whitespace collapsed."""
    assert region_value(country, region) == canonical


countries = awkward | st.sampled_from(["US", "usa", "DEU", "Japan", "Brazil", "Narnia"])
regions = awkward | st.sampled_from(["CA", "ny", "Texas", "PR", "Bavaria"])


@given(st.lists(st.tuples(countries, regions), max_size=20))
def test_segment_columnar_form_equals_the_scalar_form(pairs: list[tuple[Any, Any]]) -> None:
    """market_segment_expr and region_expr agree with market_segment and region_value."""
    columns = {
        "c": pl.Series([country_value(c) for c, _ in pairs], dtype=pl.String),
        "s": pl.Series([state_value(r) for _, r in pairs], dtype=pl.String),
        "t": pl.Series([region_text(r) for _, r in pairs], dtype=pl.String),
    }
    got = run_expr(market_segment_expr(pl.col("c"), pl.col("s")), **columns)
    assert got == [market_segment(c, r) for c, r in pairs]
    regions_got = run_expr(region_expr(pl.col("c"), pl.col("s"), pl.col("t")), **columns)
    assert regions_got == [region_value(c, r) for c, r in pairs]
