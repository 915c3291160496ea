"""``/system scheduler`` timing, on the router's device clock.

Each rule below is the MikroTik Scheduler manual's (help.mikrotik.com/docs/display/ROS/
Scheduler, quoted in ``tests/sim/test_scheduler.py``) or marked *assumed* where the
manual is silent; docs/simulator.md has the table with sources.

* ``interval`` without ``start-time``: the add records the current date and time as
  ``start-date``/``start-time`` (as exports show), and the first run is one interval
  after the add, then every interval (*assumed*).
* absolute ``start-date``/``start-time``: "time of the first script execution"; with
  an interval it then runs "repeatedly at the time interval" (start + k * interval, the
  first such moment after now); with interval 0 "only executed at its start time",
  never if that moment has passed.
* ``start-time=startup`` "behaves as if start-time and start-date were set to time 3
  seconds after console starts up" (``startup_delay``): with interval 0 it runs once at
  every boot, 3 s after the console is up (never in the boot it was added in: that
  moment has passed); "if the interval is set to value other than 0 scheduler will not
  run at startup": it runs first one interval after that moment, then every interval.
* "Rebooting the router will reset the run-count counter"; next runs are computed
  afresh from the rules at every boot (*assumed*), on the clock as it is after the boot.
* Items due at the same moment run "in the order they appear in the scheduler
  configuration". A disabled item never runs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from tikguard.routeros.values import parse_date, parse_duration
from tikguard.sim.clock import TimerHandle
from tikguard.sim.configdb import Item
from tikguard.sim.context import RouterHost

PATH = "/system scheduler"
#: Timers due within this many device seconds of each other are one moment.
_SAME_MOMENT = 1e-6


@dataclass
class _Run:
    signature: tuple[object, ...]
    next_run: float | None  # device monotonic seconds
    run_count: int = 0
    timer: TimerHandle | None = None


def interval_seconds(item: Item) -> float:
    text = item.get("interval")
    if not text:
        return 0.0
    try:
        return float(text) if text.isdigit() else parse_duration(text)
    except ValueError:
        return 0.0


class Scheduler:
    """Arms one timer per enabled scheduler item and runs its on-event when due."""

    __slots__ = ("_runs", "_tasks", "booted_at", "enabled", "router", "startup_delay")

    def __init__(
        self, router: RouterHost, *, startup_delay: float = 3.0, enabled: bool = True
    ) -> None:
        self.router = router
        self.startup_delay = startup_delay
        #: False only for routers that just hold a config (fidelity checks): no timers.
        self.enabled = enabled
        self._runs: dict[int, _Run] = {}
        self._tasks: set[asyncio.Task[None]] | None = None  # made when a script first runs
        self.booted_at = 0.0

    # -- lifecycle ---------------------------------------------------------------
    def on_boot(self, booted_at: float) -> None:
        """Forget run counts and arm every item relative to this boot."""
        self.stop()
        self.booted_at = booted_at
        self.resync()

    def stop(self) -> None:
        for run in self._runs.values():
            if run.timer is not None:
                run.timer.cancel()
        self._runs.clear()
        for task in list(self._tasks or ()):
            task.cancel()
        self._tasks = None

    def resync(self) -> None:
        """Re-read the items (after any change) and (re)arm what changed."""
        if not self.enabled:
            return
        state = self.router.db.read(PATH)
        items = {i.id: i for i in state.items} if state is not None else {}
        for ident in list(self._runs):
            if ident not in items:
                self._cancel(ident)
                del self._runs[ident]
        for ident, item in items.items():
            signature = tuple(sorted((k, v) for k, v in item.effective().items()))
            run = self._runs.get(ident)
            if run is not None and run.signature == signature:
                continue
            count = run.run_count if run is not None else 0
            self._cancel(ident)
            run = _Run(signature, self._first_run(item), count)
            self._runs[ident] = run
            self._arm(ident, run)

    def rearm(self) -> None:
        """Recompute every next run (the wall clock moved), keeping run counts."""
        if not self.router.is_up:
            return  # booting: the boot arms everything afresh
        for run in self._runs.values():
            run.signature = ()
        self.resync()

    # -- reading -----------------------------------------------------------------
    def runtime_values(self) -> dict[int, dict[str, str]]:
        """``run-count`` and ``next-run`` per item id, as print shows them."""
        out: dict[int, dict[str, str]] = {}
        now_mono = self.router.clock.monotonic()
        now = self.router.clock.now()
        for ident, run in self._runs.items():
            values = {"run-count": str(run.run_count)}
            if run.next_run is not None:
                when = now + _seconds(run.next_run - now_mono)
                values["next-run"] = self.router.format_datetime(when)
            out[ident] = values
        return out

    def next_run_in(self, name: str) -> float | None:
        """Device seconds until the named item runs next (tests and the fleet API)."""
        state = self.router.db.read(PATH)
        for item in state.items if state is not None else []:
            if item.get("name") == name:
                run = self._runs.get(item.id)
                if run is None or run.next_run is None:
                    return None
                return run.next_run - self.router.clock.monotonic()
        return None

    def run_count(self, name: str) -> int:
        state = self.router.db.read(PATH)
        for item in state.items if state is not None else []:
            if item.get("name") == name:
                run = self._runs.get(item.id)
                return run.run_count if run else 0
        return 0

    # -- timing ------------------------------------------------------------------
    def _first_run(self, item: Item) -> float | None:
        if item.disabled or not self.router.scheduler_allowed():
            return None
        now = self.router.clock.monotonic()
        interval = interval_seconds(item)
        start_time = item.get("start-time") or ""
        if start_time == "startup":
            base = self.booted_at + self.startup_delay
            if interval <= 0:
                return base if now < base else None
            return _next_after(base + interval, interval, now)
        start = self._absolute_start(item)
        if start is None:
            return now + interval if interval > 0 else None
        if interval <= 0:
            return start if start > now else None
        return _next_after(start, interval, now)

    def _absolute_start(self, item: Item) -> float | None:
        date_text = item.get("start-date")
        time_text = item.get("start-time")
        if not time_text:
            return None
        try:
            day = parse_date(date_text) if date_text else self.router.clock.now().date()
            moment = datetime.combine(day, time.fromisoformat(time_text))
        except ValueError:
            return None
        now_wall = self.router.clock.now().replace(tzinfo=None)
        return self.router.clock.monotonic() + (moment - now_wall).total_seconds()

    def _arm(self, ident: int, run: _Run) -> None:
        if run.next_run is None:
            return
        delay = run.next_run - self.router.clock.monotonic()
        run.timer = self.router.clock.call_later(delay, self._due(ident))

    def _due(self, ident: int) -> Callable[[], None]:
        def fire() -> None:
            run = self._runs.get(ident)
            if run is None or not self.router.is_up:
                return
            now = self.router.clock.monotonic()
            if run.next_run is None or run.next_run > now + _SAME_MOMENT:
                return  # already run with an item due at the same moment
            state = self.router.db.read(PATH)
            # Every item due now, in configuration order (the manual's rule).
            for item in state.items if state is not None else []:
                due = self._runs.get(item.id)
                when = due.next_run if due is not None else None
                if due is not None and when is not None and when <= now + _SAME_MOMENT:
                    self._run_now(item, due, now)

        return fire

    def _run_now(self, item: Item, run: _Run, now: float) -> None:
        run.run_count += 1
        interval = interval_seconds(item)
        if run.timer is not None:
            run.timer.cancel()
        if interval > 0 and run.next_run is not None:
            run.next_run = _next_after(run.next_run, interval, now)
            self._arm(item.id, run)
        else:
            run.next_run = None
            run.timer = None
        task = asyncio.ensure_future(self._execute(item))
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _execute(self, item: Item) -> None:
        source = item.get("on-event") or ""
        await self.router.run_script(
            source,
            policy=item.get("policy") or "",
            origin=f"scheduler {item.get('name') or item.id_text()}",
        )

    def _cancel(self, ident: int) -> None:
        run = self._runs.get(ident)
        if run is not None and run.timer is not None:
            run.timer.cancel()
            run.timer = None


def _next_after(start: float, interval: float, now: float) -> float:
    """The first ``start + k * interval`` (k >= 0) strictly after ``now``."""
    if start > now:
        return start
    k = math.floor((now - start) / interval) + 1
    return start + k * interval


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)
