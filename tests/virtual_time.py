"""An asyncio event loop on virtual time, for tests of timeouts that must not really wait.

``VirtualTimeLoop.time()`` starts at 0 and moves only when the loop has nothing to run
and would block: it then jumps straight to the next timer (trio's ``MockClock`` with
``autojump_threshold=0`` does the same). ``asyncio.sleep``, ``asyncio.timeout`` and
``asyncio.wait(timeout=...)`` all run on it, so a test of a 2 s stall limit takes
microseconds, and events happen in the order they would in real time (unlike a fake
``sleep`` that moves a shared clock at once)::

    loop = VirtualTimeLoop()
    client = make_client(url, transport=..., clock=loop.time, sleep=asyncio.sleep)
    records = loop.run(client.afetch_all_customers())
    assert loop.time() == pytest.approx(2.0)

Only for in-process transports (``httpx.MockTransport``, ``httpx.ASGITransport``): a real
socket's I/O would look idle to the loop, and time would jump past it.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["VirtualTimeLoop"]

T = TypeVar("T")


class _JumpingSelector(selectors.DefaultSelector):
    """A selector that, instead of blocking until a timer is due, moves the clock there."""

    def __init__(self) -> None:
        super().__init__()
        self.loop: VirtualTimeLoop | None = None

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None or self.loop is None:  # no timer at all: wait for real I/O
            return super().select(timeout)
        self.loop.advance(timeout)  # the next timer is due now
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose clock jumps to the next timer when it has nothing to do."""

    def __init__(self) -> None:
        selector = _JumpingSelector()
        super().__init__(selector=selector)
        selector.loop = self
        self._now = 0.0

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to the end, then close the loop (its clock stays readable)."""
        try:
            return self.run_until_complete(coro)
        finally:
            self.run_until_complete(self.shutdown_asyncgens())
            self.close()
