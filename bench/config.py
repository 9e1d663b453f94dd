"""The harness's one configuration object, built once from the command line.

Full runs use the sizes of issue #7; ``--smoke`` shrinks everything to a few hundred
records, no latency and no faults, so CI can check the harness works in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from .simulator_proc import DEFAULT_MODULE, SimSpec

__all__ = [
    "BenchConfig",
    "HeaderlessParams",
    "PageSizeParams",
    "ScaleParams",
    "Scenario",
    "SlowApiParams",
    "build_config",
]

Scenario = Literal["a", "b", "c", "d", "e", "destinations", "all"]
REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
DATA_DIR = BENCH_DIR / "data"


@dataclass(frozen=True, slots=True)
class SlowApiParams:
    """Scenario A: a slow, rate-limited, faulty API."""

    customers: int = 10_000
    per_page: int = 25
    latency_ms: float = 150.0
    latency_jitter: float = 0.2
    rate_limit: float = 40.0
    burst: int = 10
    fault_rate: float = 0.1

    def sim_spec(self, seed: int) -> SimSpec:
        return SimSpec(
            customers=self.customers,
            max_per_page=max(self.per_page, 100),
            seed=seed,
            fault_rate=self.fault_rate,
            rate_limit=self.rate_limit,
            burst=self.burst,
            latency_ms=self.latency_ms,
            latency_jitter=self.latency_jitter,
        )

    @property
    def pages(self) -> int:
        return -(-self.customers // self.per_page)

    @property
    def lower_bound_seconds(self) -> float | None:
        """Pages ÷ server rate limit: no client can be faster (``None`` if unlimited)."""
        return self.pages / self.rate_limit if self.rate_limit > 0 else None


@dataclass(frozen=True, slots=True)
class ScaleParams:
    """Scenario B: no faults, no latency, the largest page size; growth over N."""

    e2e_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    transform_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    per_page: int = 1000
    destination_size: int | None = None  # None: the largest end-to-end size

    def sim_spec(self, customers: int, seed: int) -> SimSpec:
        return SimSpec(customers=customers, max_per_page=self.per_page, seed=seed)


@dataclass(frozen=True, slots=True)
class HeaderlessParams:
    """Scenario C."""

    customers: int = 10_000
    per_page: int = 25
    rate_limit: float = 40.0
    burst: int = 10
    fault_rate: float = 0.1

    def sim_spec(self, seed: int) -> SimSpec:
        return SimSpec(
            customers=self.customers,
            max_per_page=100,
            seed=seed,
            fault_rate=self.fault_rate,
            rate_limit=self.rate_limit,
            burst=self.burst,
            rate_limit_headers="none",
        )

    @property
    def pages(self) -> int:
        return -(-self.customers // self.per_page)

    def bound(self, faulted: int) -> float:
        """The retry-aware lower bound: (pages + faulted attempts - burst) / rate."""
        return max(0, self.pages + faulted - self.burst) / self.rate_limit


@dataclass(frozen=True, slots=True)
class PageSizeParams:
    """Scenario D."""

    customers: int = 10_000
    max_per_page: int = 100
    small: int = 6

    def sim_spec(self, seed: int) -> SimSpec:
        return SimSpec(customers=self.customers, max_per_page=self.max_per_page, seed=seed)


@dataclass(frozen=True, slots=True)
class BenchConfig:
    scenario: Scenario = "all"
    repeat: int = 3
    smoke: bool = False
    skip_dlt: bool = False
    seed: int = 7
    slow_api: SlowApiParams = SlowApiParams()
    scale: ScaleParams = ScaleParams()
    header_less: HeaderlessParams = HeaderlessParams()
    page_size: PageSizeParams = PageSizeParams()
    output: Path = BENCH_DIR / "results.md"
    raw_output: Path = DATA_DIR / "results.json"
    data_dir: Path = DATA_DIR
    dlt_venv: Path = BENCH_DIR / ".venv-dlt"
    repo_root: Path = REPO_ROOT
    simulator_module: str = DEFAULT_MODULE
    contenders: tuple[str, ...] = ("ours", "naive", "dlt", "dlt-auto")
    timeout: float = 900.0  # per child process


SMOKE = BenchConfig(
    repeat=1,
    smoke=True,
    slow_api=SlowApiParams(
        customers=300,
        per_page=25,
        latency_ms=0.0,
        latency_jitter=0.0,
        rate_limit=1000.0,
        burst=50,
        fault_rate=0.0,
    ),
    scale=ScaleParams(e2e_sizes=(400,), transform_sizes=(100, 400), per_page=100),
    header_less=HeaderlessParams(customers=300, rate_limit=1000.0, burst=50, fault_rate=0.0),
    page_size=PageSizeParams(customers=300),
    output=DATA_DIR / "results-smoke.md",
    raw_output=DATA_DIR / "results-smoke.json",
    timeout=120.0,
)


def _growth(largest: int) -> tuple[int, ...]:
    sizes = (largest // 100, largest // 10, largest)
    return tuple(sorted({size for size in sizes if size >= 10} | {largest}))


def build_config(
    *,
    scenario: Scenario = "all",
    smoke: bool = False,
    customers: int | None = None,
    per_page: int | None = None,
    sizes: tuple[int, ...] | None = None,
    repeat: int | None = None,
    skip_dlt: bool = False,
    output: Path | None = None,
    dlt_venv: Path | None = None,
    seed: int | None = None,
    simulator_module: str | None = None,
    contenders: tuple[str, ...] | None = None,
    destination_size: int | None = None,
) -> BenchConfig:
    """Start from the full-size (or smoke) defaults and apply what the user asked for."""
    config = SMOKE if smoke else BenchConfig()
    slow, scale = config.slow_api, config.scale
    if customers is not None:
        slow = replace(slow, customers=customers)
        growth = _growth(customers)
        scale = replace(scale, e2e_sizes=growth, transform_sizes=growth)
    if sizes is not None:
        scale = replace(scale, e2e_sizes=sizes, transform_sizes=sizes)
    if per_page is not None:
        slow = replace(slow, per_page=per_page)
        scale = replace(scale, per_page=per_page)
    if destination_size is not None:
        scale = replace(scale, destination_size=destination_size)
    config = replace(config, scenario=scenario, skip_dlt=skip_dlt, slow_api=slow, scale=scale)
    if repeat is not None:
        config = replace(config, repeat=repeat)
    if output is not None:
        # Raw JSON beside the markdown, except in bench/ itself (keep it in the ignored data/).
        raw = output.with_suffix(".json")
        if output.resolve().parent == BENCH_DIR:
            raw = DATA_DIR / raw.name
        config = replace(config, output=output, raw_output=raw)
    if dlt_venv is not None:
        config = replace(config, dlt_venv=dlt_venv)
    if seed is not None:
        config = replace(config, seed=seed)
    if simulator_module is not None:
        config = replace(config, simulator_module=simulator_module)
    if contenders is not None:
        config = replace(config, contenders=contenders)
    return config
