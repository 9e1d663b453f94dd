"""The demo dataset: the 12 real reqres.in users, plus four realistic problem records.

With the default ``per_page=6`` the 12 users fill pages 1 and 2 and the problem records
fill page 3, so a default run walks every data-quality path:

======  ==========================================  ===================================
index   record                                      what a correct pipeline does
======  ==========================================  ===================================
0-11    ids 1-12, the reqres users, all fields ok   exported, quality 100
12      exact copy of Emma Wong (id 3)              merged into id 3 (same id)
13      id 13, `` Janet.Weaver@REQRES.in ``          merged into id 2 (same email)
14      id ``null``                                 rejected (no usable id)
15      id ``"14"``, odd case, garbled fields       exported with a low quality score
======  ==========================================  ===================================

Timestamps are relative to ``now`` (the moment the server starts), so "active"
customers stay active whenever the demo runs. Every spelling the real API uses appears
at least once: string ids and counts, ISO-8601 with ``Z``/offset/no zone, space-separated,
date-only, epoch seconds and milliseconds (int and string), every money spelling, and
country codes, alpha-3 codes and English names in any case.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from .dataset import Dataset, Record, RecordKind, usable_id
from .generator import GeneratedDataset
from .spellings import timestamp

__all__ = ["DEMO_USERS", "DemoDataset", "demo_dataset"]

_DAY: Final = 86_400
_HOUR: Final = 3_600

#: The 12 users reqres.in serves, as (id, first name, last name).
DEMO_USERS: Final = (
    (1, "George", "Bluth"),
    (2, "Janet", "Weaver"),
    (3, "Emma", "Wong"),
    (4, "Eve", "Holt"),
    (5, "Charles", "Morris"),
    (6, "Tracey", "Ramos"),
    (7, "Michael", "Lawson"),
    (8, "Lindsay", "Ferguson"),
    (9, "Tobias", "Funke"),
    (10, "Byron", "Fields"),
    (11, "George", "Edwards"),
    (12, "Rachel", "Howell"),
)

#: Ids given to customers who "sign up" while the API runs (insert drift) start here.
NEW_CUSTOMER_FIRST_ID: Final = 101


def _reqres(user_id: int, first: str, last: str) -> Record:
    return {
        "id": user_id,
        "email": f"{first.lower()}.{last.lower()}@reqres.in",
        "first_name": first,
        "last_name": last,
        "avatar": f"https://reqres.in/img/faces/{user_id}-image.jpg",
    }


def _users(now: int) -> list[Record]:
    """The 12 reqres users with engagement extensions (see the module table)."""

    def ago(days: float, style: str = "iso_z", variant: int = 0) -> str | int:
        return timestamp(now - round(days * _DAY), style, variant=variant)

    # Each entry: extension fields, in the order the API sends them.
    extensions: list[Record] = [
        {  # 1 George Bluth: high, active, website, US-West, premium, quality 100
            "created_at": ago(812),
            "last_login_at": ago(2),
            "sessions_30d": 14,
            "orders_count": 6,
            "lifetime_value": "$2,480.00",
            "signup_source": "Website",
            "country": "US",
            "region": "CA",
            "plan": "premium",
            "updated_at": ago(2),
        },
        {  # 2 Janet Weaver: high, active, mobile, US-East, enterprise
            "created_at": ago(1404, "iso_offset", 1),
            "last_login_at": ago(1, "iso_offset", 2),
            "sessions_30d": "22",
            "orders_count": "31",
            "lifetime_value": "USD 15230.00",
            "signup_source": "iOS App",
            "country": "usa",
            "region": "New York",
            "plan": "Enterprise",
            "updated_at": ago(1, "iso_millis_utc", 250),
        },
        {  # 3 Emma Wong: medium, active, mobile, APAC, basic
            "created_at": ago(230, "date"),
            "last_login_at": ago(10, "epoch_s"),
            "sessions_30d": 4,
            "orders_count": 1,
            "lifetime_value": 89.99,
            "signup_source": "android_app",
            "country": "Japan",
            "plan": "basic",
            "updated_at": ago(10, "epoch_s"),
        },
        {  # 4 Eve Holt: medium (orders), inactive, email, EU, premium
            "created_at": ago(990, "iso_naive"),
            "last_login_at": ago(120, "space_naive"),
            "sessions_30d": 0,
            "orders_count": 2,
            "lifetime_value": "1,150.00",
            "signup_source": "Newsletter",
            "country": "DEU",
            "plan": "PRO",
            "updated_at": ago(119, "iso_z"),
        },
        {  # 5 Charles Morris: medium, active, email, EU, standard (plus)
            "created_at": ago(400, "epoch_ms"),
            "last_login_at": ago(5, "epoch_ms_str", 431),
            "sessions_30d": "7",
            "orders_count": 3,
            "lifetime_value": "$640.50",
            "signup_source": "e-mail",
            "country": "fr",
            "plan": "plus",
            "updated_at": ago(5, "iso_z"),
        },
        {  # 6 Tracey Ramos: low, active, website, US-East, free/starter
            "created_at": ago(60, "iso_z"),
            "last_login_at": ago(20, "space_naive"),
            "sessions_30d": 1,
            "orders_count": 0,
            "lifetime_value": "35.00",
            "signup_source": "web",
            "country": "US",
            "region": "ny",
            "plan": "starter",
            "updated_at": ago(20, "epoch_s_str"),
        },
        {  # 7 Michael Lawson: high, active, referral, Other (Brazil), premium
            "created_at": ago(1500, "iso_z"),
            "last_login_at": ago(1, "iso_naive"),
            "sessions_30d": 12,
            "orders_count": "9",
            "lifetime_value": "$3,200.00",
            "signup_source": "Referral",
            "country": "BR",
            "plan": "premium",
            "updated_at": ago(1, "iso_z"),
        },
        {  # 8 Lindsay Ferguson: low, active, mobile, APAC, free
            "created_at": ago(45, "iso_z"),
            "last_login_at": ago(3, "date"),
            "sessions_30d": 2,
            "orders_count": 0,
            "lifetime_value": "0.00",
            "signup_source": "iOS App",
            "country": "AUS",
            "plan": "free",
            "updated_at": ago(3, "iso_z"),
        },
        {  # 9 Tobias Funke: medium, inactive, paid ads, US-West, enterprise
            "created_at": ago(1800, "epoch_s_str"),
            "last_login_at": ago(200, "iso_z"),
            "sessions_30d": 3,
            "orders_count": "8",
            "lifetime_value": "$12,750.00",
            "signup_source": "Google Ads",
            "country": "United States",
            "region": "WA",
            "plan": "Enterprise",
            "updated_at": ago(200, "iso_z"),
        },
        {  # 10 Byron Fields: medium, active, website, EU, standard (plus)
            "created_at": ago(700, "iso_offset", 3),
            "last_login_at": ago(4, "iso_z"),
            "sessions_30d": 9,
            "orders_count": 2,
            "lifetime_value": "480.00",
            "signup_source": "web",
            "country": "Spain",
            "plan": "plus",
            "updated_at": ago(4, "iso_z"),
        },
        {  # 11 George Edwards: high, active, mobile, APAC, basic
            "created_at": ago(300, "iso_z"),
            "last_login_at": ago(1, "epoch_s"),
            "sessions_30d": "15",
            "orders_count": 1,
            "lifetime_value": "USD 120.00",
            "signup_source": "android_app",
            "country": "IN",
            "plan": "basic",
            "updated_at": ago(1, "epoch_ms"),
        },
        {  # 12 Rachel Howell: high, active, email, US-East, premium
            "created_at": ago(600, "iso_z"),
            "last_login_at": ago(0.25, "epoch_ms"),
            "sessions_30d": 11,
            "orders_count": 5,
            "lifetime_value": "$1,999.99",
            "signup_source": "Newsletter",
            "country": "us",
            "region": "Florida",
            "plan": "PRO",
            "updated_at": ago(0.25, "iso_z"),
        },
    ]
    return [
        {**_reqres(user_id, first, last), **extension}
        for (user_id, first, last), extension in zip(DEMO_USERS, extensions, strict=True)
    ]


def _problems(now: int, users: list[Record]) -> list[Record]:
    """Page 3: one of each data-quality problem."""
    emma_again = dict(users[2])  # exact duplicate of id 3, on another page
    janet_again: Record = {  # same email as id 2 under another id, fewer valid fields
        "id": 13,
        "email": " Janet.Weaver@REQRES.in ",
        "first_name": "JANET",
        "last_name": "weaver ",
        "avatar": None,
        "created_at": timestamp(now - 30 * _DAY, "iso_z"),
        "last_login_at": None,
        "lifetime_value": "",
        "signup_source": "iOS App",
        "country": "USA",
        "plan": None,
        "updated_at": timestamp(now - 30 * _DAY, "iso_z"),
    }
    no_id: Record = {  # no usable id: rejected
        "id": None,
        "email": "ghost.user@reqres.in",
        "first_name": "Ghost",
        "last_name": "User",
        "avatar": "https://reqres.in/img/faces/0-image.jpg",
        "created_at": timestamp(now - 10 * _DAY, "iso_z"),
        "last_login_at": timestamp(now - 1 * _DAY, "iso_z"),
        "sessions_30d": 5,
        "orders_count": 1,
        "lifetime_value": "$50.00",
        "signup_source": "web",
        "country": "US",
        "region": "CA",
        "plan": "free",
        "updated_at": timestamp(now - 1 * _DAY, "iso_z"),
    }
    garbled: Record = {  # usable id as a string, everything else messy
        "id": "14",
        "email": "lucille.bluth(at)reqres",
        "first_name": "  lUCILLE ",
        "last_name": "BLUTH",
        "created_at": "31/02/2020",
        "last_login_at": timestamp(now + 400 * _DAY, "iso_z"),
        "sessions_30d": "lots",
        "orders_count": -2,
        "lifetime_value": "a lot of money",
        "signup_source": "???",
        "country": "Atlantis",
        "region": "Gotham",
        "plan": "gold-legacy",
        "updated_at": None,
    }
    return [emma_again, janet_again, no_id, garbled]


class DemoDataset(Dataset):
    """The 16 demo records, held in a list (they are few)."""

    def __init__(self, *, now: datetime, seed: int = 0) -> None:
        epoch = int(now.timestamp())
        users = _users(epoch)
        self._records = users + _problems(epoch, users)
        problems: list[RecordKind] = ["duplicate", "email_duplicate", "bad_id", "customer"]
        customers: list[RecordKind] = ["customer"] * len(users)
        self._kinds = customers + problems
        self._signups = GeneratedDataset(0, seed=seed, now=now)

    def __len__(self) -> int:
        return len(self._records)

    def record(self, index: int) -> Record:
        return dict(self._records[index])

    def kind(self, index: int) -> RecordKind:
        return self._kinds[index]

    def find(self, user_id: int) -> Record | None:
        for record in self._records:
            if usable_id(record.get("id")) == user_id:
                return dict(record)
        return None

    def new_record(self, number: int) -> Record:
        return self._signups.customer(NEW_CUSTOMER_FIRST_ID - 1 + number)


def demo_dataset(now: datetime, *, seed: int = 0) -> DemoDataset:
    """The demo dataset with timestamps relative to ``now``."""
    return DemoDataset(now=now, seed=seed)
