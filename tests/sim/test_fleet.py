"""The fleet API: inventory, addressing, handles, faults, clocks and power."""

from __future__ import annotations

import csv
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tikguard.sim.fleet import INVENTORY_COLUMNS, SimDevice, SimFleet

from .sshclient import run


async def test_inventory_lists_every_router(sim_fleet: SimFleet) -> None:
    path = sim_fleet.inventory_path
    assert path is not None and path.exists()
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == INVENTORY_COLUMNS
        rows = list(reader)
    assert [r["name"] for r in rows] == ["r001", "r002", "r003"]
    assert len({int(r["port"]) for r in rows}) == 3
    for row, dev in zip(rows, sim_fleet, strict=True):
        assert (row["host"], int(row["port"])) == (dev.host, dev.port)
        assert row["username"] == "admin" and row["password"] == dev.password
        assert row["tags"] == "sim;ros7.16" and row["site"] == "site-01"


async def test_every_router_answers_on_its_own_port(sim_fleet: SimFleet) -> None:
    for dev in sim_fleet:
        assert f"name: {dev.name}" in await run(dev, "/system identity print")
    assert sim_fleet["r002"] is sim_fleet[1]


async def test_distinct_loopback_addresses(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(3, distinct_hosts=True, devices_per_site=2)
    assert [d.host for d in fleet] == ["127.1.0.1", "127.1.0.2", "127.1.0.3"]
    assert [d.site for d in fleet] == ["site-01", "site-01", "site-02"]
    assert "name: r003" in await run(fleet[2], "/system identity print")


async def test_version_and_model_reach_the_router(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(1, version="6.49", model="hAP ac")
    dev = fleet[0]
    assert dev.router.profile.version == "6.49"
    assert dev.router.files.has_flash
    assert "6.49" in await run(dev, "/system resource print")


async def test_inject_sets_the_routers_faults(sim_router: SimDevice) -> None:
    faults = sim_router.router.faults
    sim_router.inject("drop-after-import-line", line=3)
    sim_router.inject("slow-flash", seconds=40)
    sim_router.inject("full-flash")
    sim_router.inject("power-loss-after-commands", count=2)
    sim_router.inject("random-disconnects", probability=0.3, seed=5)
    assert faults.drop_after_import_line == 3
    assert faults.slow_flash_seconds == 40
    assert faults.full_flash
    assert faults.power_loss_after_commands == 2
    assert sim_router.server.random_disconnects is not None
    sim_router.inject("clear")
    assert faults.drop_after_import_line is None and not faults.full_flash
    assert sim_router.server.random_disconnects is None
    with pytest.raises(ValueError, match="unknown fault"):
        sim_router.inject("meteor-strike")


async def test_power_loss_at_a_later_device_time(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(1, manual_clock=True)
    dev = fleet[0]
    dev.inject("power-loss", after=30)
    await fleet.advance(29)
    assert dev.router.is_up
    await fleet.advance(2)
    assert not dev.router.is_up
    await dev.power_on()
    await fleet.advance(dev.router.boot_seconds + 1)
    assert dev.router.is_up


async def test_power_cycle_waits_for_boot(sim_router: SimDevice) -> None:
    await sim_router.power_cycle(off_seconds=5)
    assert sim_router.router.is_up
    assert "name: r001" in await run(sim_router, "/system identity print")


async def test_set_clock(sim_router: SimDevice) -> None:
    when = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    sim_router.set_clock(when)
    assert abs((sim_router.router.clock.now() - when).total_seconds()) < 60
    assert "2031" in await run(sim_router, "/system clock print")


async def test_stop_closes_every_port(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    import asyncio

    fleet = await sim_fleet_factory(2)
    ports = [d.port for d in fleet]
    await fleet.stop()
    for port in ports:
        with pytest.raises(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()


async def test_hundreds_of_routers_each_on_its_own_port(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    fleet = await sim_fleet_factory(300, state_dir=None)
    assert len({d.port for d in fleet}) == 300
    for dev in (fleet[0], fleet[149], fleet[299]):
        assert f"name: {dev.name}" in await run(dev, "/system identity print")


async def test_time_scale_defaults_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TIKGUARD_TIME_SCALE", "25")
    assert SimFleet(0).time_scale == 25
    assert SimFleet(0, time_scale=3).time_scale == 3


async def test_a_restarted_fleet_keeps_config_files_and_host_key(tmp_path: Path) -> None:
    state = tmp_path / "state"
    async with SimFleet(1, model="hAP ac", time_scale=50, state_dir=state) as fleet:
        dev = fleet[0]
        port, key = dev.port, dev.host_key_fingerprint
        await run(dev, "/ip address add address=192.0.2.1/24 interface=ether2 comment=kept")
        await run(dev, "/system backup save name=flash/before dont-encrypt=yes")
        dev.router.files.write("ram.txt", b"lost at power-off")
    async with SimFleet(1, model="hAP ac", time_scale=50, state_dir=state) as again:
        dev = again[0]
        assert (dev.port, dev.host_key_fingerprint) == (port, key)
        assert "address=192.0.2.1/24 comment=kept" in await run(dev, "/ip address export")
        files = await run(dev, "/file print")
        assert "flash/before.backup" in files and "ram.txt" not in files


async def test_slow_commands_answer_late_by_device_time(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    import asyncio

    from .sshclient import connect

    fleet = await sim_fleet_factory(1, manual_clock=True)
    dev = fleet[0]
    dev.inject("slow-commands", seconds=10)
    clock = dev.router.clock
    held = asyncio.Event()
    sleep = clock.sleep

    async def holding(seconds: float) -> None:
        held.set()  # the router holds the command now
        await sleep(seconds)

    clock.sleep = holding  # type: ignore[method-assign]
    async with await connect(dev) as conn:
        task = asyncio.create_task(conn.run("/system identity set name=slow", check=True))
        async with asyncio.timeout(10):
            await held.wait()
        await fleet.advance(9)
        assert not task.done() and dev.router.identity == dev.name
        await fleet.advance(2)
        async with asyncio.timeout(10):
            await task
        assert dev.router.identity == "slow"
        dev.inject("clear")
        assert dev.router.faults.slow_command_seconds == 0
        assert "name: slow" in str((await conn.run("/system identity print")).stdout)
