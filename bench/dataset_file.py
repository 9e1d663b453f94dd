"""Raw-record files for the transform benchmark, generated once into ``bench/data/``.

Records come from the simulator's own generator (a pure function of seed and index), so
the file holds what the API would serve. The file name carries the size, the seed and a
digest of the generator's source: a changed generator means a new file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson

from .simulator_proc import DATA_NOW

__all__ = ["AS_OF", "dataset_path", "ensure_dataset"]

#: The transform's as-of: the moment the generated timestamps are relative to.
AS_OF = DATA_NOW
_CHUNK = 10_000


def _generator_digest(repo_root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted((repo_root / "customer_sync" / "simulated_api").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def dataset_path(data_dir: Path, repo_root: Path, customers: int, seed: int) -> Path:
    return data_dir / f"raw-{customers}-seed{seed}-{_generator_digest(repo_root)}.json"


def ensure_dataset(data_dir: Path, repo_root: Path, customers: int, seed: int) -> Path:
    """The path of a JSON array of ``customers`` raw records, written if not there yet."""
    path = dataset_path(data_dir, repo_root, customers, seed)
    if path.exists():
        return path
    from customer_sync.simulated_api.generator import GeneratedDataset

    dataset = GeneratedDataset(customers, seed=seed, now=AS_OF)
    data_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with partial.open("wb") as out:
        out.write(b"[")
        for start in range(0, customers, _CHUNK):
            chunk = [dataset.record(i) for i in range(start, min(customers, start + _CHUNK))]
            if start:
                out.write(b",")
            out.write(orjson.dumps(chunk)[1:-1])
        out.write(b"]")
    partial.replace(path)
    for stale in data_dir.glob(f"raw-{customers}-seed{seed}-*.json"):
        if stale != path:
            stale.unlink()  # from an older generator
    return path
