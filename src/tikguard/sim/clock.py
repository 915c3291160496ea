"""Device time for simulated routers.

A router's clock runs ``time_scale`` times faster than the event loop's, so a 120 s
revert window can pass in a couple of seconds of a test while every duration the
router reports (uptime, next-run, :delay) stays in honest device seconds.

A *manual* clock does not follow the event loop at all: time moves only when a test
calls :meth:`SimClock.advance`, which fires every timer that falls due in order. That
keeps scheduler and reboot tests exact and free of sleeps that merely hope.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

#: Where a clock starts when not told: a plausible, fixed date (reproducible exports).
DEFAULT_START = datetime(2024, 2, 9, 8, 47, 35, tzinfo=UTC)


class _ManualHandle:
    """A pending manual-clock timer; ``cancel()`` like :class:`asyncio.TimerHandle`."""

    __slots__ = ("_cancelled", "callback", "due")

    def __init__(self, due: float, callback: Callable[[], object]) -> None:
        self.due = due
        self.callback = callback
        self._cancelled = False

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled

    def when(self) -> float:
        return self.due


TimerHandle = asyncio.TimerHandle | _ManualHandle


class SimClock:
    """One device's clock: wall time (settable) and monotonic time (never jumps)."""

    def __init__(
        self,
        time_scale: float = 1.0,
        start: datetime | None = None,
        *,
        manual: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.time_scale = time_scale
        self.manual = manual
        self._origin_real = time.monotonic()
        self._manual_now = 0.0
        self._wall_origin = start or DEFAULT_START
        self._wall_at_mono = 0.0  # monotonic reading at which _wall_origin held
        self._timers: list[tuple[float, int, _ManualHandle]] = []
        self._on_set: list[Callable[[], object]] | None = None
        self._seq = itertools.count()

    # -- reading -----------------------------------------------------------------
    def monotonic(self) -> float:
        """Device seconds since the clock was created."""
        if self.manual:
            return self._manual_now
        return (time.monotonic() - self._origin_real) * self.time_scale

    def now(self) -> datetime:
        """The device's wall clock (what ``/system clock`` shows)."""
        return self._wall_origin + timedelta(seconds=self.monotonic() - self._wall_at_mono)

    def set_time(self, when: datetime) -> None:
        """Set the wall clock (like ``/system clock set``); monotonic time is unaffected."""
        self._wall_origin = when
        self._wall_at_mono = self.monotonic()
        for callback in self._on_set or ():
            callback()

    def on_set(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` whenever the wall clock is set (timers by date re-arm)."""
        if self._on_set is None:
            self._on_set = []
        self._on_set.append(callback)

    # -- waiting -----------------------------------------------------------------
    def call_later(self, device_seconds: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` after ``device_seconds`` of device time."""
        delay = max(0.0, device_seconds)
        if self.manual:
            handle = _ManualHandle(self._manual_now + delay, callback)
            heapq.heappush(self._timers, (handle.due, next(self._seq), handle))
            return handle
        loop = asyncio.get_running_loop()
        return loop.call_later(delay / self.time_scale, callback)

    async def sleep(self, device_seconds: float) -> None:
        """Wait ``device_seconds`` of device time."""
        if not self.manual:
            await asyncio.sleep(max(0.0, device_seconds) / self.time_scale)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        handle = self.call_later(device_seconds, wake)
        try:
            await fut
        finally:
            handle.cancel()

    # -- manual mode -------------------------------------------------------------
    async def advance(self, device_seconds: float) -> None:
        """Move a manual clock forward, firing due timers in order (manual mode only).

        After each timer the event loop gets a few turns, so tasks it woke can run and
        schedule further timers that also fall inside the advanced span.
        """
        if not self.manual:
            raise RuntimeError("advance() is only for a manual clock")
        target = self._manual_now + max(0.0, device_seconds)
        await _settle()
        while self._timers and self._timers[0][0] <= target:
            due, _, handle = heapq.heappop(self._timers)
            if handle.cancelled():
                continue
            self._manual_now = max(self._manual_now, due)
            handle.callback()
            await _settle()
        self._manual_now = target
        await _settle()

    def pending(self) -> int:
        """Manual timers not yet fired or cancelled (for tests)."""
        return sum(1 for _, _, h in self._timers if not h.cancelled())


async def _settle(turns: int = 8) -> None:
    for _ in range(turns):
        await asyncio.sleep(0)
