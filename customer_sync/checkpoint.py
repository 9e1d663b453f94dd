"""A disk checkpoint of raw fetched pages, so an interrupted run resumes where it stopped.

Layout of the state directory (mode 0700; files 0600, since pages hold raw records)::

    .pipeline_state/
      manifest.json      {"version", "source", "per_page", "total", "created_at"}
      pages/000001.json  the raw body of page 1, as the API sent it (parsed and re-encoded)
      ...

The identity of a checkpoint is the source (the URL with secrets masked, or a stable label
for the built-in simulator, whose port changes every run), ``per_page`` and the ``total``
the API reported. A run against the same identity, within the max age, reuses the saved
pages and fetches only the missing ones. Anything else is discarded with a warning event.
``fresh=True`` ignores it. On success the pipeline removes it.

Pages are encoded with the standard library's ``json``, not orjson: a raw body may hold
integers beyond 64 bits, lone surrogates, ``NaN`` or deep nesting, and a resumed run must
see exactly what the API sent (orjson refuses the first three and turns ``NaN`` into
``null``).

Each page is written to a temp file and renamed, so a killed run never leaves a torn page;
a page that fails to parse (say after a power cut) is treated as missing and fetched again.
Pages are not fsynced one by one: a process crash keeps them (the OS has them), and only an
OS crash can lose the newest ones, which are then simply fetched again.

The checkpoint never fails a sync: :meth:`Checkpoint.check_writable` refuses an unusable
state directory before any fetching, and a write that fails later (disk full) is reported
with a ``checkpoint_write_failed`` warning event and turns the checkpoint off for the run.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from .errors import SinkError
from .events import Hook, null_hook
from .models import Event
from .redaction import mask_url
from .source.envelope import loads_json
from .source.page_store import StoreIdentity

__all__ = ["Checkpoint"]

_VERSION = 1


class Checkpoint:
    """Implements the client's page-store protocol on disk."""

    def __init__(
        self,
        directory: Path,
        *,
        max_age_seconds: float,
        fresh: bool = False,
        hook: Hook = null_hook,
        clock: Callable[[], float],
        wall: Callable[[], datetime],
        source_label: str | None = None,
    ) -> None:
        self.directory = directory
        self.max_age_seconds = max_age_seconds
        self.fresh = fresh
        self.source_label = source_label
        self._hook = hook
        self._clock = clock
        self._wall = wall
        self._active = False
        self.saved_pages = 0
        self.loaded_pages = 0
        self.resumable_pages = 0

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.directory)!r}, saved={self.saved_pages})"

    @property
    def _pages(self) -> Path:
        return self.directory / "pages"

    @property
    def _manifest(self) -> Path:
        return self.directory / "manifest.json"

    def _emit(self, name: str, **fields: Any) -> None:
        self._hook(Event(name, self._clock(), fields))

    def check_writable(self) -> None:
        """Raise :class:`SinkError` now, before any fetching, if the state dir is unusable."""
        where = str(self.directory)
        existing = next(
            (p for p in (self.directory, *self.directory.parents) if p.exists()), None
        )
        if existing is None or not existing.is_dir():
            raise SinkError(
                f"state directory {where!r} cannot be created: {str(existing)!r} is not a "
                "directory",
                hint="choose another --state-dir",
            )
        if not os.access(existing, os.W_OK | os.X_OK):
            raise SinkError(
                f"state directory {where!r} is not writable",
                hint="fix its permissions or choose another --state-dir",
            )

    def pages_on_disk(self) -> int:
        """Pages the checkpoint holds now (what a resumed run would not fetch again)."""
        try:
            return sum(1 for _ in self._pages.glob("*.json"))
        except OSError:
            return 0

    # --- protocol --------------------------------------------------------------------
    def begin(self, store_identity: StoreIdentity) -> None:
        """Check the identity of what is on disk; keep it or discard it."""
        identity = {
            "source": self.source_label or mask_url(store_identity.base_url),
            "per_page": store_identity.per_page,
            "total": store_identity.total,
        }
        existing = self._read_manifest()
        reason = None
        if existing is not None:
            if self.fresh:
                reason = "--fresh was given"
            elif existing.get("version") != _VERSION:
                reason = "it was written by another version of the pipeline"
            elif {k: existing.get(k) for k in identity} != identity:
                reason = "it belongs to a different source, per_page or total"
            elif self._age(existing) > self.max_age_seconds:
                reason = f"it is older than {self.max_age_seconds / 3600:g} h"
        if existing is not None and reason is None:
            self._sweep_temps()
            self.resumable_pages = self.pages_on_disk()
            self._active = True
            if self.resumable_pages:
                self._emit("resumed", directory=str(self.directory), pages=self.resumable_pages)
            return
        if existing is not None:
            self._emit("checkpoint_discarded", directory=str(self.directory), reason=reason)
        try:
            self._reset(identity)
        except OSError as exc:
            self._disable(exc)

    def load(self, page: int) -> dict[str, Any] | None:
        if not self._active:
            return None
        try:
            body = loads_json(self._page_path(page).read_bytes())
        except (OSError, ValueError, RecursionError):
            return None
        if not isinstance(body, dict):
            return None
        self.loaded_pages += 1
        return body

    def save(self, page: int, body: dict[str, Any]) -> None:
        if not self._active:
            return
        path = self._page_path(page)
        tmp = path.with_name(path.name + ".tmp")
        try:
            _write_private(tmp, _encode(body))
            os.replace(tmp, path)
        except (OSError, ValueError, RecursionError) as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self._disable(exc)
            return
        self.saved_pages += 1

    def clear(self) -> None:
        """Remove the checkpoint after a successful run (a failure is only reported)."""
        self._active = False
        try:
            self._remove()
        except OSError as exc:
            self._emit(
                "checkpoint_clear_failed", directory=str(self.directory), error=exc.strerror
            )

    # --- internals -------------------------------------------------------------------
    def _disable(self, exc: BaseException) -> None:
        """A checkpoint that cannot be written is turned off; the sync goes on without it."""
        self._active = False
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        self._emit("checkpoint_write_failed", directory=str(self.directory), error=error)

    def _page_path(self, page: int) -> Path:
        return self._pages / f"{page:06d}.json"

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = json.loads(self._manifest.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {"version": None}  # unreadable: discard
        return manifest if isinstance(manifest, dict) else {"version": None}

    def _age(self, manifest: dict[str, Any]) -> float:
        try:
            created = datetime.fromisoformat(str(manifest["created_at"]))
        except (KeyError, ValueError):
            return float("inf")
        if created.tzinfo is None:
            return float("inf")
        return (self._wall() - created).total_seconds()

    def _reset(self, identity: dict[str, Any]) -> None:
        self._remove()
        self._pages.mkdir(exist_ok=True, parents=True, mode=0o700)
        with contextlib.suppress(OSError):
            os.chmod(self.directory, 0o700)
        created = self._wall().astimezone(UTC).isoformat()
        manifest = {"version": _VERSION, **identity, "created_at": created}
        tmp = self._manifest.with_name("manifest.json.tmp")
        _write_private(tmp, _encode(manifest))
        os.replace(tmp, self._manifest)
        self._active = True

    def _sweep_temps(self) -> None:
        """Temp files of a killed run: a page it was writing when it died."""
        with contextlib.suppress(OSError):
            for path in self._pages.glob("*.tmp"):
                path.unlink(missing_ok=True)

    def _remove(self) -> None:
        """Delete only what a checkpoint creates; never a directory's other contents."""
        if self._pages.is_dir():
            for path in self._pages.iterdir():
                if path.suffix in (".json", ".tmp"):
                    path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._pages.rmdir()
        for name in ("manifest.json", "manifest.json.tmp"):
            (self.directory / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.directory.rmdir()


def _encode(value: Any) -> bytes:
    """JSON that decodes back to ``value`` exactly (big ints, NaN, lone surrogates kept).

    A strict body (a plain dict from orjson) takes orjson. A :class:`LenientBody` (one
    only the standard parser accepted, so it may hold NaN, which orjson would write as
    ``null``) and anything orjson refuses take the exact standard encoder.
    """
    if type(value) is dict:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError:
            pass
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
