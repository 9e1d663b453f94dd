"""What every contender gets (a :class:`Target`) and gives back (a :class:`FetchResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

__all__ = ["Contender", "FetchResult", "Status", "Target"]

Status = Literal["ok", "failed", "skipped"]


@dataclass(frozen=True, slots=True)
class Target:
    """The API a contender fetches from, and what it should end up with."""

    base_url: str
    per_page: int
    expected_records: int
    #: ``None``: the contender's own default page size (ours: ``auto``), not a flag
    use_default_page_size: bool = False


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One contender run. ``wall_seconds`` is measured by the contender (see its docstring)."""

    status: Status
    records: int | None = None
    unique_records: int | None = None  # distinct records (canonical JSON), where known
    wall_seconds: float | None = None
    peak_rss_bytes: int | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def skipped(cls, why: str) -> FetchResult:
        return cls(status="skipped", note=why)

    @classmethod
    def failed(cls, why: str, **extra: Any) -> FetchResult:
        return cls(status="failed", note=why, extra=extra)


class Contender(Protocol):
    """Something that fetches every record of a :class:`Target`."""

    key: str  # short id used on the command line and in results
    label: str  # row label in the table

    def unavailable(self) -> str | None:
        """``None`` when the contender can run here, else the note for its skipped row."""

    def run(self, target: Target, workdir: Path) -> FetchResult:
        """Fetch everything once; ``workdir`` is fresh and empty."""
