"""Scratch: measure the transform on 1,000,000 realistic, messy raw records.

Run: /work/venv/bin/python -m bench.transform_scratch [N] [--stream]
Prints records/s of ``process_customers`` and the peak RSS. Not a test; a proper bench/ comes later.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

# fmt: off
FIRST = ["alice", "BOB", "Carol", "dave", "Eve", "frank", "GRACE", "heidi", "Ivan", "judy",
         "Mallory", "niaj", "olivia", "Peggy", "rupert", "Sybil", "trent", "victor", "walter",
         "o'neil", "mary-jane", "Jean Luc", "  zoe  ", "", None]
LAST = ["smith", "JOHNSON", "McDonald", "o'brien", "van der berg", "Garcia", "miller", "DAVIS",
        "Rodriguez", "martinez", "hernandez", "Lopez", "gonzalez", "Wilson", "anderson", "Thomas",
        "taylor", "Moore", "jackson", "Martin", " lee ", "", None]
DOMAINS = ["gmail.com", "Yahoo.com", "outlook.com", "example.org", "corp.co.uk", "mail.de"]
SOURCES = ["web", "Website", "iOS App", "android_app", "Newsletter", "e-mail", "organic", "SEO",
           "direct", "referral", "partner", "mobile", "www", None, "", 42]
COUNTRIES = ["US", "usa", "United States", "U.S.", "DEU", "Germany", "Japan", "jp", "GB", "UK",
             "France", "India", "Brazil", "BR", "Canada", "au", "South Korea", "Narnia", None, ""]
REGIONS = ["CA", "California", "ny", "New York", "tx", "Texas", "WA", "co", "fl", "ZZ", None]
PLANS = ["Enterprise", "PRO", "premium", "plus", "free", "starter", "basic", "gold", None]
# fmt: on
AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


def _timestamp(rng: random.Random) -> Any:
    moment = AS_OF - timedelta(seconds=rng.randrange(0, 400 * 86400))
    pick = rng.random()
    if pick < 0.35:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if pick < 0.5:
        return moment.strftime("%Y-%m-%dT%H:%M:%S+02:00")
    if pick < 0.6:
        return moment.strftime("%Y-%m-%d %H:%M:%S")
    if pick < 0.7:
        return moment.strftime("%Y-%m-%d")
    if pick < 0.8:
        return int(moment.timestamp())
    if pick < 0.85:
        return int(moment.timestamp() * 1000)
    if pick < 0.9:
        return str(int(moment.timestamp()))
    if pick < 0.95:
        return None
    return "not a date"


def _money(rng: random.Random) -> Any:
    value = round(rng.expovariate(1 / 2000), 2)
    pick = rng.random()
    if pick < 0.3:
        return value
    if pick < 0.5:
        return f"{value:.2f}"
    if pick < 0.65:
        return f"{value:,.2f}"
    if pick < 0.8:
        return f"${value:,.2f}"
    if pick < 0.9:
        return f"USD {value:.2f}"
    return rng.choice([None, "", "n/a", -5])


def _count(rng: random.Random) -> Any:
    value = rng.randrange(0, 20)
    pick = rng.random()
    if pick < 0.7:
        return value
    if pick < 0.9:
        return str(value)
    return rng.choice([None, "", "many", -1, 3.0])


def make_records(n: int, seed: int = 7, start: int = 0) -> list[Any]:
    """``n`` raw records: about 5% share an id, 3% share an email, 1% are rejected.

    ``start`` numbers the records (ids, emails) as if ``start`` records came before.
    """
    rng = random.Random(seed)
    records: list[Any] = []
    for i in range(start, start + n):
        pick = rng.random()
        if pick < 0.05 and i:
            cid: Any = rng.randrange(1, i + 1)
        elif pick < 0.06:
            cid = rng.choice([None, "", "abc", -3, 0, True, [1]])
        else:
            cid = i + 1 if pick < 0.8 else str(i + 1)
        first = rng.choice(FIRST)
        last = rng.choice(LAST)
        if rng.random() < 0.03 and i:
            mail = f"user{rng.randrange(0, i)}@gmail.com"
        else:
            mail = f"  User{i}@{rng.choice(DOMAINS)} " if rng.random() < 0.9 else "bad-email"
        record = {
            "id": cid,
            "first_name": first,
            "last_name": last,
            "email": mail,
            "created_at": _timestamp(rng),
            "last_login_at": _timestamp(rng),
            "updated_at": _timestamp(rng),
            "sessions_30d": _count(rng),
            "orders_count": _count(rng),
            "lifetime_value": _money(rng),
            "signup_source": rng.choice(SOURCES),
            "country": rng.choice(COUNTRIES),
            "region": rng.choice(REGIONS),
            "plan": rng.choice(PLANS),
        }
        if rng.random() < 0.002:
            records.append(rng.choice(["junk", 5, None, [record]]))
        else:
            records.append(record)
    return records


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one_shot(n: int) -> None:
    """Generate all records first, then time process_customers on them."""
    from customer_sync.transform import CustomerDataProcessor

    t0 = time.perf_counter()
    records = make_records(n)
    t1 = time.perf_counter()
    rss_before = _peak_rss_mb()
    result = CustomerDataProcessor(as_of=AS_OF).process_customers(records)
    t2 = time.perf_counter()
    print(f"generated {n:,} records in {t1 - t0:.1f} s (peak RSS so far {rss_before:,.0f} MB)")
    print(f"process_customers: {t2 - t1:.2f} s = {n / (t2 - t1):,.0f} records/s")
    print(f"counts: {result.counts}")
    print(f"peak RSS (generated records + transform): {_peak_rss_mb():,.0f} MB")


def streaming(n: int, page: int = 1000) -> None:
    """Feed pages as they are generated (raw dicts die with their page): memory stays flat."""
    from customer_sync.transform import CustomerDataProcessor

    processor = CustomerDataProcessor(as_of=AS_OF)
    generating = transforming = 0.0
    for start in range(0, n, page):
        t0 = time.perf_counter()
        batch = make_records(min(page, n - start), seed=start, start=start)
        t1 = time.perf_counter()
        processor.add_batch(batch)
        transforming += time.perf_counter() - t1
        generating += t1 - t0
    t2 = time.perf_counter()
    result = processor.finish()
    transforming += time.perf_counter() - t2
    print(f"streamed {n:,} records in pages of {page}: generating {generating:.1f} s")
    print(f"add_batch + finish: {transforming:.2f} s = {n / transforming:,.0f} records/s")
    print(f"counts: {result.counts}")
    print(f"peak RSS (one page + transform state + result): {_peak_rss_mb():,.0f} MB")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    if "--stream" in sys.argv:
        streaming(n)
    else:
        one_shot(n)


if __name__ == "__main__":
    main()
