"""Moved to :mod:`customer_sync.atomic` (the ground floor: the checkpoint and the ETag cache
write through it too). This name stays so that code written against it keeps working while
the parallel branches merge; new code imports :mod:`customer_sync.atomic`."""

from __future__ import annotations

from ..atomic import atomic_writer, fsync_dir, sweep_stale_temps, temp_name, write_chunks

__all__ = ["atomic_writer", "fsync_dir", "sweep_stale_temps", "temp_name", "write_chunks"]
