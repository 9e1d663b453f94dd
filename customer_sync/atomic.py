"""Atomic file writes, the one implementation: temp file in the same directory, fsync,
``os.replace``, fsync the directory.

A crash at any point leaves either the previous file or the new one, never a torn file.
Temp files are created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (a symlink or file planted
at the temp name is never followed nor truncated) and named ``.{name}.{pid}.tmp``, so a
later run can sweep the ones a killed run left behind (:func:`sweep_stale_temps`).

:func:`atomic_writer` and :func:`write_bytes` write one file; :func:`write_together`
writes several as one set (the sink's output set, :mod:`customer_sync.sink.output_set`):
all are staged under temp names first, then renamed one after the other.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "PartialCommit",
    "atomic_writer",
    "commit_dir",
    "create_temp",
    "fsync_dir",
    "not_a_regular_file",
    "sweep_stale_temps",
    "temp_name",
    "write_bytes",
    "write_chunks",
    "write_together",
]

_TMP_SUFFIX = ".tmp"
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


def temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}{_TMP_SUFFIX}")


def create_temp(path: Path, mode: int) -> tuple[Path, BinaryIO]:
    """Create the temp file of ``path`` exclusively, never through a symlink; return it open.

    Something already at the temp name (a leftover of this PID, or a planted symlink) is
    unlinked (the link itself, never its target) and the creation retried once.
    """
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, _EXCLUSIVE, mode)
    except FileExistsError:
        tmp.unlink()
        fd = os.open(tmp, _EXCLUSIVE, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it; be exact
        return tmp, os.fdopen(fd, "wb", buffering=1 << 20)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o644, durable: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file; on clean exit it atomically replaces ``path``.

    On any exception the temp file is removed and ``path`` is untouched. ``durable=False``
    skips the fsyncs (a process crash still never tears the file; only an OS crash can
    lose it), for stores that can fetch what they lose again.
    """
    tmp, fh = create_temp(path, mode)
    try:
        with fh:
            yield fh
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        fsync_dir(path.parent)


def write_bytes(path: Path, data: bytes, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with ``data``, atomically."""
    with atomic_writer(path, mode=mode, durable=durable) as fh:
        fh.write(data)


def write_chunks(path: Path, chunks: Iterable[bytes], *, mode: int = 0o644) -> int:
    """Write ``chunks`` atomically to ``path``; return the bytes written."""
    size = 0
    with atomic_writer(path, mode=mode) as fh:
        for chunk in chunks:
            fh.write(chunk)
            size += len(chunk)
    return size


class PartialCommit(OSError):
    """A rename of :func:`write_together`'s commit failed after ``replaced`` were renamed:
    the set now mixes new and old files (their run ids tell them apart)."""

    def __init__(self, exc: OSError, replaced: list[Path]) -> None:
        super().__init__(exc.errno, exc.strerror)
        self.replaced = replaced


#: One file of :func:`write_together`: its path, its bytes (produced lazily), its mode, and
#: the label the ``step`` hook sees for it.
Staged = tuple[Path, Callable[[], Iterable[bytes]], int, str]


def _no_step(label: str) -> None:
    """No fault injection."""


def _no_check() -> None:
    """Nothing to check before the renames."""


def write_together(
    files: Sequence[Staged],
    *,
    step: Callable[[str], None] = _no_step,
    before_commit: Callable[[], None] = _no_check,
) -> list[int]:
    """Write ``files`` as one set; return the bytes of each.

    *Stage*: each file is written to its temp name and fsynced. A failure (a full disk)
    removes every temp and leaves every target as it was. Then ``before_commit`` runs (a
    last check of the targets). *Commit*: the temps are renamed over their targets in the
    order given, then the directories are fsynced. ``step`` is called with a label before
    each step (``"stage NAME"``, ``"replace NAME"``, ``"fsync directory"``): the seam tests
    use to kill the writer between any two steps.
    """
    staged: list[Path] = []
    sizes: list[int] = []
    try:
        for path, chunks, mode, label in files:
            step(f"stage {label}")
            tmp, fh = create_temp(path, mode)
            staged.append(tmp)
            size = 0
            with fh:
                for chunk in chunks():
                    fh.write(chunk)
                    size += len(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            sizes.append(size)
        before_commit()
    except BaseException:
        _unlink_all(staged)
        raise
    for index, ((path, _, _, label), tmp) in enumerate(zip(files, staged, strict=True)):
        step(f"replace {label}")
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink_all(staged[index:])
            if index == 0:
                raise
            raise PartialCommit(exc, [p for p, *_ in files[:index]]) from exc
        except BaseException:
            _unlink_all(staged[index:])
            raise
    step("fsync directory")
    for directory in {path.parent for path, *_ in files}:
        fsync_dir(directory)
    return sizes


def _unlink_all(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def fsync_dir(directory: Path) -> None:
    """Persist a rename: fsync the directory entry (no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_dir(staged: Path, final: Path) -> None:
    """Put a directory of files already written and fsynced (say, Parquet parts written as
    a run went) in place under its final name: fsync it, rename it, fsync the parent. The
    final name must not exist yet."""
    fsync_dir(staged)
    os.rename(staged, final)
    fsync_dir(final.parent)


def not_a_regular_file(path: Path) -> str | None:
    """What ``path`` is when it exists and is neither a regular file nor a symlink to one
    (``"a FIFO"``, ``"a character device"``...); ``None`` when it may be replaced."""
    try:
        mode = os.stat(path).st_mode  # follows a symlink: its target is what counts
    except FileNotFoundError:
        return None
    except OSError as exc:
        if path.is_symlink():
            return None  # a dangling symlink: replacing it writes a regular file
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    kinds = [
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ]
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def sweep_stale_temps(path: Path) -> list[Path]:
    """Remove temp files of ``path`` left by runs whose process is gone; return them.

    ``path`` may also be a stem (``dir/out``): then the temps of every file named
    ``out.*`` are swept, which covers side files an output set gains later (a report).
    """
    removed: list[Path] = []
    prefix = f".{path.name}."
    if not path.parent.is_dir():
        return removed
    for candidate in path.parent.iterdir():
        name = candidate.name
        if not (name.startswith(prefix) and name.endswith(_TMP_SUFFIX)):
            continue
        pid_text = name[: -len(_TMP_SUFFIX)].rpartition(".")[2]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and _alive(int(pid_text)):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
