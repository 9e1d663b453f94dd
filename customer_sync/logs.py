"""Logging at the edge: structured events to text or JSON lines on stderr.

Events (see :mod:`customer_sync.events`) become log records with the event name as the message and
the fields attached; the formatters render ``name key=value ...`` or one JSON object.
Timestamps are UTC ISO-8601 with milliseconds.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from . import jsoncodec
from .events import Hook
from .models import Event
from .redaction import SecretFilter

__all__ = ["LOGGER_NAME", "configure_logging", "log_hook"]

LOGGER_NAME = "pipeline"

# Event name -> level. Anything not listed logs at DEBUG.
_LEVELS: Mapping[str, int] = {
    # each retry and 429 stays at DEBUG; retry_summary sums them up every few seconds
    "retry_summary": logging.WARNING,
    "request_timeout": logging.WARNING,
    "drift_detected": logging.WARNING,
    "drift_suspected": logging.WARNING,
    "recheck_started": logging.WARNING,
    "recheck_passed": logging.WARNING,
    "paging_stopped_early": logging.WARNING,
    "per_page_fallback": logging.INFO,
    "checkpoint_discarded": logging.WARNING,
    "checkpoint_write_failed": logging.WARNING,
    "checkpoint_clear_failed": logging.WARNING,
    "tls_verification_disabled": logging.WARNING,
    "sync_started": logging.INFO,
    "sync_finished": logging.INFO,
    "simulator_started": logging.INFO,
    "resumed": logging.INFO,
    "exported": logging.INFO,
    "processed": logging.INFO,
}


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fields(record: logging.LogRecord) -> Mapping[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, Mapping) else {}


def _text_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value == value else "nan"
    if isinstance(value, Mapping):
        return ",".join(f"{k}:{v}" for k, v in value.items()) or "-"
    text = str(value)
    return f'"{text}"' if " " in text else text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname.lower().ljust(7), record.getMessage()]
        parts.extend(f"{k}={_text_value(v)}" for k, v in _fields(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {"ts": _timestamp(record), "level": record.levelname.lower()}
        payload["event"] = record.getMessage()
        payload.update(_fields(record))
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return jsoncodec.dumps_line(payload, default=str, note_key="exc").decode().rstrip("\n")


def configure_logging(
    level: str, fmt: str, *, secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Logger:
    """Set up the pipeline logger once, at the entry point."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_FieldScrubber(secrets))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


class _FieldScrubber(SecretFilter):
    """Scrubs the message and every string field of an event."""

    def filter(self, record: logging.LogRecord) -> bool:
        super().filter(record)
        fields = _fields(record)
        if fields and self._secrets:
            clean: dict[str, Any] = {}
            for key, value in fields.items():
                text = value if isinstance(value, str) else None
                for secret in self._secrets:
                    if text is not None and secret in text:
                        text = text.replace(secret, "***")
                clean[key] = text if text is not None else value
            record.fields = clean
        return True


def log_hook(logger: logging.Logger) -> Hook:
    """A hook that logs every event at its level (see ``_LEVELS``)."""

    def emit(event: Event) -> None:
        level = _LEVELS.get(event.name, logging.DEBUG)
        if logger.isEnabledFor(level):
            logger.log(level, event.name, extra={"fields": dict(event.fields)})

    return emit
