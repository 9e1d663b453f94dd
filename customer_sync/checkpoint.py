"""A disk checkpoint of raw fetched pages, so an interrupted run resumes where it stopped.

Layout of the state directory (mode 0700; files 0600, since pages hold raw records)::

    .pipeline_state/
      manifest.json      {"version", "source", "per_page", "total", "created_at",
                          "salt", "credentials"}
      pages/000001.json.zst  the raw body of page 1, as the API sent it (parsed and
      ...                    re-encoded), compressed with zstd

The identity of a checkpoint is the source (the URL with secrets masked, or a stable label
for the built-in simulator, whose port changes every run), ``per_page`` and the ``total``
the API reported, plus ``credentials``: an HMAC-SHA256, keyed with a random salt of this
checkpoint, of the API key and the secret values of the URL (``?key=``, a password), so
that another tenant's pages are never mixed in while no key is ever written to disk. A run
against the same identity, within the max age, reuses the saved
pages and fetches only the missing ones. Anything else is discarded with a warning event.
``fresh=True`` ignores it. On success the pipeline removes it.

A page is stored as the bytes the API sent (the fetch loop hands them over; reading them
back goes through the same :func:`customer_sync.jsoncodec.loads` that decoded them the
first time), or, for a body known only decoded (an ETag cache hit), encoded by
:func:`customer_sync.jsoncodec.dumps_exact`: a raw body may hold integers beyond 64 bits,
lone surrogates, ``NaN`` or deep nesting, and a resumed run must see exactly what the API
sent. The encoded bytes are compressed with zstd (level 1: pages
of the simulator's customers shrink to 17.5% of their size at 0.6 ms per 1000-record page;
level 3 gave 17.0% for 0.8 ms), so a 10M-customer run keeps about 0.65 GB on disk instead
of 3.7 GB.

With ``background=True`` (what the pipeline uses) a page is encoded, compressed and
written by one worker thread, off the event loop; at most ``_MAX_PENDING`` pages wait
for it (the fetch then waits too, so memory stays bounded). A write failure is handled on
the caller's thread at the next ``save``, ``load`` or :meth:`Checkpoint.flush`, as below.
The pipeline calls ``flush`` when the fetch ends, however it ends, so that an interrupted
run leaves every page it fetched.

Each page is written to a temp file created ``O_EXCL | O_NOFOLLOW`` (a planted symlink is
never followed) with mode 0600, and renamed, so a killed run never leaves a torn page;
a page that fails to parse (say after a power cut) is treated as missing and fetched again.
Pages are not fsynced one by one: a process crash keeps them (the OS has them), and only an
OS crash can lose the newest ones, which are then simply fetched again.

The checkpoint never fails a sync: :meth:`Checkpoint.check_writable` refuses an unusable
state directory before any fetching, and a write that fails later (disk full) is reported
with one ``checkpoint_write_failed`` warning event naming the reason; what was partly
written is removed (the event says where it is if that fails too), and the run goes on
without the checkpoint. A manifest whose ``created_at`` lies in the future is invalid.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import zstandard

from . import atomic, jsoncodec
from .errors import SinkError
from .events import Hook, null_hook
from .models import Event
from .redaction import mask_url
from .source.page_store import StoreIdentity

__all__ = ["Checkpoint", "credentials_digest"]

_VERSION = 3  # 3: pages compressed with zstd
_PAGE_SUFFIX = ".json.zst"
_ZSTD_LEVEL = 1
#: Pages handed to the background writer and not written yet, at most (about 0.4 MB each
#: for 1000 records): enough to ride out a slow write, small enough to bound memory.
_MAX_PENDING = 8
_FILE_MODE = 0o600
_DIR_MODE = 0o700

#: Writes one checkpoint file atomically and privately (a test seam for a full disk).
FileWriter = Callable[[Path, bytes], None]


def _write_private(path: Path, data: bytes) -> None:
    atomic.write_bytes(path, data, mode=_FILE_MODE, durable=False)


def credentials_digest(salt: str, credentials: Sequence[str]) -> str:
    """HMAC-SHA256 of the credentials keyed with ``salt``: equal credentials give equal
    digests, and the digest tells nothing of the key without the salt and a guess."""
    message = b"\x00".join(c.encode("utf-8", "surrogatepass") for c in credentials)
    return hmac.new(bytes.fromhex(salt), message, hashlib.sha256).hexdigest()


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
        credentials: Sequence[str] = (),
        write_file: FileWriter = _write_private,
        background: bool = False,
    ) -> None:
        self.directory = directory
        self.max_age_seconds = max_age_seconds
        self.fresh = fresh
        self.source_label = source_label
        self._hook = hook
        self._clock = clock
        self._wall = wall
        self._credentials = tuple(credentials)
        self._write_file = write_file
        self._writer = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="checkpoint")
            if background
            else None
        )
        self._pending: deque[Future[None]] = deque()
        self._active = False
        self.saved_pages = 0
        #: Bytes of the pages written: as JSON, and as stored (compressed) on disk.
        self.json_bytes = 0
        self.stored_bytes = 0
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
            return sum(1 for _ in self._pages.glob("*" + _PAGE_SUFFIX))
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
            elif not self._same_credentials(existing):
                reason = "it was written with other credentials (API key or URL secrets)"
            elif self._age(existing) < 0:
                reason = "its created_at lies in the future"
            elif self._age(existing) > self.max_age_seconds:
                reason = f"it is older than {self.max_age_seconds / 3600:g} h"
        if existing is not None and reason is None:
            self._sweep_temps()
            self._tighten_modes()
            # Page 1 is always fetched again (it tells the current total): the pages this
            # run takes from disk, the number the summary reports, are the others.
            self.resumable_pages = self.pages_on_disk() - self._page_path(1).exists()
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
        self._reap(wait_all=True)  # a page being written is read once it is on disk
        if not self._active:
            return None
        try:
            compressed = self._page_path(page).read_bytes()
            body = jsoncodec.loads(zstandard.ZstdDecompressor().decompress(compressed))
        except (OSError, ValueError, RecursionError, zstandard.ZstdError):
            return None
        if not isinstance(body, dict):
            return None
        self.loaded_pages += 1
        return body

    def save(self, page: int, body: dict[str, Any], *, content: bytes | None = None) -> None:
        """Keep ``body``: written now, or queued for the background writer.

        ``content``, the bytes the API sent for ``body``, is stored as it is (compressed);
        without it ``body`` is encoded with :func:`~customer_sync.jsoncodec.dumps_exact`.
        """
        self._reap(wait_all=False)
        if not self._active:
            return
        if self._writer is None:
            try:
                self._write_page(page, body, content)
            except (OSError, ValueError, RecursionError, zstandard.ZstdError) as exc:
                self._disable(exc)
                return
            self.saved_pages += 1
            return
        if len(self._pending) >= _MAX_PENDING and not self._reap(wait_all=False, wait_one=True):
            return
        self._pending.append(self._writer.submit(self._write_page, page, body, content))

    def flush(self) -> None:
        """Wait until every page handed to ``save`` is on disk (or the failure is reported)."""
        self._reap(wait_all=True)

    def close(self) -> None:
        """Flush, and stop the background writer (a later ``save`` writes in place)."""
        self.flush()
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None

    def clear(self) -> None:
        """Remove the checkpoint after a successful run (a failure is only reported)."""
        self._active = False
        self._abandon()
        try:
            self._remove()
        except OSError as exc:
            self._emit(
                "checkpoint_clear_failed", directory=str(self.directory), error=exc.strerror
            )

    # --- internals -------------------------------------------------------------------
    def _write_page(self, page: int, body: dict[str, Any], content: bytes | None) -> None:
        encoded = jsoncodec.dumps_exact(body) if content is None else content
        data = zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(encoded)
        self._write_file(self._page_path(page), data)
        self.json_bytes += len(encoded)  # one writer at a time: no lock needed
        self.stored_bytes += len(data)

    def _reap(self, *, wait_all: bool, wait_one: bool = False) -> bool:
        """Count the background writes that are done, in order; the first failure
        disables the checkpoint (on this thread, so events never come from the worker).
        Whether the checkpoint is still active."""
        pending = self._pending
        while pending and (wait_all or wait_one or pending[0].done()):
            wait_one = False
            try:
                pending.popleft().result()
            except (OSError, ValueError, RecursionError, zstandard.ZstdError) as exc:
                if self._active:
                    self._disable(exc)
                continue
            if self._active:
                self.saved_pages += 1
        return self._active

    def _abandon(self) -> None:
        """Cancel the queued writes and wait for the one in progress (nothing is counted)."""
        while self._pending:
            future = self._pending.popleft()
            if not future.cancel():
                with contextlib.suppress(Exception):
                    future.result()

    def _disable(self, exc: BaseException) -> None:
        """A checkpoint that cannot be written is turned off, and what it had written is
        removed (a full disk gets its space back); the sync goes on without it. One
        warning: after this no write is attempted."""
        self._active = False
        self._abandon()
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        try:
            self._remove()
            left = None
        except OSError:
            left = str(self.directory)
        fields: dict[str, Any] = {"directory": str(self.directory), "error": error}
        fields["removed"] = left is None
        if left is not None:
            fields["left_in"] = left
        self._emit("checkpoint_write_failed", **fields)

    def _same_credentials(self, manifest: dict[str, Any]) -> bool:
        salt, digest = manifest.get("salt"), manifest.get("credentials")
        if not isinstance(salt, str) or not isinstance(digest, str):
            return False
        try:
            expected = credentials_digest(salt, self._credentials)
        except ValueError:  # a salt that is not hex
            return False
        return hmac.compare_digest(expected, digest)

    def _tighten_modes(self) -> None:
        """A resumed checkpoint keeps the private modes, whatever happened meanwhile."""
        with contextlib.suppress(OSError):
            os.chmod(self.directory, _DIR_MODE)
            os.chmod(self._pages, _DIR_MODE)

    def _page_path(self, page: int) -> Path:
        return self._pages / f"{page:06d}{_PAGE_SUFFIX}"

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = jsoncodec.loads(self._manifest.read_bytes())
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
        self._pages.mkdir(exist_ok=True, parents=True, mode=_DIR_MODE)
        self._tighten_modes()
        created = self._wall().astimezone(UTC).isoformat()
        salt = secrets.token_hex(16)
        manifest = {
            "version": _VERSION,
            **identity,
            "created_at": created,
            "salt": salt,
            "credentials": credentials_digest(salt, self._credentials),
        }
        self._write_file(self._manifest, jsoncodec.dumps_exact(manifest))
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
                if path.name.endswith((_PAGE_SUFFIX, ".json", ".tmp")):
                    path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                self._pages.rmdir()
        self._manifest.unlink(missing_ok=True)
        (self.directory / "manifest.json.tmp").unlink(missing_ok=True)  # an older version's
        if self.directory.is_dir():
            for path in self.directory.glob(".manifest.json.*.tmp"):
                path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.directory.rmdir()

