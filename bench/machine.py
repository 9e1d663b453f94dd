"""The machine a benchmark ran on: CPU count and model, Python version, OS."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "describe_machine"]


@dataclass(frozen=True, slots=True)
class Machine:
    cpu_count: int
    cpu_model: str
    memory_gib: float
    python: str
    os: str
    commit: str

    def as_rows(self) -> list[tuple[str, str]]:
        return [
            ("CPUs", str(self.cpu_count)),
            ("CPU model", self.cpu_model),
            ("Memory", f"{self.memory_gib:.1f} GiB"),
            ("Python", self.python),
            ("OS", self.os),
            ("Commit", self.commit),
        ]


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in {"model name", "Hardware", "Processor", "cpu model"} and value.strip():
            return value.strip()
    return platform.processor() or "unknown"


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def _commit(repo_root: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo_root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' (dirty)' if dirty else ''}"


def describe_machine(repo_root: Path) -> Machine:
    """Read the machine's description; every field falls back to ``unknown``."""
    return Machine(
        cpu_count=os.cpu_count() or 0,
        cpu_model=_cpu_model(),
        memory_gib=_memory_bytes() / 2**30,
        python=f"{platform.python_implementation()} {platform.python_version()}",
        os=platform.platform(),
        commit=_commit(repo_root),
    )
