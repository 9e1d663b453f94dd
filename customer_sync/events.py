"""Hooks observe the pipeline through frozen :class:`~customer_sync.models.Event` records.

Logging, progress bars and metrics are hooks; none of them is woven into the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .models import Event

__all__ = ["Hook", "fan_out", "null_hook"]

Hook = Callable[[Event], None]


def null_hook(event: Event) -> None:
    """A hook that ignores everything."""


def fan_out(hooks: Iterable[Hook]) -> Hook:
    """One hook that calls each of ``hooks`` in order."""
    hooks = tuple(hooks)

    def emit(event: Event) -> None:
        for hook in hooks:
            hook(event)

    return emit
