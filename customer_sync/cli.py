"""The command line: parse flags, build settings, run the pipeline, present the result.

Only this module talks to the user. It catches the package's base error, prints one line
naming the cause and the fix, and exits with the error's code (no traceback unless
``--log-level debug``).

Exit codes: 0 success; 1 the sync failed; 2 bad configuration or usage; 130 interrupted
(SIGINT, Ctrl-C); 143 terminated (SIGTERM, as schedulers stop jobs). Both signals stop the
run the same way: fetching stops, the checkpoint is kept, one ``interrupted:`` line is
printed; a second signal ends the process at once.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import logging
import os
import re
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, get_args

from pydantic.fields import FieldInfo

from . import __version__
from .config import (
    CONFIG_FILE,
    CONFIG_VAR,
    REPORT_OFF,
    Settings,
    config_file_path,
    env_var,
    flag,
    load_settings,
    unknown_variables,
    utcnow,
)
from .errors import ConfigError, PipelineError
from .events import Hook, fan_out
from .logs import configure_logging, log_hook
from .models import Event
from .redaction import MASK, scrub

if TYPE_CHECKING:
    from .pipeline import RunReport

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TERMINATED",
    "TermHandler",
    "build_parser",
    "main",
    "run",
]

EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

#: Settings given once per value on the command line (``--destination A --destination B``).
REPEATABLE = frozenset({"destination"})


TLS_WARNING = (
    "warning: TLS certificate verification is off (--no-verify-tls): anyone on the path "
    "can impersonate the API and read the API key"
)

_UNRECOGNIZED = "unrecognized arguments: "
_OPTION_VALUE = re.compile(r"(--?[A-Za-z][\w-]*)=\S+")
_INVALID_CHOICE = re.compile(r"invalid choice: '[^']*'")


def redact_usage_error(message: str) -> str:
    """An argparse error without the values typed: a mistyped ``--api-kye KEY`` must not
    print the key. Flags are kept, values dropped."""
    if message.startswith(_UNRECOGNIZED):
        flags = [
            token.split("=", 1)[0]
            for token in message.removeprefix(_UNRECOGNIZED).split()
            if token.startswith("-")
        ]
        message = _UNRECOGNIZED + (" ".join(flags) or "(values)")
    message = _OPTION_VALUE.sub(lambda m: f"{m.group(1)}={MASK}", message)
    return _INVALID_CHOICE.sub("invalid choice", message)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2, like every other usage error
        self.exit(EXIT_CONFIG, f"error: {redact_usage_error(message)} (see --help)\n")


def _is_bool(info: FieldInfo) -> bool:
    return info.annotation is bool


def _default_text(info: FieldInfo) -> str:
    default = info.default
    if default is None:
        return "unset"
    return str(default)


_CHOICE_FIELDS = ("log_level", "log_format", "sync_mode")


def build_parser() -> argparse.ArgumentParser:
    """Every setting as a flag; help shows its environment variable and default."""
    parser = _Parser(
        prog="customer-sync",
        description="Sync customers from a REST API, clean, dedupe, enrich and score them, "
        "and export sample_output.json. With no --api-url, a built-in simulated flaky API "
        "is started on loopback.",
        epilog="Precedence: flag > environment variable > .env file > TOML configuration "
        "file > default. "
        "Exit codes: 0 ok, 1 sync failed, 2 bad configuration, 130 interrupted (SIGINT), "
        "143 terminated (SIGTERM). --output - streams the JSON to stdout: not atomic (a "
        "failure leaves a partial document) and without side files.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="PATH", default=argparse.SUPPRESS,
        help=f"TOML configuration file: settings by name (per_page = 100, destination = "
        f"[...]), below .env, the environment and flags [{CONFIG_VAR}; default: "
        f"{CONFIG_FILE} in the working directory, if there is one]",
    )
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
            choices = get_args(info.annotation) if name in _CHOICE_FIELDS else ()
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
                    help=help_text, action="append" if name in REPEATABLE else "store",
                )
            if extra.get("off"):
                group.add_argument(
                    f"--no-{flag(name)[2:]}", dest=name, action="store_const", const=REPORT_OFF,
                    default=argparse.SUPPRESS, help=f"No {name} (same as {flag(name)} off).",
                )
    return parser


def run() -> NoReturn:
    """The console script ``customer-sync`` and ``python -m src.main``: run, then exit."""
    sys.exit(main(freeze_imports=True))


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    freeze_imports: bool = False,
) -> int:
    """Run the CLI and return its exit code.

    ``freeze_imports`` (the console script's choice, not a library caller's) moves what the
    imports built into the collector's permanent generation once the pipeline is loaded.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        return _main(argv, environ, out, err, freeze_imports)
    except KeyboardInterrupt:  # before or after the run itself (which has its own message)
        print("interrupted", file=err)
        return EXIT_INTERRUPTED


