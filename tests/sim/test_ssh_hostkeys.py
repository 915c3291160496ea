"""Host keys: one per router, persistent across restarts, and a fault that changes it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncssh
import pytest

from tikguard.sim.fleet import SimDevice, SimFleet
from tikguard.sim.hostkeys import HostKeyStore

from .sshclient import connect


def pinned(dev: SimDevice) -> asyncssh.SSHKnownHosts:
    return asyncssh.import_known_hosts(dev.known_hosts_line() + "\n")


async def test_each_router_has_its_own_key_and_presents_it(sim_fleet: SimFleet) -> None:
    prints = {dev.host_key_fingerprint for dev in sim_fleet}
    assert len(prints) == len(sim_fleet)
    for dev in sim_fleet:
        async with await connect(dev, known_hosts=pinned(dev)) as conn:
            key = conn.get_server_host_key()
            assert key is not None
            assert key.get_fingerprint("sha256") == dev.host_key_fingerprint
            assert key.get_algorithm() == "ssh-ed25519"


async def test_keys_and_ports_survive_a_restart(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]], tmp_path: Path
) -> None:
    state = tmp_path / "restart"
    first = await sim_fleet_factory(2, state_dir=state)
    before = [(d.name, d.port, d.host_key_fingerprint) for d in first]
    assert (state / "devices" / "r001" / "ssh" / "ssh_host_ed25519_key").exists()
    await first.stop()
    second = await sim_fleet_factory(2, state_dir=state)
    assert [(d.name, d.port, d.host_key_fingerprint) for d in second] == before
    async with await connect(second[0], known_hosts=pinned(second[0])):
        pass


async def test_changed_host_key_fails_a_pinned_client(sim_router: SimDevice) -> None:
    old_pin = pinned(sim_router)
    old = sim_router.host_key_fingerprint
    new = sim_router.change_host_key()
    assert new != old
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await connect(sim_router, known_hosts=old_pin)
    async with await connect(sim_router, known_hosts=pinned(sim_router)):
        pass
    # persisted: a new store over the same folder loads the new key
    path = sim_router.server.hostkeys.path
    assert path is not None
    assert HostKeyStore(path.parent).fingerprint() == new


async def test_host_key_change_through_inject(sim_router: SimDevice) -> None:
    old = sim_router.host_key_fingerprint
    sim_router.inject("host-key-change")
    assert sim_router.host_key_fingerprint != old


def test_keys_are_made_lazily_and_rsa_is_available(tmp_path: Path) -> None:
    store = HostKeyStore(tmp_path / "k", "ssh-rsa")
    assert store.path is not None and not store.path.exists()
    assert store.public_openssh().startswith("ssh-rsa ")
    assert store.path.exists()
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    memory_only = HostKeyStore(None)
    assert memory_only.fingerprint() == memory_only.fingerprint()
    with pytest.raises(ValueError):
        HostKeyStore(None, "ssh-dss")
