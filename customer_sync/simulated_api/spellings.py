"""The many ways the real API spells the same value.

Pure formatting helpers shared by the demo and the generated datasets: timestamps,
money, and the vocabularies (countries, US states, signup sources, plans).
"""

from __future__ import annotations

import time
from typing import Final

__all__ = [
    "COUNTRIES",
    "PLANS",
    "SIGNUP_SOURCES",
    "TIMESTAMP_STYLES",
    "US_STATES",
    "money",
    "timestamp",
]

#: Timestamp spellings the API really sends.
TIMESTAMP_STYLES: Final = (
    "iso_z",  # 2024-05-01T12:30:00Z
    "iso_offset",  # 2024-05-01T14:30:00+02:00
    "iso_millis_utc",  # 2024-05-01T12:30:00.123+00:00
    "iso_naive",  # 2024-05-01T12:30:00 (UTC)
    "space_naive",  # 2024-05-01 12:30:00 (UTC)
    "date",  # 2024-05-01
    "epoch_s",  # 1714566600
    "epoch_s_str",  # "1714566600"
    "epoch_ms",  # 1714566600000
    "epoch_ms_str",  # "1714566600000"
)

_OFFSETS_MINUTES: Final = (-480, -300, 60, 120, 330, 540, 600)


def timestamp(epoch: int, style: str, *, variant: int = 0) -> str | int:
    """``epoch`` (UTC seconds) spelled in ``style``; ``variant`` picks the offset/millis."""
    if style == "epoch_s":
        return epoch
    if style == "epoch_s_str":
        return str(epoch)
    if style == "epoch_ms":
        return epoch * 1000 + variant % 1000
    if style == "epoch_ms_str":
        return str(epoch * 1000 + variant % 1000)
    if style == "iso_offset":
        minutes = _OFFSETS_MINUTES[variant % len(_OFFSETS_MINUTES)]
        local = time.gmtime(epoch + minutes * 60)
        sign = "+" if minutes >= 0 else "-"
        hours, mins = divmod(abs(minutes), 60)
        return time.strftime("%Y-%m-%dT%H:%M:%S", local) + f"{sign}{hours:02d}:{mins:02d}"
    utc = time.gmtime(epoch)
    if style == "iso_z":
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", utc)
    if style == "iso_millis_utc":
        return time.strftime("%Y-%m-%dT%H:%M:%S", utc) + f".{variant % 1000:03d}+00:00"
    if style == "iso_naive":
        return time.strftime("%Y-%m-%dT%H:%M:%S", utc)
    if style == "space_naive":
        return time.strftime("%Y-%m-%d %H:%M:%S", utc)
    if style == "date":
        return time.strftime("%Y-%m-%d", utc)
    raise ValueError(f"unknown timestamp style {style!r}")


#: Money spellings: 1234.5, "1234.50", "1,234.50", "$1,234.50", "USD 1234.50".
MONEY_STYLES: Final = ("float", "plain", "grouped", "dollar", "usd")


def money(cents: int, style: str) -> str | float:
    """An amount in USD cents spelled in ``style``."""
    dollars = cents / 100
    if style == "float":
        return dollars
    if style == "plain":
        return f"{dollars:.2f}"
    if style == "grouped":
        return f"{dollars:,.2f}"
    if style == "dollar":
        return f"${dollars:,.2f}"
    if style == "usd":
        return f"USD {dollars:.2f}"
    raise ValueError(f"unknown money style {style!r}")


#: Countries as (alpha-2, alpha-3, English name, weight). Spellings vary in case.
COUNTRIES: Final = (
    ("US", "USA", "United States", 40),
    ("CA", "CAN", "Canada", 5),
    ("GB", "GBR", "United Kingdom", 6),
    ("DE", "DEU", "Germany", 6),
    ("FR", "FRA", "France", 5),
    ("ES", "ESP", "Spain", 3),
    ("IT", "ITA", "Italy", 3),
    ("NL", "NLD", "Netherlands", 2),
    ("SE", "SWE", "Sweden", 2),
    ("PL", "POL", "Poland", 2),
    ("IE", "IRL", "Ireland", 1),
    ("JP", "JPN", "Japan", 4),
    ("CN", "CHN", "China", 2),
    ("IN", "IND", "India", 4),
    ("AU", "AUS", "Australia", 3),
    ("SG", "SGP", "Singapore", 2),
    ("BR", "BRA", "Brazil", 3),
    ("MX", "MEX", "Mexico", 2),
    ("ZA", "ZAF", "South Africa", 1),
    ("NG", "NGA", "Nigeria", 1),
    ("AR", "ARG", "Argentina", 1),
)

#: US states as (code, name); west of the Mississippi first, then east.
US_STATES: Final = (
    ("CA", "California"),
    ("WA", "Washington"),
    ("OR", "Oregon"),
    ("NV", "Nevada"),
    ("AZ", "Arizona"),
    ("CO", "Colorado"),
    ("UT", "Utah"),
    ("TX", "Texas"),
    ("NY", "New York"),
    ("MA", "Massachusetts"),
    ("NJ", "New Jersey"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("PA", "Pennsylvania"),
    ("IL", "Illinois"),
    ("VA", "Virginia"),
)

#: Free-text signup sources as the API sends them.
SIGNUP_SOURCES: Final = (
    "web",
    "Website",
    "website",
    "WEB",
    "iOS App",
    "ios",
    "android_app",
    "Android",
    "Newsletter",
    "e-mail",
    "email",
    "Email Campaign",
    "Google Ads",
    "facebook",
    "Referral",
    "partner",
)

#: Plan spellings grouped by the tier they mean, cheapest first, with LTV cents ranges.
PLANS: Final = (
    (("free", "Free", "FREE"), (0, 5_000)),
    (("starter", "basic", "BASIC", "Basic"), (1_000, 60_000)),
    (("plus", "Plus"), (20_000, 99_900)),
    (("premium", "Premium", "PRO", "pro", "Pro"), (100_000, 999_900)),
    (("Enterprise", "enterprise", "ENTERPRISE"), (1_000_000, 6_000_000)),
)
