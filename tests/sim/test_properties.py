"""Properties of the simulated router that must hold for any input."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from tikguard.routeros.quoting import quote
from tikguard.sim.clock import SimClock
from tikguard.sim.router import SimRouter

FAST = settings(max_examples=30, deadline=None)


def make() -> SimRouter:
    return SimRouter(name="gw1", clock=SimClock(manual=True), boot_seconds=5.0)


@FAST
@given(interval=st.integers(2, 86_400), idle=st.integers(0, 10_000))
def test_interval_only_item_first_runs_one_interval_after_add(interval: int, idle: int) -> None:
    async def go() -> None:
        r = make()
        await r.clock.advance(idle)
        await r.execute(
            f'/system scheduler add name=t interval={interval}s on-event=":log info x"',
            user="admin",
        )
        assert abs((r.scheduler.next_run_in("t") or 0) - interval) < 1e-6
        await r.clock.advance(interval - 1)
        assert r.scheduler.run_count("t") == 0
        await r.clock.advance(1)
        assert r.scheduler.run_count("t") == 1
        assert abs((r.scheduler.next_run_in("t") or 0) - interval) < 1e-6

    asyncio.run(go())


@FAST
@given(interval=st.integers(5, 3_600), uptime=st.integers(4, 20_000))
def test_startup_interval_item_counts_from_boot(interval: int, uptime: int) -> None:
    async def go() -> None:
        r = make()
        await r.clock.advance(uptime)
        await r.execute(
            f"/system scheduler add name=s start-time=startup interval={interval}s"
            ' on-event=":log info x"',
            user="admin",
        )
        left = r.scheduler.next_run_in("s")
        assert left is not None and 0 < left <= interval
        fires_at = uptime + left - 3.0  # startup delay
        assert abs(fires_at / interval - round(fires_at / interval)) < 1e-6

    asyncio.run(go())


@FAST
@given(count=st.integers(2, 12), data=st.data())
def test_runtime_error_applies_exactly_the_lines_before_it(count: int, data: st.DataObject) -> None:
    failing = data.draw(st.integers(1, count - 1))
    lines = [f"/ip address add address=10.0.{n}.1/24 interface=ether1" for n in range(count)]
    lines[failing] = lines[0]  # a duplicate: failure: already have such entry

    async def go() -> None:
        r = make()
        r.files.write("p.rsc", ("\n".join(lines) + "\n").encode())
        out = await r.execute("/import p.rsc", user="admin")
        assert "failure: already have such entry" in out
        text = r.config_text()
        for n in range(count):
            present = f"10.0.{n}.1/24" in text
            assert present == (n < failing), (n, failing)

    asyncio.run(go())


@FAST
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30))
def test_any_identity_survives_quoting(name: str) -> None:
    async def go() -> None:
        r = make()
        assert await r.execute(f"/system identity set name={quote(name)}", user="admin") == ""
        assert r.identity == name
        got = await r.execute(":put [/system identity get name]", user="admin")
        assert got == (r.identity + "\n")

    asyncio.run(go())
