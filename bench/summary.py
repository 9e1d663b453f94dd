"""Median and spread over repetitions, and the formatting the tables share."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Spread",
    "fmt_bytes",
    "fmt_count",
    "fmt_ratio",
    "fmt_seconds",
    "spread",
    "spread_of",
]


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of repeated measurements, with their min and max."""

    median: float
    low: float
    high: float
    n: int

    def fmt(self, unit: str = "", digits: int = 2) -> str:
        median, low, high = (f"{v:.{digits}f}" for v in (self.median, self.low, self.high))
        if self.n == 1 or low == high:
            return f"{median}{unit}"
        return f"{median}{unit} ({low}–{high})"


def spread(values: Iterable[float]) -> Spread | None:
    """The spread of ``values``, or ``None`` when there are none."""
    data = sorted(values)
    if not data:
        return None
    return Spread(statistics.median(data), data[0], data[-1], len(data))


def spread_of(values: Iterable[float]) -> Spread:
    """The spread of ``values``, which must not be empty."""
    result = spread(values)
    if result is None:
        raise ValueError("no values")
    return result


def fmt_seconds(value: Spread | None) -> str:
    if value is None:
        return "–"
    if value.high < 0.1:  # tiny (smoke) runs: milliseconds keep the digits
        ms = Spread(value.median * 1e3, value.low * 1e3, value.high * 1e3, value.n)
        return ms.fmt(" ms")
    return value.fmt(" s")


def fmt_ratio(value: Spread | None) -> str:
    return "–" if value is None else value.fmt("×")


def fmt_count(value: Spread | None) -> str:
    return "–" if value is None else value.fmt(digits=0)


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "–"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            return f"{value / size:.1f} {unit}"
    return f"{value:.0f} B"
