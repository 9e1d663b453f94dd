"""Deterministic pseudo-randomness as pure functions of integer keys.

Every random decision of the simulator (which record is a duplicate, which request
fails, how a field is spelled) is ``hash(seed, key, ...)``, never a shared RNG, so the
order in which concurrent requests arrive cannot change any answer.
The mixer is SplitMix64; Python's ``hash()`` is avoided because it is salted for str.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TypeVar

__all__ = ["Bits", "mix", "scramble", "stable_key", "to_unit", "unit"]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15
_T = TypeVar("_T")


def scramble(x: int) -> int:
    """One SplitMix64 step: a well-mixed 64-bit hash of one 64-bit integer."""
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return x ^ (x >> 31)


def mix(*keys: int) -> int:
    """A 64-bit hash of a sequence of integers (negative ones included)."""
    h = 0
    for key in keys:
        h = scramble(h ^ (key & _MASK))
    return h


def unit(*keys: int) -> float:
    """A uniform float in [0, 1) determined by ``keys``."""
    return to_unit(mix(*keys))


def to_unit(h: int) -> float:
    """A 64-bit hash as a uniform float in [0, 1)."""
    return (h >> 11) / 9007199254740992.0  # 2**53


def stable_key(text: str) -> int:
    """A stable integer for a string (CRC-32; enough to key a hash, not for security)."""
    return zlib.crc32(text.encode("utf-8"))


class Bits:
    """A small stream of deterministic choices seeded by integer keys.

    Each draw consumes part of a 64-bit hash and refills from the mixer when it runs low,
    so one record's dozen choices cost a few integer operations each.
    """

    __slots__ = ("_pool", "_range", "_state")

    def __init__(self, *keys: int) -> None:
        self._state = mix(*keys)
        self._pool = self._state
        self._range = 1 << 64

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``; ``n`` must be at most 2**32."""
        if self._range < (n << 16):
            self._state = scramble(self._state)
            self._pool = self._state
            self._range = 1 << 64
        value = self._pool % n
        self._pool //= n
        self._range //= n
        return value

    def chance(self, probability: float) -> bool:
        """True with the given probability (resolution 1e-6)."""
        return self.below(1_000_000) < probability * 1_000_000

    def pick(self, options: Sequence[_T]) -> _T:
        """One element of ``options``."""
        return options[self.below(len(options))]

    def between(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        return low + self.below(high - low + 1)
