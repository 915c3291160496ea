"""Reachability over real TCP: dropped vs refused connections, cuts, power, reboots, faults."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

import asyncssh
import pytest

from tikguard.sim.fleet import SimDevice, SimFleet
from tikguard.sim.network import Verdict

from .sshclient import connect, run

#: Short client timeouts: a dropped connection must fail by timing out.
SHORT = 0.6


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait for a condition the simulator will make true (fails the test on timeout)."""
    async with asyncio.timeout(within):
        while not condition():  # noqa: ASYNC110 - polls router state, no event exists for it
            await asyncio.sleep(0.01)


def force_verdict(dev: SimDevice, monkeypatch: pytest.MonkeyPatch) -> Callable[[Verdict], None]:
    """Take over the router's management verdict; setting it emits config-changed."""
    state: dict[str, Verdict] = {"v": "accept"}

    def verdict(**_: object) -> Verdict:
        return state["v"] if dev.router.is_up else "drop"

    monkeypatch.setattr(dev.router, "management_verdict", verdict, raising=False)

    def set_verdict(v: Verdict) -> None:
        state["v"] = v
        dev.router.emit("config-changed")

    return set_verdict


async def assert_times_out(dev: SimDevice) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await connect(dev, within=SHORT)
    assert time.monotonic() - started >= SHORT * 0.9


