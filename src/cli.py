"""The command line: parse flags, build settings, run the pipeline, present the result.

Only this module talks to the user. It catches the package's base error, prints one line
naming the cause and the fix, and exits with the error's code (no traceback unless
``--log-level debug``).

Exit codes: 0 success; 1 the sync failed; 2 bad configuration or usage; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Any, TextIO, get_args

from pydantic.fields import FieldInfo

from . import __version__
from .config import Settings, env_var, flag, load_settings, utcnow
from .errors import ConfigError, PipelineError
from .events import fan_out
from .logs import configure_logging, log_hook
from .pipeline import Interrupted, RunReport, run_pipeline
from .progress import progress_hook

__all__ = ["EXIT_CONFIG", "EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other usage error
        self.exit(EXIT_CONFIG, f"error: {message} (see --help)\n")


def _is_bool(info: FieldInfo) -> bool:
    return info.annotation is bool


def _default_text(info: FieldInfo) -> str:
    default = info.default
    if default is None:
        return "unset"
    return str(default)


def build_parser() -> argparse.ArgumentParser:
    """Every setting as a flag; help shows its environment variable and default."""
    parser = _Parser(
        prog="python -m src.main",
        description="Sync customers from a REST API, clean, dedupe, enrich and score them, "
        "and export sample_output.json. With no --api-url, a built-in simulated flaky API "
        "is started on loopback.",
        epilog="Precedence: flag > environment variable > .env file > default. "
        "Exit codes: 0 ok, 1 sync failed, 2 bad configuration, 130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    groups: dict[str, argparse._ArgumentGroup] = {}
    for name, info in Settings.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, Mapping) else {}
        group_name = str(extra.get("group", "Other"))
        group = groups.get(group_name) or groups.setdefault(
            group_name, parser.add_argument_group(group_name)
        )
        help_text = f"{info.description} [{env_var(name)}; default: {_default_text(info)}]"
        if _is_bool(info):
            group.add_argument(
                flag(name),
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            choices = get_args(info.annotation) if name in ("log_level", "log_format") else ()
            if choices:
                group.add_argument(
                    flag(name),
                    dest=name,
                    default=argparse.SUPPRESS,
                    choices=[str(c) for c in choices],
                    type=str.lower,
                    help=help_text,
                )
            else:
                group.add_argument(
                    flag(name), dest=name, metavar=name.upper(), default=argparse.SUPPRESS,
                    help=help_text,
                )
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the CLI and return its exit code."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    args = vars(build_parser().parse_args(argv))
    try:
        settings = load_settings(args, environ=environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=err)
        return exc.exit_code

    secret = settings.api_key.get_secret_value() if settings.api_key else ""
    logger = configure_logging(
        settings.log_level, settings.log_format, secrets=[secret], stream=err
    )
    hooks = [log_hook(logger)]
    bar = progress_hook(enabled=settings.progress and err.isatty(), stream=err)
    hooks.append(bar.hook)
    try:
        with bar:
            report = run_pipeline(settings, hook=fan_out(hooks), now=utcnow)
    except Interrupted as exc:
        print(f"interrupted: {exc}", file=err)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return EXIT_INTERRUPTED
    except PipelineError as exc:
        if settings.log_level == "debug":
            traceback.print_exc(file=err)
        print(f"error: {exc}", file=err)
        return exc.exit_code
    print(format_summary(report), file=out)
    return EXIT_OK


def format_summary(report: RunReport) -> str:
    """A short human summary of one run."""
    counts, stats = report.result.counts, report.stats
    bands = report.metadata["data_quality_summary"]
    retries = ", ".join(f"{k} {v}" for k, v in sorted(stats.retries.items())) or "none"
    source = report.metadata["source"]
    lines = [
        f"Synced {source['url']}{' (built-in simulator)' if source['simulated'] else ''} "
        f"in {report.durations['total']:.2f} s",
        f"  fetched     {counts.records_in:>9,}  records ({stats.pages} pages, "
        f"{stats.requests} requests)",
        f"  duplicates  {counts.duplicates_merged:>9,}  merged",
        f"  rejected    {counts.rejected:>9,}",
        f"  exported    {counts.exported:>9,}  -> {report.sink.target}",
        f"  quality     high {bands['high_quality']:,} / medium {bands['medium_quality']:,}"
        f" / low {bands['low_quality']:,}",
        f"  retries     {retries}; rate-limited {stats.rate_limited}",
    ]
    if stats.resumed:
        lines.append(f"  resumed     {stats.pages_from_checkpoint} pages from the checkpoint")
    if stats.drift_detected:
        lines.append(f"  drift       {'; '.join(stats.drift_events) or 'detected'}")
    return "\n".join(lines)
