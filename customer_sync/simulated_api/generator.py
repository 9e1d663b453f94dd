"""Generated datasets of any size, computed lazily one record at a time.

Record ``i`` is a pure function of ``(seed, i, now)``: nothing is stored, so ten million
customers cost no memory and any page is computed on demand. Ids are ``i + 1`` except
for the deliberate problems: exact duplicates (a copy of an earlier record, id included)
and records with no usable id. Same-email duplicates keep their own id ``i + 1``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from .dataset import Dataset, Record, RecordKind
from .randomness import Bits, mix, scramble
from .spellings import (
    COUNTRIES,
    MONEY_STYLES,
    PLANS,
    SIGNUP_SOURCES,
    TIMESTAMP_STYLES,
    US_STATES,
    money,
    timestamp,
)

__all__ = ["GeneratedDataset"]

_SALT_KIND: Final = 0x4B494E44
_SALT_RECORD: Final = 0x5245434F
_SALT_SOURCE: Final = 0x53524345
_SALT_DUP: Final = 0x44555045
_DAY: Final = 86_400
_DUPLICATE_LOOKBACK: Final = 500

_FIRST_NAMES: Final = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Oliver", "Sophia", "Elijah", "Isabella",
    "James", "Mia", "Lucas", "Amelia", "Mateo", "Harper", "Ethan", "Aria", "Hiro", "Yuki",
    "Priya", "Arjun", "Chen", "Mei", "Lukas", "Lena", "Jonas", "Sofia", "Diego", "Camila",
    "Omar", "Aisha", "Kwame", "Zanele", "Ines", "Pierre", "Chloe", "Sven", "Astrid",
    "Maja", "Tomasz",
)  # fmt: skip
_LAST_NAMES: Final = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Tanaka", "Sato", "Patel", "Sharma", "Wang", "Li", "Muller",
    "Schmidt", "Rossi", "Dubois", "Nowak", "Andersson", "Okafor", "Mensah", "Silva",
    "Santos", "Kim", "Nguyen", "OBrien", "Murphy", "Jansen", "de Vries", "Kowalski",
    "Fischer", "Moreau", "Lopez", "Hernandez", "Cohen", "Ahmed", "Singh",
)  # fmt: skip
_DOMAINS: Final = (
    "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com", "example.com",
    "acme.io", "proton.me", "web.de", "mail.co.jp",
)  # fmt: skip
_AVATAR: Final = "https://i.pravatar.cc/128?u="
#: (first, last, email local part) for every name pair.
_NAMES: Final = tuple(
    (first, last, f"{first}.{last}".lower().replace(" ", ""))
    for last in _LAST_NAMES
    for first in _FIRST_NAMES
)
_NAME_COUNT: Final = len(_NAMES)
_UNIT: Final = 1 << 53
# Weighted draws: each tuple repeats an option as often as its weight.
_COUNTRY_DRAW: Final = tuple(c for c in COUNTRIES for _ in range(c[3]))
_TS_DRAW: Final = ("iso_z",) * 6 + ("iso_offset",) * 2 + TIMESTAMP_STYLES
_PLAN_DRAW: Final = (0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4)
_SESSIONS_DRAW: Final = (0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30)
_EXTENSION: Final = (
    "created_at", "last_login_at", "sessions_30d", "orders_count", "lifetime_value",
    "signup_source", "country", "region", "plan", "updated_at",
)  # fmt: skip
_GARBAGE: Final[dict[str, tuple[Any, ...]]] = {
    "created_at": ("not a date", "0000-00-00", "31/12/2021"),
    "last_login_at": ("yesterday", "2099-01-01T00:00:00Z", -5),
    "sessions_30d": ("lots", -3, "n/a"),
    "orders_count": ("many", -1, "1.5k"),
    "lifetime_value": ("N/A", "free", "$-", "12,34,5"),
    "signup_source": ("", "???", "unknown"),
    "country": ("Narnia", "XX", "Atlantis", "Europe"),
    "region": ("ZZ", "Gotham", "North"),
    "plan": ("gold-legacy", "???", "trial??"),
    "updated_at": ("soon", "1970-13-45", "tbd"),
}
_BAD_IDS: Final = (None, "abc", "", "n/a", "MISSING")
_PROFILE_BITS: Final = 12
_PROFILES: Final = 1 << _PROFILE_BITS
_PROFILE_MASK: Final = _PROFILES - 1


def _number(b: Bits, value: int) -> int | str:
    return str(value) if b.below(4) == 0 else value


class GeneratedDataset(Dataset):
    """A deterministic dataset of ``customers`` records for ``seed``, built lazily."""

    def __init__(
        self,
        customers: int,
        *,
        seed: int = 0,
        now: datetime,
        duplicate_rate: float = 0.02,
        bad_record_rate: float = 0.01,
    ) -> None:
        self._size = customers
        self._seed = seed
        self._now = int(now.timestamp())
        # Kind thresholds on the top 53 bits of a hash (integer compares are cheapest).
        self._bad = int(bad_record_rate * _UNIT)
        self._dup_exact = int((bad_record_rate + duplicate_rate / 2) * _UNIT)
        self._dup_any = int((bad_record_rate + duplicate_rate) * _UNIT)
        self._record_key = mix(seed, _SALT_RECORD)
        self._kind_key = mix(seed, _SALT_KIND)
        self._profiles: list[Record | None] = [None] * _PROFILES

    def __len__(self) -> int:
        return self._size

    def kind(self, index: int) -> RecordKind:
        if index == 0:
            return "customer"
        u = scramble(self._kind_key ^ index) >> 11
        if u >= self._dup_any:
            return "customer"
        if u < self._bad:
            return "bad_id"
        if u < self._dup_exact:
            return "duplicate"
        return "email_duplicate"

    def record(self, index: int) -> Record:
        if not 0 <= index < self._size:
            raise IndexError(index)
        kind = self.kind(index)
        if kind == "customer":
            return self.customer(index)
        if kind == "duplicate":
            return self.customer(self.source_index(index))
        if kind == "email_duplicate":
            return self._email_duplicate(index)
        return self._bad_id(index)

    def find(self, user_id: int) -> Record | None:
        index = user_id - 1
        if 0 <= index < self._size and self.kind(index) in ("customer", "email_duplicate"):
            return self.record(index)
        return None

    def new_record(self, number: int) -> Record:
        return self.customer(self._size + number)

    def expected_ids(self) -> list[int]:
        return [i + 1 for i in range(self._size) if self.kind(i) == "customer"]

    def source_index(self, index: int) -> int:
        """The earlier customer that duplicate ``index`` copies (or shares an email with)."""
        back = 1 + mix(self._seed, index, _SALT_SOURCE) % min(index, _DUPLICATE_LOOKBACK)
        source = index - back
        while source > 0 and self.kind(source) != "customer":
            source -= 1
        return source

    def customer(self, index: int) -> Record:
        """The distinct customer that index ``index`` would hold (id ``index + 1``).

        Names, email and id are drawn per record; the engagement extension comes from one
        of :data:`_PROFILES` lazily built profiles (themselves pure functions of the seed),
        which keeps a record at a few microseconds so a page of 1000 stays cheap.
        """
        h = scramble(self._record_key ^ index)
        profile = self._profiles[h & _PROFILE_MASK] or self._build_profile(h & _PROFILE_MASK)
        h >>= _PROFILE_BITS
        first, last, local = _NAMES[h % _NAME_COUNT]
        h //= _NAME_COUNT
        domain = _DOMAINS[h % 10]
        h //= 10
        user_id = index + 1
        email = f"{local}.{user_id}@{domain}"
        casing = h & 63
        h >>= 6
        if casing < 3:
            email = (email.upper(), f" {email} ", f"{email} ")[casing]
        elif casing < 5:
            first = first.lower() if casing == 3 else first.upper()
        elif casing < 7:
            last = f" {last} " if casing == 5 else last.upper()
        return {
            "id": str(user_id) if h % 10 == 0 else user_id,
            "email": email,
            "first_name": first,
            "last_name": last,
            "avatar": f"{_AVATAR}{user_id}",
            **profile,
        }

    def _build_profile(self, number: int) -> Record:
        """Profile ``number``: the extension fields, in every spelling the API uses."""
        b = Bits(self._seed, number, _SALT_RECORD)
        alpha2, alpha3, name, _ = b.pick(_COUNTRY_DRAW)
        country = (alpha2, alpha3, name, name.lower(), alpha3.lower(), alpha2.lower())[b.below(6)]
        tier = b.pick(_PLAN_DRAW)
        plan_spellings, (low, high) = PLANS[tier]
        now = self._now
        created = now - b.between(40, 2_000) * _DAY - b.below(_DAY)
        if b.below(10) < 7:  # active: seen in the last 30 days
            last_login = now - b.below(29 * _DAY)
        else:
            last_login = now - b.between(31, 700) * _DAY
        last_login = max(last_login, created)
        updated = max(last_login, now - b.between(0, 60) * _DAY - b.below(_DAY))
        sessions = b.pick(_SESSIONS_DRAW) if last_login > now - 30 * _DAY else b.below(2)
        profile: Record = {
            "created_at": timestamp(created, b.pick(_TS_DRAW), variant=b.below(1000)),
            "last_login_at": timestamp(last_login, b.pick(_TS_DRAW), variant=b.below(1000)),
            "sessions_30d": _number(b, sessions),
            "orders_count": _number(b, b.below(3) + tier * b.below(6)),
            "lifetime_value": money(b.between(low, high), b.pick(MONEY_STYLES)),
            "signup_source": b.pick(SIGNUP_SOURCES),
            "country": country,
            "region": None,
            "plan": b.pick(plan_spellings),
            "updated_at": timestamp(updated, b.pick(_TS_DRAW), variant=b.below(1000)),
        }
        if alpha2 == "US":
            code, state = b.pick(US_STATES)
            profile["region"] = (code, state, code.lower(), state.upper())[b.below(4)]
        else:
            del profile["region"]
        roll = b.below(100)
        if roll < 10:  # some extension fields missing or null
            for _ in range(1 + b.below(3)):
                field = b.pick(_EXTENSION)
                if b.below(2) == 0:
                    profile.pop(field, None)
                else:
                    profile[field] = None
        elif roll < 13:  # one field garbled
            field = b.pick(_EXTENSION)
            profile[field] = b.pick(_GARBAGE[field])
        self._profiles[number] = profile
        return profile

    def _email_duplicate(self, index: int) -> Record:
        source = self.customer(self.source_index(index))
        b = Bits(self._seed, index, _SALT_DUP)
        email = str(source.get("email", "")).strip()
        record = self.customer(index)
        record["email"] = (f" {email.upper()} ", email.lower(), f"{email} ", email.title())[
            b.below(4)
        ]
        record["first_name"] = source.get("first_name")
        record["last_name"] = source.get("last_name")
        for field in ("sessions_30d", "orders_count", "lifetime_value"):
            if b.below(2) == 0:
                record[field] = None
        return record

    def _bad_id(self, index: int) -> Record:
        record = self.customer(index)
        bad = _BAD_IDS[mix(self._seed, index, _SALT_KIND) % len(_BAD_IDS)]
        if bad == "MISSING":
            del record["id"]
        else:
            record["id"] = bad
        return record
