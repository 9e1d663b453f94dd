"""A progress bar of pages and records, as a hook. Off when stderr is not a terminal."""

from __future__ import annotations

from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from .models import Event

__all__ = ["ProgressBar", "progress_hook"]


class ProgressBar:
    """Observes ``sync_started`` and ``page_fetched`` events and draws pages/records.

    Pages of a drift re-check pass restart the count (the bar shows ``re-check N``), and
    the count never passes the total the API reported."""

    def __init__(self, *, enabled: bool, stream: TextIO) -> None:
        self.enabled = enabled
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._records = 0
        self._pass = 0
        if enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[records]:,} records"),
                TimeElapsedColumn(),
                console=Console(file=stream),
                transient=True,
            )

    def __enter__(self) -> ProgressBar:
        if self._progress is not None:
            self._progress.start()
            self._task = self._progress.add_task("pages", total=None, records=0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()

    def hook(self, event: Event) -> None:
        if self._progress is None or self._task is None:
            return
        if event.name == "sync_started":
            total_pages = event.fields.get("total_pages")
            if isinstance(total_pages, int) and total_pages > 0:
                self._progress.update(self._task, total=total_pages)
        elif event.name == "page_fetched":
            records = event.fields.get("records", 0)
            self._records += records if isinstance(records, int) else 0
            pass_no = event.fields.get("pass", 0)
            if isinstance(pass_no, int) and pass_no != self._pass:
                # A drift re-check walks every page again: count that pass from zero,
                # so the bar never runs past its total.
                self._pass = pass_no
                self._progress.reset(self._task, description=f"pages (re-check {pass_no})")
            task = self._progress.tasks[0]
            if task.total is None or task.completed < task.total:
                self._progress.update(self._task, advance=1, records=self._records)
            else:
                self._progress.update(self._task, records=self._records)


def progress_hook(*, enabled: bool, stream: TextIO) -> ProgressBar:
    return ProgressBar(enabled=enabled, stream=stream)