async def test_dropped_management_times_out_new_connections(
    sim_router: SimDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_verdict = force_verdict(sim_router, monkeypatch)
    set_verdict("drop")
    await assert_times_out(sim_router)


async def test_refused_management_resets_at_once(
    sim_router: SimDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_verdict = force_verdict(sim_router, monkeypatch)
    set_verdict("refuse")
    started = time.monotonic()
    with pytest.raises((OSError, asyncssh.DisconnectError)):
        await connect(sim_router, within=5)
    assert time.monotonic() - started < 2


async def test_cut_blackholes_an_open_session_and_reset_follows_restore(
    sim_router: SimDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_verdict = force_verdict(sim_router, monkeypatch)
    async with await connect(sim_router) as conn:
        assert "name: r001" in (await conn.run("/system identity print")).stdout
        set_verdict("drop")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(SHORT):
                await conn.run("/system identity print")
        set_verdict("accept")
        async with asyncio.timeout(5):
            await conn.wait_closed()  # the router no longer knows the session: reset
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_refuse_keeps_open_sessions(
    sim_router: SimDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_verdict = force_verdict(sim_router, monkeypatch)
    async with await connect(sim_router) as conn:
        set_verdict("refuse")
        assert "name: r001" in (await conn.run("/system identity print")).stdout


async def test_held_connection_is_served_when_the_path_opens(
    sim_router: SimDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_verdict = force_verdict(sim_router, monkeypatch)
    set_verdict("drop")
    pending = asyncio.create_task(connect(sim_router, within=10))
    await wait_until(lambda: len(sim_router.server._held) == 1)
    assert not pending.done()
    set_verdict("accept")
    async with await pending as conn:
        assert "name: r001" in (await conn.run("/system identity print")).stdout


async def test_power_loss_silences_sessions_and_drops_syns(sim_router: SimDevice) -> None:
    async with await connect(sim_router) as conn:
        await sim_router.power_loss()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(SHORT):
                await conn.run("/system identity print")
        # no banner from a dead router: the first attempt may queue, the rest lose SYNs
        for _ in range(3):
            with pytest.raises((TimeoutError, OSError)):
                async with asyncio.timeout(0.3):
                    reader, writer = await asyncio.open_connection(sim_router.host, sim_router.port)
                    try:
                        await reader.readline()
                    finally:
                        writer.close()
        await sim_router.power_on()
        await sim_router.wait_up()
        async with asyncio.timeout(5):
            await conn.wait_closed()  # the rebooted router answers the old session with RST
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_booting_router_is_unreachable_until_up(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(1, manual_clock=True)  # boot ends only when told
    dev = fleet[0]
    await dev.router.reboot()
    assert not dev.router.is_up
    await assert_times_out(dev)
    await fleet.advance(dev.router.boot_seconds + 1)
    assert dev.router.is_up
    assert "name: r001" in await run(dev, "/system identity print")


async def test_drop_connections_resets_every_session(sim_router: SimDevice) -> None:
    conns = [await connect(sim_router) for _ in range(3)]
    sim_router.inject("drop-connections")
    async with asyncio.timeout(5):
        for conn in conns:
            await conn.wait_closed()
    assert not sim_router.server.live or all(c.cut for c in sim_router.server.live)
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_random_disconnects_are_reproducible_from_the_seed(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(2)

    async def pattern(dev: SimDevice) -> list[bool]:
        dev.inject("random-disconnects", probability=0.5, seed=42)
        outcome = []
        for _ in range(12):
            # A reset (at accept or before the answer) is the fault; a timeout would be
            # load, so the connect limit is far beyond it and a timeout fails the test.
            try:
                async with await connect(dev, within=120) as conn:
                    await conn.run(":put ok", check=True)
                outcome.append(True)
            except (ConnectionError, asyncssh.Error):
                outcome.append(False)
        dev.inject("random-disconnects", probability=0)
        return outcome

    first, second = await pattern(fleet[0]), await pattern(fleet[1])
    assert first == second
    assert True in first and False in first
    assert await pattern(fleet[0]) == first


async def test_firewall_drop_in_the_config_cuts_management(sim_router: SimDevice) -> None:
    router = sim_router.router
    await router.execute("/ip firewall filter add chain=input action=drop", user="admin")
    await assert_times_out(sim_router)
    await router.execute("/ip firewall filter remove [ find ]", user="admin")
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_disabled_ssh_service_refuses(sim_router: SimDevice) -> None:
    router = sim_router.router
    await router.execute("/ip service disable ssh", user="admin")
    with pytest.raises((OSError, asyncssh.DisconnectError)):
        await connect(sim_router, within=5)
    await router.execute("/ip service enable ssh", user="admin")
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_drop_after_import_line_cuts_the_session_but_the_import_goes_on(
    sim_router: SimDevice,
) -> None:
    router = sim_router.router
    router.files.write(
        "push.rsc",
        b"/system note set note=one\n/system note set note=two\n/system identity set name=done\n",
    )
    sim_router.inject("drop-after-import-line", line=1)
    async with await connect(sim_router) as conn:
        try:
            result = await conn.run("/import file-name=push.rsc verbose=yes")
        except (asyncssh.Error, OSError):
            pass  # the connection died under the command
        else:  # or the channel closed without an exit status or output
            assert result.exit_status is None and not result.stdout
        await conn.wait_closed()
    await wait_until(lambda: router.identity == "done")


async def test_removing_the_management_address_locks_out_open_and_new_sessions(
    sim_router: SimDevice,
) -> None:
    async with await connect(sim_router) as conn:
        assert "name: r001" in (await conn.run("/system identity print")).stdout
        # the change goes through this very session, as a careless push would send it
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(SHORT * 2):
                await conn.run("/ip address remove [ find address=127.0.0.1/8 ]")
        await assert_times_out(sim_router)
    assert sim_router.router.config_text().count("127.0.0.1") == 0
    await sim_router.router.execute(
        "/ip address add address=127.0.0.1/8 interface=ether1", user="admin"
    )
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_firewall_accepting_established_keeps_the_open_session_only(
    sim_router: SimDevice,
) -> None:
    async with await connect(sim_router) as conn:
        await conn.run(
            "/ip firewall filter add chain=input connection-state=established,related "
            "action=accept",
            check=True,
        )
        await conn.run("/ip firewall filter add chain=input action=drop", check=True)
        # the session that made the change still works: only a fresh connection shows it
        assert "name: r001" in (await conn.run("/system identity print")).stdout
        await assert_times_out(sim_router)


async def test_moving_the_ssh_service_moves_the_listener(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(1, distinct_hosts=True)
    dev = fleet[0]
    old_port = dev.port
    with socket.socket() as probe:  # a port free on the router's address
        probe.bind((dev.host, 0))
        wanted = probe.getsockname()[1]
    async with await connect(dev) as conn:
        await conn.run(f"/ip service set ssh port={wanted}", check=True)
        assert dev.port == wanted  # the handle follows
        # the session that moved it stays open, as on RouterOS
        assert f"port={wanted}" in str((await conn.run("/ip service export")).stdout)
    with pytest.raises(ConnectionRefusedError):  # nothing listens on the old port
        await asyncio.open_connection(dev.host, old_port)
    assert f"name: {dev.name}" in await run(dev, "/system identity print")
    path = fleet.inventory_path
    assert path is not None and f"{dev.host},{wanted}," in path.read_text()


async def test_moving_ssh_to_a_taken_port_listens_on_a_free_one(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(2)
    first, second = fleet[0], fleet[1]
    taken = second.port  # on one shared address another router holds it
    await run(first, f"/ip service set ssh port={taken}")
    assert first.port not in (taken, 0) and first.router.ssh_port() == taken
    assert f"name: {first.name}" in await run(first, "/system identity print")
    assert f"name: {second.name}" in await run(second, "/system identity print")
