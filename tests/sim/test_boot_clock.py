"""The simulator's side of a reboot inside a push window: a boot-time scheduler item
(``start-time=startup``, no interval) runs once at each boot and never on the boot it
was added in; a board without a battery-backed clock restarts its clock at boot and
NTP sets it right; encrypted backups load only with their password."""

from __future__ import annotations

from datetime import timedelta

from tikguard.sim.clock import SimClock
from tikguard.sim.router import BOARD_EPOCH, SimRouter


def make(**kw: object) -> SimRouter:
    return SimRouter(name="gw1", version="7.16", clock=SimClock(manual=True), **kw)  # type: ignore[arg-type]


async def run(r: SimRouter, text: str) -> str:
    return await r.execute(text, user="admin")


async def boot(r: SimRouter) -> None:
    await r.reboot()
    await r.clock.advance(r.boot_seconds + 0.1)
    assert r.is_up


async def test_startup_item_runs_once_at_each_boot_not_when_added() -> None:
    r = make()
    await r.clock.advance(60)
    await run(r, '/system scheduler add name=b start-time=startup on-event=":global n 1"')
    await r.clock.advance(3600)
    assert r.scheduler.run_count("b") == 0 and "n" not in r.globals
    for _ in range(2):
        await boot(r)
        await r.clock.advance(2.5)
        assert r.scheduler.run_count("b") == 0
        await r.clock.advance(1.0)
        assert r.scheduler.run_count("b") == 1  # 3 s after the boot, once
        await r.clock.advance(3600)
        assert r.scheduler.run_count("b") == 1


async def test_clock_restarts_at_boot_without_rtc_and_ntp_sets_it_right() -> None:
    r = make(rtc=False, ntp_sync_seconds=5.0)
    start = r.clock.now()
    await r.clock.advance(7200)
    await boot(r)
    # Restarted at "jan/02/1970 00:00:00" (Manual:System/Time).
    assert abs((r.clock.now() - BOARD_EPOCH).total_seconds()) < 1
    assert "status: stopped" in await run(r, "/system ntp client print")

    await run(r, "/system ntp client set enabled=yes")
    await boot(r)
    assert "status: waiting" in await run(r, "/system ntp client print")
    await r.clock.advance(5.5)
    assert "status: synchronized" in await run(r, "/system ntp client print")
    expected = start + timedelta(seconds=r.clock.monotonic())
    assert abs((r.clock.now() - expected).total_seconds()) < 1


async def test_an_interval_timer_after_a_clock_restart_lies_far_ahead() -> None:
    """Why the boot item exists: the interval timer's start is a wall-clock moment."""
    r = make(rtc=False)
    await r.clock.advance(7200)
    await run(r, '/system scheduler add name=t interval=2m on-event=":global n 1"')
    await boot(r)
    ahead = r.scheduler.next_run_in("t")
    assert ahead is not None and ahead > 7000


async def test_backup_with_a_password_loads_only_with_it() -> None:
    r = make()
    await run(r, "/system backup save name=p password=s3cret")
    await run(r, "/ip address add address=10.9.9.1/24 interface=ether2")
    out = await run(r, '/system backup load name=p.backup password=""')
    assert "10.9.9.1" in r.config_text() and "restored" not in out
    out = await run(r, "/system backup load name=p.backup password=wrong")
    assert "10.9.9.1" in r.config_text() and "restored" not in out
    out = await run(r, "/system backup load name=p.backup password=s3cret")
    assert "restored" in out and "10.9.9.1" not in r.config_text()
