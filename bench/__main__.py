"""``python -m bench``: run the issue #7 benchmark and write ``bench/results.md``.

Examples::

    python -m bench --setup-dlt                 # once: dlt into bench/.venv-dlt
    python -m bench                             # every scenario, full size, 3 repetitions
    python -m bench --scenario a --repeat 5
    python -m bench --scenario c                # header-less rate limit (429 + Retry-After)
    python -m bench --scenario d                # page size: auto against --per-page 6
    python -m bench --scenario b --customers 100000
    python -m bench --smoke                     # seconds; what CI runs
    python -m bench --scenario e                # incremental vs full (issue 14) only
    python -m bench --scenario hostile          # issue 11's hostile run, seeds 1-10
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .config import BenchConfig, build_config
from .contenders import Contender, DltRestApi, NaiveBaseline, OurPipeline, setup_dlt_venv
from .hostile import hostile_section, seed_list
from .incremental import IncrementalParams, render_incremental, run_incremental
from .limits import run_header_less, run_page_size
from .machine import describe_machine
from .scale import run_scale
from .simulator_proc import SimulatorError, simulator_missing
from .slow_api import run_slow_api
from .table import Report, render

__all__ = ["main"]

CONTENDER_KEYS = ("ours", "naive", "dlt", "dlt-auto")


def _contender_keys(text: str) -> tuple[str, ...]:
    keys = tuple(part.strip() for part in text.split(","))
    unknown = sorted(set(keys) - set(CONTENDER_KEYS))
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown contenders {unknown}")
    return keys


def _sizes(text: str) -> tuple[int, ...]:
    return tuple(int(part.replace("_", "")) for part in text.split(","))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--scenario",
        choices=("a", "b", "c", "d", "e", "destinations", "hostile", "all"),
        default="all",
        help="destinations: only scenario B's rows of 1M customers into each destination; "
        "hostile: issue 11's hostile run seed by seed (not part of all)",
    )
    parser.add_argument(
        "--customers",
        type=int,
        help="A: customers served (default 10,000). B: the largest N (default 1,000,000); "
        "growth runs at N/100, N/10 and N",
    )
    parser.add_argument("--sizes", type=_sizes, help="B: explicit sizes, e.g. 10000,100000")
    parser.add_argument(
        "--destination-size", type=int, default=None,
        help="B: customers for the destination rows (default: the largest of --sizes)",
    )
    parser.add_argument(
        "--per-page", type=int, help="A: page size (default 25). B: page size (default 1000)"
    )
    parser.add_argument("--repeat", type=int, help="repetitions per measurement (default 3)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few hundred records, no latency, no faults, each scenario once",
    )
    parser.add_argument(
        "--setup-dlt",
        action="store_true",
        help="create bench/.venv-dlt with the pinned dlt, then exit",
    )
    parser.add_argument("--skip-dlt", action="store_true", help="leave out the dlt rows")
    parser.add_argument(
        "--contenders",
        type=_contender_keys,
        help=f"A: a subset of {','.join(CONTENDER_KEYS)}",
    )
    parser.add_argument("--output", type=Path, help="markdown file (default bench/results.md)")
    parser.add_argument("--seed", type=int, help="dataset and fault seed (default 7)")
    parser.add_argument(
        "--seeds", type=seed_list, default=seed_list("1-10"), help="hostile: seeds, e.g. 1-5,11"
    )
    parser.add_argument("--dlt-venv", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--simulator-module", help=argparse.SUPPRESS)
    return parser


def _contenders(config: BenchConfig) -> list[Contender]:
    all_of: list[Contender] = [
        OurPipeline(config.repo_root, timeout=config.timeout),
        NaiveBaseline(),
        DltRestApi(config.dlt_venv, config.repo_root, "explicit", timeout=config.timeout),
        DltRestApi(config.dlt_venv, config.repo_root, "auto", timeout=config.timeout),
    ]
    return [
        c
        for c in all_of
        if c.key in config.contenders and not (config.skip_dlt and c.key.startswith("dlt"))
    ]


def _log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    raise TypeError


def run(config: BenchConfig, command: str) -> Report:
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    slow_api = scale = None
    if config.scenario in ("a", "all"):
        slow_api = run_slow_api(config, _contenders(config), _log)
    if config.scenario in ("b", "destinations", "all"):
        scale = run_scale(config, _log)
    header_less = page_size = None
    seed, repeat, root, module = (
        config.seed, config.repeat, config.repo_root, config.simulator_module
    )
    if config.scenario in ("c", "all"):
        # dlt-auto adds nothing here: its paginator guess is Scenario A's story
        contenders = [c for c in _contenders(config) if c.key != "dlt-auto"]
        header_less = run_header_less(
            config.header_less, contenders, seed=seed, repeat=repeat, repo_root=root,
            module=module, log=_log,
        )
    if config.scenario in ("d", "all"):
        everyone = _contenders(config)
        ours = next(c for c in everyone if c.key == "ours")
        others = [c for c in everyone if c.key in ("naive", "dlt")]
        page_size = run_page_size(
            config.page_size, ours, others, seed=seed, repeat=repeat, repo_root=root,
            module=module, log=_log,
        )
    return Report(
        config=config,
        machine=describe_machine(config.repo_root),
        command=command,
        started_at=started,
        slow_api=slow_api,
        scale=scale,
        header_less=header_less,
        page_size=page_size,
    )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = build_config(
        scenario=args.scenario,
        smoke=args.smoke,
        customers=args.customers,
        per_page=args.per_page,
        sizes=args.sizes,
        destination_size=args.destination_size,
        repeat=args.repeat,
        skip_dlt=args.skip_dlt,
        output=args.output,
        dlt_venv=args.dlt_venv,
        seed=args.seed,
        simulator_module=args.simulator_module,
        contenders=args.contenders,
    )
    if args.smoke:
        # The smoke run checks the harness, not timings: its pipeline runs (the child
        # processes inherit this) skip the HTML report, which costs each about 1 s.
        os.environ["PIPELINE_REPORT"] = "off"
    if args.setup_dlt:
        _log(f"installing dlt into {config.dlt_venv}")
        setup_dlt_venv(config.dlt_venv)
        _log("done")
        return 0
    if (why := simulator_missing(config.simulator_module)) is not None:
        _log(why)
        return 2
    command = "python -m bench " + shlex.join(sys.argv[1:] if argv is None else argv)
    if config.scenario == "e":
        return _scenario_e(config, args, command.strip())
    if config.scenario == "hostile":
        return _scenario_hostile(config, args, command.strip())
    try:
        report = run(config, command.strip())
    except SimulatorError as exc:
        _log(f"simulator: {exc}")
        return 2
    text = render(report)
    if config.scenario == "all":
        text = text.rstrip("\n") + "\n\n" + _incremental_section(config, args)
    print(text)
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(text, encoding="utf-8")
    config.raw_output.parent.mkdir(parents=True, exist_ok=True)
    config.raw_output.write_bytes(
        orjson.dumps(dataclasses.asdict(report), default=_jsonable, option=orjson.OPT_INDENT_2)
    )
    _log(f"wrote {config.output} and {config.raw_output}")
    return 0


def _incremental_section(config: BenchConfig, args: argparse.Namespace) -> str:
    params = IncrementalParams()
    if args.smoke:
        params = IncrementalParams(customers=2_000, rate_limit=0.0, target_speedup=1.0)
    elif args.customers and config.scenario == "e":
        params = IncrementalParams(customers=args.customers)
    result = run_incremental(
        config.repo_root, _log, repeat=config.repeat, seed=config.seed, params=params
    )
    return render_incremental(result)


def _scenario_e(config: BenchConfig, args: argparse.Namespace, command: str) -> int:
    """Scenario E alone: its section replaces the one in the results file (or is added)."""
    try:
        section = _incremental_section(config, args)
    except SimulatorError as exc:
        _log(f"simulator: {exc}")
        return 2
    print(section)
    previous = config.output.read_text(encoding="utf-8") if config.output.exists() else ""
    head, _marker, _ = previous.partition("## Scenario E")
    text = (head.rstrip("\n") + "\n\n" if head.strip() else "") + section
    text += f"\n_Scenario E: `{command}`, {datetime.now(UTC):%Y-%m-%d %H:%M UTC}._\n"
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(text, encoding="utf-8")
    _log(f"wrote {config.output}")
    return 0


def _scenario_hostile(config: BenchConfig, args: argparse.Namespace, command: str) -> int:
    """The hostile run: its section replaces the one in the results file (or goes before
    Scenario E, or at the end)."""
    try:
        section, ok = hostile_section(args.seeds, log=_log)
    except SimulatorError as exc:
        _log(f"simulator: {exc}")
        return 2
    section += f"\n_Hostile run: `{command}`, {datetime.now(UTC):%Y-%m-%d %H:%M UTC}._\n"
    print(section)
    previous = config.output.read_text(encoding="utf-8") if config.output.exists() else ""
    config.output.parent.mkdir(parents=True, exist_ok=True)
    config.output.write_text(replace_section(previous, section), encoding="utf-8")
    _log(f"wrote {config.output}")
    return 0 if ok else 1


def replace_section(text: str, section: str) -> str:
    """``text`` with its ``## `` section of the same title replaced by ``section``; a new
    one goes before ``## Scenario E`` (kept last by its own runs), or at the end."""
    title = section.split("\n", 1)[0]
    head, found, tail = text.partition(title)
    if found:
        _, sep, rest = tail.partition("\n## ")
        return head + section.rstrip("\n") + "\n" + ("\n## " + rest if sep else "")
    head, found, tail = text.partition("## Scenario E")
    if found:
        return head + section.rstrip("\n") + "\n\n" + found + tail
    return (text.rstrip("\n") + "\n\n" if text.strip() else "") + section


if __name__ == "__main__":
    sys.exit(main())
