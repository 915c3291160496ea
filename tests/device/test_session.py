"""Device sessions against simulated routers over real SSH/SFTP.

Host keys are pinned on first use and a changed key is refused before the password is
sent; wrong passwords, closed ports, powered-off routers, dropped connections and slow
commands each end in their own typed error with a message that says what to do.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Awaitable, Callable

import pytest
from tests.device.helpers import SETTINGS, target

from tikguard.device.errors import (
    AuthFailed,
    ConnectionLost,
    DeviceTimeout,
    HostKeyChanged,
    RouterOSCommandError,
    TransferFailed,
    Unreachable,
)
from tikguard.device.session import Target, connect, fetch_host_key, fingerprint
from tikguard.routeros.quoting import quote
from tikguard.sim.fleet import SimDevice, SimFleet


async def test_first_use_returns_the_key_to_pin(sim_router: SimDevice) -> None:
    async with await connect(target(sim_router), SETTINGS) as session:
        assert session.first_use
        assert session.host_key_fingerprint == sim_router.host_key_fingerprint
        pinned = session.host_key
    async with await connect(target(sim_router, host_key=pinned), SETTINGS) as session:
        assert not session.first_use
        assert "name:" in await session.run("/system identity print")


async def test_changed_host_key_is_refused_and_named(sim_router: SimDevice) -> None:
    async with await connect(target(sim_router), SETTINGS) as session:
        pinned = session.host_key
    old = sim_router.host_key_fingerprint
    sim_router.change_host_key()
    with pytest.raises(HostKeyChanged) as caught:
        await connect(target(sim_router, host_key=pinned), SETTINGS)
    err = caught.value
    assert err.old_fingerprint == old
    assert err.new_fingerprint == sim_router.host_key_fingerprint != old
    assert err.new_key is not None and fingerprint(err.new_key) == err.new_fingerprint
    assert old in err.message and err.new_fingerprint in err.message
    assert err.hint is not None
    assert f"tikguard device accept-hostkey {sim_router.name}" in err.hint
    # What an operator is shown before accepting, read without logging in:
    presented = await fetch_host_key(sim_router.host, sim_router.port, SETTINGS)
    assert fingerprint(presented) == sim_router.host_key_fingerprint
    async with await connect(target(sim_router, host_key=presented), SETTINGS) as session:
        assert not session.first_use


async def test_wrong_password(sim_router: SimDevice) -> None:
    with pytest.raises(AuthFailed) as caught:
        await connect(target(sim_router, password="not-the-password"), SETTINGS)
    assert "not-the-password" not in str(caught.value)
    assert caught.value.hint and "password" in caught.value.hint


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_closed_port_is_unreachable() -> None:
    port = _closed_port()
    dead = Target("gone", "127.0.0.1", port, "admin", "x")
    with pytest.raises(Unreachable) as caught:
        await connect(dead, SETTINGS)
    assert f"127.0.0.1:{port}" in caught.value.message
    assert caught.value.hint


async def test_powered_off_router_times_out_as_unreachable(sim_router: SimDevice) -> None:
    await sim_router.power_loss()
    settings = SETTINGS.with_(connect_timeout=10.0)  # 0.2 s of wall time
    with pytest.raises(Unreachable) as caught:
        await connect(target(sim_router), settings)
    assert "no SSH answer" in caught.value.message


async def test_errors_are_read_from_the_text_and_secrets_masked(sim_router: SimDevice) -> None:
    async with await connect(target(sim_router), SETTINGS) as session:
        with pytest.raises(RouterOSCommandError) as caught:
            await session.run(f"/no-such-menu add password={quote('hunter2 x')}")
        assert "hunter2" not in str(caught.value)
        assert "password=***" in caught.value.command
        assert caught.value.error
        # check=False hands the text back
        text = await session.run("/no-such-menu print", check=False)
        assert text.strip()


async def test_slow_command_times_out(sim_router: SimDevice) -> None:
    async with await connect(target(sim_router), SETTINGS) as session:
        with pytest.raises(DeviceTimeout) as caught:
            await session.run(":delay 60s", device_timeout=5.0)
        assert ":delay 60s" in caught.value.message


async def test_connection_dropped_mid_command(sim_router: SimDevice) -> None:
    # The drop comes when the answer is due, not after a wait: a command limit far
    # beyond any load (an hour of device time) keeps a slow machine from turning it
    # into a DeviceTimeout. Probability 1 with a fixed seed: every answer is reset.
    patient = dataclasses.replace(SETTINGS, command_timeout=3600.0)
    async with await connect(target(sim_router), patient) as session:
        sim_router.inject("random-disconnects", probability=1.0, seed=3)
        with pytest.raises(ConnectionLost) as caught:
            await session.run("/system identity print")
        assert caught.value.hint


async def test_sftp_round_trip_and_missing_file(sim_router: SimDevice) -> None:
    data = bytes(range(256)) * 64
    async with await connect(target(sim_router), SETTINGS) as session:
        await session.upload("tikguard-test.rsc", data)
        assert await session.download("tikguard-test.rsc") == data
        with pytest.raises(TransferFailed):
            await session.download("no-such-file.backup")


async def test_many_sessions_at_once(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]],
) -> None:
    import asyncio

    fleet = await sim_fleet_factory(20)

    async def one(dev: SimDevice) -> str:
        async with await connect(target(dev), SETTINGS) as session:
            return await session.run("/system identity print")

    outputs = await asyncio.gather(*(one(d) for d in fleet))
    assert all(d.name in out for d, out in zip(fleet, outputs, strict=True))
