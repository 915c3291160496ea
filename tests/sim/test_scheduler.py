"""``/system scheduler`` and the clock, rule by rule, on a manual device clock.

Each test quotes the rule it checks: the MikroTik Scheduler manual
(https://help.mikrotik.com/docs/display/ROS/Scheduler), Manual:System/Time
(https://wiki.mikrotik.com/wiki/Manual:System/Time), or "assumed" where neither says
(docs/simulator.md, "Scheduler and clock rules", has the table).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tikguard.sim.clock import SimClock
from tikguard.sim.router import SimRouter

BOOT = 10.0  # boot_seconds of these routers
STARTUP = 3.0  # "3 seconds after console starts up"


def make(model: str = "CHR", **kw: object) -> SimRouter:
    return SimRouter(
        name="gw1",
        version="7.16",
        model=model,
        clock=SimClock(manual=True),
        boot_seconds=BOOT,
        **kw,  # type: ignore[arg-type]
    )


async def run(r: SimRouter, text: str) -> str:
    return await r.execute(text, user="admin")


async def reboot(r: SimRouter) -> None:
    await run(r, "/system reboot")
    await r.clock.advance(0)  # the reboot happens after the command's output
    assert not r.is_up


def counter(name: str) -> str:
    """An on-event script that counts its runs in a global and logs them."""
    return f'on-event=":global {name}; :log info {name}"'


def runs(r: SimRouter, name: str) -> int:
    return sum(1 for _, _, message in r.log_lines if message == name)


# -- interval only ----------------------------------------------------------------------
async def test_interval_only_first_runs_one_interval_after_add() -> None:
    """Assumed (the manual is silent): the add records its own moment as start-date/
    start-time (exports show them) and the first run is one interval later."""
    r = make()
    await run(r, f"/system scheduler add name=t interval=2m {counter('t')}")
    assert "start-time=08:47:35" in r.config_text()
    assert r.scheduler.next_run_in("t") == pytest.approx(120)
    await r.clock.advance(119)
    assert runs(r, "t") == 0
    await r.clock.advance(1)
    assert runs(r, "t") == 1
    await r.clock.advance(240)
    assert runs(r, "t") == 3 and r.scheduler.run_count("t") == 3
    out = await run(r, "/system scheduler print detail")
    assert "run-count=3" in out and "next-run=" in out


# -- absolute start-date / start-time -----------------------------------------------------
async def test_absolute_start_is_the_first_execution_then_every_interval() -> None:
    """Manual: "start-time (time) - time of the first script execution"; "interval ...
    otherwise it is executed repeatedly at the time interval is specified"."""
    r = make()  # the clock starts at 2024-02-09 08:47:35
    await run(
        r,
        "/system scheduler add name=a start-date=2024-02-09 start-time=09:00:00"
        f" interval=1h {counter('a')}",
    )
    assert r.scheduler.next_run_in("a") == pytest.approx(12 * 60 + 25)
    await r.clock.advance(12 * 60 + 25)
    assert runs(r, "a") == 1
    assert r.scheduler.next_run_in("a") == pytest.approx(3600)


async def test_absolute_start_in_the_past_runs_on_its_grid() -> None:
    """Assumed: a start already past with an interval runs at start + k * interval, the
    first such moment after now (the manual's "executed repeatedly")."""
    r = make()
    await run(
        r,
        "/system scheduler add name=g start-date=2024-02-09 start-time=08:00:00"
        f" interval=1h {counter('g')}",
    )
    assert r.scheduler.next_run_in("g") == pytest.approx(12 * 60 + 25)


async def test_absolute_start_without_interval_runs_once_and_never_when_past() -> None:
    """Manual: "if time interval is set to zero, the script is only executed at its
    start time"."""
    r = make()
    await run(
        r,
        "/system scheduler add name=once start-date=2024-02-09 start-time=09:00:00"
        f" {counter('once')}",
    )
    await run(
        r,
        "/system scheduler add name=past start-date=2024-02-09 start-time=08:00:00"
        f" {counter('past')}",
    )
    assert r.scheduler.next_run_in("past") is None
    await r.clock.advance(3 * 3600)
    assert runs(r, "once") == 1 and runs(r, "past") == 0


# -- start-time=startup ----------------------------------------------------------------
async def test_startup_without_interval_runs_once_at_every_boot() -> None:
    """Manual: "if scheduler item has start-time set to startup, it behaves as if
    start-time and start-date were set to time 3 seconds after console starts up. It
    means that all scripts having start-time is startup and interval is 0 will be
    executed once each time router boots." The boot-time safety timer relies on it."""
    r = make()
    await r.clock.advance(60)
    await run(r, f"/system scheduler add name=boot start-time=startup {counter('boot')}")
    # Added mid-uptime: "3 seconds after console starts up" has passed for this boot.
    assert r.scheduler.next_run_in("boot") is None
    for boot in (1, 2, 3):
        await reboot(r)
        await r.clock.advance(BOOT)
        assert r.is_up and runs(r, "boot") == boot - 1
        assert r.scheduler.next_run_in("boot") == pytest.approx(STARTUP)
        await r.clock.advance(STARTUP - 0.1)
        assert runs(r, "boot") == boot - 1
        await r.clock.advance(0.1)
        assert runs(r, "boot") == boot and r.scheduler.run_count("boot") == 1
        await r.clock.advance(3600)
        assert runs(r, "boot") == boot  # once per boot, never again


