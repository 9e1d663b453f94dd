"""Run a child process and measure its wall time and peak RSS.

Peak RSS comes from ``os.wait4``, which returns the rusage of that one child (and the
descendants it waited for) when it exits: exact, unlike polling, and not mixed with the
simulator's usage the way ``getrusage(RUSAGE_CHILDREN)`` would be.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ProcResult", "child_env", "run_measured"]


@dataclass(frozen=True, slots=True)
class ProcResult:
    returncode: int
    wall_seconds: float
    peak_rss_bytes: int
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def tail(self, chars: int = 300) -> str:
        """The last line of stderr (or stdout), e.g. the exception, for a failure note."""
        lines = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return lines[-1].strip()[-chars:] if lines else "(no output)"


def child_env(repo_root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The harness's environment, with the repo importable from any working directory."""
    env = dict(os.environ)
    paths = [str(repo_root), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def _maxrss_bytes(ru_maxrss: int) -> int:
    # Linux reports KiB, macOS bytes.
    return ru_maxrss if sys.platform == "darwin" else ru_maxrss * 1024


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
) -> ProcResult:
    """Run ``argv`` to completion (or ``timeout``); stdout and stderr go to files in ``cwd``."""
    cwd.mkdir(parents=True, exist_ok=True)
    out_path, err_path = cwd / "child.stdout", cwd / "child.stderr"
    reaped: list[tuple[int, int, resource.struct_rusage]] = []
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdout=out, stderr=err)
        # A thread blocks in wait4, so the exit time is exact and nothing polls.
        waiter = threading.Thread(target=lambda: reaped.append(os.wait4(proc.pid, 0)))
        waiter.start()
        timed_out = False
        try:
            waiter.join(timeout)
            if waiter.is_alive():
                timed_out = True
                proc.kill()
                waiter.join()
        except BaseException:  # e.g. Ctrl-C: never leave the child running
            proc.kill()
            waiter.join()
            raise
        wall = time.perf_counter() - started
    _, status, rusage = reaped[0]
    returncode = os.waitstatus_to_exitcode(status)
    proc.returncode = returncode  # reaped by wait4: tell Popen so it never waits again
    return ProcResult(
        returncode=returncode,
        wall_seconds=wall,
        peak_rss_bytes=_maxrss_bytes(rusage.ru_maxrss),
        stdout=out_path.read_text(encoding="utf-8", errors="replace"),
        stderr=err_path.read_text(encoding="utf-8", errors="replace"),
        timed_out=timed_out,
    )