def _main(
    argv: Sequence[str] | None,
    environ: Mapping[str, str] | None,
    out: TextIO,
    err: TextIO,
    freeze_imports: bool,
) -> int:
    args = vars(build_parser().parse_args(argv))
    json_format = _wants_json(args, environ)
    for warning in unknown_variables(environ):
        _line(
            "warning",
            "unknown_setting_variable",
            {"message": warning.removeprefix("warning: ")},
            json_format=json_format,
            text=warning,
            stream=err,
        )
    try:
        config_file = config_file_path(args.pop("config", None), environ)
        settings = load_settings(args, environ=environ, config_file=config_file)
    except ConfigError as exc:
        _fatal(exc, json_format=json_format, stream=err)
        return exc.exit_code

    # The report is drawn in a second process, started first so that its imports overlap
    # ours and the fetch (customer_sync/report/background.py). If this process dies, the
    # worker's stdin closes and it exits.
    from .report.background import ReportRenderer

    renderer = ReportRenderer() if settings.written_report_path is not None else None

    # Imported only now, so that --help and configuration errors answer without loading
    # Polars, pycountry or the HTTP stack.
    from .pipeline import Interrupted, run_pipeline
    from .progress import progress_hook

    if freeze_imports:
        # What the imports built (~65k objects) lives until exit: keep the collector off
        # it. Otherwise every full collection walks all of it, and interpreter shutdown
        # runs several of those (about 0.15 s of a run's wall time).
        gc.freeze()

    secrets = secrets_of(settings)
    logger = configure_logging(
        settings.log_level, settings.log_format, secrets=secrets, stream=err
    )
    hooks: list[Hook] = [_skip("tls_verification_disabled", log_hook(logger))]
    if not settings.verify_tls:
        print(TLS_WARNING, file=err)  # every run, whatever the log level
    bar = progress_hook(enabled=settings.progress and err.isatty(), stream=err)
    hooks.append(bar.hook)
    term = TermHandler(err)
    try:
        with bar, term.installed():
            report = run_pipeline(
                settings,
                hook=fan_out(hooks),
                now=utcnow,
                stdout=_binary(out),
                report_renderer=renderer,
            )
    except Interrupted as exc:
        print(scrub(f"interrupted: {exc}", secrets), file=err)
        return EXIT_TERMINATED if term.received else EXIT_INTERRUPTED
    except PipelineError as exc:
        if settings.log_level == "debug":
            print(scrub_all(traceback.format_exc(), secrets), end="", file=err)
        _fatal(exc, json_format=settings.log_format == "json", stream=err, secrets=secrets)
        return exc.exit_code
    finally:
        if renderer is not None:
            renderer.close()
    # With --output - the document went to stdout: the summary goes to stderr.
    print(format_summary(report), file=err if report.sink.target == "-" else out)
    for warning in report.metadata.get("source_field_warnings", []):  # whatever the level
        _line(
            "warning",
            "source_fields_missing",
            {"message": warning["message"], "fields": warning["fields"]},
            json_format=settings.log_format == "json",
            text=f"warning: {warning['message']}",
            stream=err,
        )
    return EXIT_OK


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value a run knows (see :meth:`Settings.secret_values`)."""
    return settings.secret_values()


def _binary(stream: TextIO) -> Any:
    """The byte stream under ``stream`` (stdout), for ``--output -``."""
    return getattr(stream, "buffer", None) or _TextBytes(stream)


class _TextBytes:
    """Bytes written to a text stream that has no ``buffer`` (an ``io.StringIO`` in tests)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, data: bytes) -> int:
        return self._stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self._stream.flush()


def _wants_json(args: Mapping[str, Any], environ: Mapping[str, str] | None) -> bool:
    """Whether the user asked for JSON logs, read before the settings could be built."""
    env = os.environ if environ is None else environ
    chosen = args.get("log_format") or env.get(env_var("log_format")) or ""
    return str(chosen).lower() == "json"


