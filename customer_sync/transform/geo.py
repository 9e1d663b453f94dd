"""Country and US-state resolution, and the market segment tables.

Countries come from pycountry (ISO 3166-1: alpha-2, alpha-3, English name, official name,
common name) plus a short table of everyday aliases ("USA", "U.K.", "South Korea", ...).
US states come from pycountry's ISO 3166-2 subdivisions of type State and District (the
50 states and DC; outlying areas such as PR or GU are not states here).

Lookups compare a *key*: accents removed, case-folded, dots and apostrophes dropped,
"&" read as "and", every other non-alphanumeric run read as one space, a leading "the"
dropped, "st" read as "saint", and a run of single letters joined ("U. S. A." -> "usa").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any, Final

import pycountry

__all__ = [
    "APAC_COUNTRIES",
    "EUROPE_COUNTRIES",
    "US_WEST_STATES",
    "country_code",
    "lookup_key",
    "segment_for_country",
    "us_state_code",
]

_DROPPED = re.compile(r"[.'’`´]")
_WORDS = re.compile(r"[^\W_]+")

# fmt: off
#: EU-27 plus Iceland, Liechtenstein, Norway, Switzerland and the United Kingdom.
EUROPE_COUNTRIES: Final = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT",
        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        "IS", "LI", "NO", "CH", "GB",
    }
)

#: UN M49 sub-regions Eastern Asia (030), South-eastern Asia (035), Southern Asia (034) and
#: the region Oceania (009: Australia and New Zealand, Melanesia, Micronesia, Polynesia).
#: Taiwan is counted in Eastern Asia.
APAC_COUNTRIES: Final = frozenset(
    {
        # Eastern Asia
        "CN", "HK", "MO", "KP", "JP", "MN", "KR", "TW",
        # South-eastern Asia
        "BN", "KH", "ID", "LA", "MY", "MM", "PH", "SG", "TH", "TL", "VN",
        # Southern Asia
        "AF", "BD", "BT", "IN", "IR", "MV", "NP", "PK", "LK",
        # Oceania: Australia and New Zealand, Melanesia, Micronesia, Polynesia
        "AU", "NZ", "CX", "CC", "HM", "NF",
        "FJ", "NC", "PG", "SB", "VU",
        "GU", "KI", "MH", "FM", "NR", "MP", "PW", "UM",
        "AS", "CK", "PF", "NU", "PN", "WS", "TK", "TO", "TV", "WF",
    }
)

#: The US Census West region.
US_WEST_STATES: Final = frozenset(
    {"AK", "AZ", "CA", "CO", "HI", "ID", "MT", "NV", "NM", "OR", "UT", "WA", "WY"}
)

_COUNTRY_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "US": ("USA", "U.S.", "U.S.A.", "United States of America", "America", "US of A"),
    "GB": (
        "UK", "U.K.", "Great Britain", "Britain", "England", "Scotland", "Wales",
        "Northern Ireland",
    ),
    "KR": ("South Korea", "Korea", "Korea, South", "Republic of Korea", "S. Korea"),
    "KP": ("North Korea", "Korea, North", "DPRK"),
    "RU": ("Russia",),
    "CZ": ("Czech Republic",),
    "TR": ("Turkey",),
    "NL": ("Holland",),
    "AE": ("UAE", "Emirates"),
    "CI": ("Ivory Coast",),
    "CD": ("DR Congo", "DRC", "Congo-Kinshasa"),
    "CG": ("Republic of the Congo", "Congo-Brazzaville"),
    "MK": ("Macedonia",),
    "SZ": ("Swaziland",),
    "MM": ("Burma",),
    "CV": ("Cape Verde",),
    "TL": ("East Timor",),
    "VA": ("Vatican", "Vatican City", "Holy See"),
    "PS": ("Palestine",),
    "FM": ("Micronesia",),
    "BN": ("Brunei",),
    "MO": ("Macau",),
}

# fmt: on

_STATE_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "DC": ("Washington DC", "Washington, D.C.", "Washington D.C."),
}


def lookup_key(text: str) -> str:
    """The comparison key of a country or state spelling (see the module docstring)."""
    folded = unicodedata.normalize("NFKD", text)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = _DROPPED.sub("", folded.casefold().replace("&", " and "))
    words = _WORDS.findall(folded)
    if len(words) > 1 and words[0] == "the":
        words = words[1:]
    words = ["saint" if word == "st" else word for word in words]
    if len(words) > 1 and all(len(word) == 1 for word in words):
        return "".join(words)
    return " ".join(words)


def _spellings(country: object) -> Iterable[str]:
    for attr in ("alpha_2", "alpha_3", "name", "official_name", "common_name"):
        value = getattr(country, attr, None)
        if isinstance(value, str):
            yield value
            head, sep, tail = value.partition(", ")
            if sep:  # "Korea, Republic of" is also spelled "Republic of Korea"
                yield f"{tail} {head}"


def _country_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for country in pycountry.countries:
        for spelling in _spellings(country):
            table.setdefault(lookup_key(spelling), country.alpha_2)
    for code, aliases in _COUNTRY_ALIASES.items():
        for alias in aliases:
            table[lookup_key(alias)] = code
    return table


def _state_table() -> dict[str, str]:
    table: dict[str, str] = {}
    subdivisions: Any = pycountry.subdivisions  # untyped library
    for sub in subdivisions.get(country_code="US"):
        if sub.type not in ("State", "District"):
            continue
        code = sub.code.removeprefix("US-")
        for spelling in (code, sub.code, sub.name):
            table[lookup_key(spelling)] = code
    for code, aliases in _STATE_ALIASES.items():
        for alias in aliases:
            table[lookup_key(alias)] = code
    return table


_COUNTRIES: Final = _country_table()
_STATES: Final = _state_table()


def country_code(text: str) -> str | None:
    """ISO alpha-2 code of a country spelling, or None when it is not recognized."""
    return _COUNTRIES.get(lookup_key(text))


def us_state_code(text: str) -> str | None:
    """Two-letter code of a US state or DC (code or name, any case), or None."""
    return _STATES.get(lookup_key(text))


def segment_for_country(code: str) -> str:
    """Segment of a non-US alpha-2 code: "EU", "APAC" or "Other"."""
    if code in EUROPE_COUNTRIES:
        return "EU"
    if code in APAC_COUNTRIES:
        return "APAC"
    return "Other"