async def test_startup_without_interval_runs_after_a_power_cut_too() -> None:
    """Manual: "executed once each time router boots" (a power cycle is a boot)."""
    r = make()
    await run(r, f"/system scheduler add name=boot start-time=startup {counter('boot')}")
    await r.power_loss()
    await r.clock.advance(60)
    await r.power_on()
    await r.clock.advance(BOOT + STARTUP)
    assert runs(r, "boot") == 1


async def test_startup_with_interval_does_not_run_at_startup() -> None:
    """Manual: "If the interval is set to value other than 0 scheduler will not run at
    startup": counted from "3 seconds after console starts up", the first run is one
    interval later, then every interval."""
    r = make()
    await run(r, f"/system scheduler add name=s start-time=startup interval=60s {counter('s')}")
    await reboot(r)
    await r.clock.advance(BOOT)
    assert r.scheduler.next_run_in("s") == pytest.approx(STARTUP + 60)
    await r.clock.advance(STARTUP + 59)
    assert runs(r, "s") == 0
    await r.clock.advance(1)
    assert runs(r, "s") == 1
    await r.clock.advance(120)
    assert runs(r, "s") == 3


async def test_startup_with_interval_added_mid_uptime_keeps_the_boot_grid() -> None:
    """Assumed from the manual's "as if start-time and start-date were set to time 3
    seconds after console starts up": runs fall on boot + 3 s + k * interval."""
    r = make()
    await r.clock.advance(100)
    await run(r, f"/system scheduler add name=s start-time=startup interval=60s {counter('s')}")
    # This router came up at 0: runs at 63, 123, ... -> the next is 23 s from now.
    assert r.scheduler.next_run_in("s") == pytest.approx(23)


# -- reboots ----------------------------------------------------------------------------
async def test_reboot_resets_run_count_and_recomputes_next_runs() -> None:
    """Manual: "Rebooting the router will reset the run-count counter." Assumed: next runs
    are computed afresh by the same rules at every boot."""
    r = make()
    await run(r, f"/system scheduler add name=t interval=10m {counter('t')}")
    await r.clock.advance(1800)
    assert r.scheduler.run_count("t") == 3
    await reboot(r)
    await r.clock.advance(BOOT)
    assert r.scheduler.run_count("t") == 0
    # The interval grid from the recorded start continues on the (battery) clock.
    assert r.scheduler.next_run_in("t") == pytest.approx(600 - BOOT)


async def test_items_due_together_run_in_configuration_order() -> None:
    """Manual: "If more than one script has to be executed simultaneously, they are
    executed in the order they appear in the scheduler configuration"."""
    r = make()
    await run(r, f"/system scheduler add name=first interval=1m {counter('first')}")
    await run(r, f"/system scheduler add name=second interval=1m {counter('second')}")
    # Re-arm ``first``: its timer is now set after ``second``'s, for the same moment.
    await run(r, "/system scheduler set first comment=x")
    await r.clock.advance(60)
    logged = [m for _, _, m in r.log_lines if m in ("first", "second")]
    assert logged == ["first", "second"]


# -- the clock across a reboot ---------------------------------------------------------------
async def test_a_board_without_battery_or_ntp_boots_at_jan_02_1970() -> None:
    """Manual:System/Time: "Startup date and time is jan/02/1970 00:00:00 [+|-]gmt-offset.
    If router has a battery (for example RB230), then BIOS stored time is used as a
    startup time." (The corpus has RouterBOARD exports dated jan/02/1970 and later in
    1970, their uptime since such a boot.)"""
    r = make("hAP ac")
    assert r.clock.now().year == 2024
    await reboot(r)
    await r.clock.advance(BOOT)
    assert r.clock.now() == datetime(1970, 1, 2, 0, 0, 0, tzinfo=UTC)
    assert "date: 1970-01-02" in await run(r, "/system clock print")  # 7.x spelling


async def test_a_chr_or_a_board_with_ntp_keeps_the_time_across_a_reboot() -> None:
    """CHR takes its host's clock; assumed: an enabled NTP client whose server answers
    sets the clock ``ntp_sync_seconds`` (5 s) after the boot."""
    chr_ = make()
    await reboot(chr_)
    await chr_.clock.advance(BOOT)
    assert chr_.clock.now().year == 2024
    board = make("hAP ac")
    await run(board, "/system ntp client set enabled=yes")
    await reboot(board)
    await board.clock.advance(BOOT)
    assert board.clock.now().year == 1970
    await board.clock.advance(5.5)
    expected = datetime(2024, 2, 9, 8, 47, 35, tzinfo=UTC).timestamp() + BOOT + 5.5
    assert abs(board.clock.now().timestamp() - expected) < 1


async def test_after_a_1970_boot_dated_items_wait_but_startup_items_run() -> None:
    """What the two rules mean together: after the clock falls back to 1970, an item
    whose start lies in 2024 is decades away, while ``start-time=startup`` does not read
    the date at all, which is why a boot-time safety timer uses it."""
    r = make("hAP ac")
    await run(r, f"/system scheduler add name=t interval=2m {counter('t')}")
    await run(r, f"/system scheduler add name=boot start-time=startup {counter('boot')}")
    await reboot(r)
    await r.clock.advance(BOOT + STARTUP)
    assert runs(r, "boot") == 1
    wait = r.scheduler.next_run_in("t")
    assert wait is not None and wait > 50 * 365 * 86400