def _fatal(
    exc: PipelineError, *, json_format: bool, stream: TextIO, secrets: Sequence[str] = ()
) -> None:
    """A fatal error: one ``error:`` line, or with ``--log-format json`` one
    ``sync_failed`` event with ``error``, ``hint`` and ``exit_code``."""
    fields = {
        "error": scrub_all(exc.message, secrets),
        "hint": scrub_all(exc.hint, secrets) if exc.hint else None,
        "exit_code": exc.exit_code,
    }
    text = scrub_all(f"error: {exc}", secrets)
    _line("error", "sync_failed", fields, json_format=json_format, text=text, stream=stream)


def _line(
    level: str,
    event: str,
    fields: Mapping[str, Any],
    *,
    json_format: bool,
    text: str,
    stream: TextIO,
) -> None:
    """One line for the user before logging is set up: ``text``, or with ``--log-format
    json`` the event as the JSON log formatter writes it."""
    if not json_format:
        print(text, file=stream)
        return
    from .logs import JsonFormatter

    record = logging.LogRecord("pipeline", logging.getLevelName(level.upper()), __file__, 0,
                               event, None, None)
    record.fields = dict(fields)
    print(JsonFormatter().format(record), file=stream)


class TermHandler:
    """SIGTERM handled like SIGINT: the first one interrupts the run (through the SIGINT
    handler in force, so asyncio cancels the fetch exactly as for Ctrl-C); a second one
    ends the process at once with exit 143. Installed only in the main thread."""

    def __init__(self, err: TextIO, *, exit: Callable[[int], object] = os._exit) -> None:
        self._err = err
        self._exit = exit
        self.received = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.received > 1:
            with contextlib.suppress(Exception):
                self._err.write("terminated: second signal, exiting at once\n")
                self._err.flush()
            self._exit(EXIT_TERMINATED)
            return
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler):
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[TermHandler]:
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.signal(signal.SIGTERM, self)
        try:
            yield self
        finally:
            signal.signal(signal.SIGTERM, previous)


def scrub_all(text: str, secrets: Sequence[str]) -> str:
    """``text`` without the secrets, raw or as they appear inside a ``repr``."""
    forms = {form for s in secrets for form in (s, repr(s)[1:-1], repr(s.encode())[2:-1])}
    return scrub(text, sorted(forms, key=len, reverse=True))


def _skip(name: str, hook: Hook) -> Hook:
    """``hook`` minus one event (one the CLI already tells the user in plain words)."""

    def emit(event: Event) -> None:
        if event.name != name:
            hook(event)

    return emit


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def format_summary(report: RunReport) -> str:
    """A short human summary of one run."""
    counts, stats = report.result.counts, report.stats
    bands = report.metadata["data_quality_summary"]
    retries = ", ".join(f"{k} {v}" for k, v in sorted(stats.retries.items())) or "none"
    source = report.metadata["source"]
    lines = [
        f"Synced {source['url']}{' (built-in simulator)' if source['simulated'] else ''} "
        f"in {report.durations['total']:.2f} s",
        f"  fetched     {counts.records_in:>9,}  records ({_plural(stats.pages, 'page')}, "
        f"{_plural(stats.requests, 'request')})",
        f"  duplicates  {counts.duplicates_merged:>9,}  merged",
        f"  rejected    {counts.rejected:>9,}",
        f"  exported    {counts.exported:>9,}  -> "
        + ", ".join(sink.target for sink in report.sinks or (report.sink,)),
        *([f"  report      {report.report_path}"] if report.report_path else []),
        f"  quality     high {bands['high_quality']:,} / medium {bands['medium_quality']:,}"
        f" / low {bands['low_quality']:,}",
        f"  retries     {retries}; rate-limited {stats.rate_limited}",
    ]
    sync = report.metadata.get("sync")
    if sync and sync["mode"] == "incremental":
        changed = sync["customers"]
        lines[1] = (
            f"  fetched     {stats.records:>9,}  changed records since {sync['since']} "
            f"({_plural(stats.pages, 'page')}, {_plural(stats.requests, 'request')})"
        )
        lines.insert(
            2,
            f"  merged      {changed['new']:,} new, {changed['updated']:,} updated, "
            f"{changed['unchanged']:,} unchanged (incremental; {counts.records_in:,} "
            "transformed)",
        )
    elif sync:
        deleted = sync["customers"]["deleted"]
        note = f", {deleted:,} deleted since the last full sync" if deleted else ""
        lines.insert(2, f"  mode        full ({sync['reason']}){note}")
    if stats.resumed:
        lines.append(f"  resumed     {stats.pages_from_checkpoint} pages from the checkpoint")
    if stats.drift_detected:
        lines.append(f"  drift       {'; '.join(stats.drift_events) or 'detected'}")
    return "\n".join(lines)
