"""The probe reads what a router is and may do, from the router itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from tests.device.helpers import SETTINGS, target

from tikguard.device.probe import probe
from tikguard.device.session import connect
from tikguard.sim.fleet import SimFleet


@pytest.mark.parametrize(
    ("version", "model"), [("7.16", "CHR"), ("6.49", "hAP ac"), ("7.18", "CHR")]
)
async def test_probe(
    sim_fleet_factory: Callable[..., Awaitable[SimFleet]], version: str, model: str
) -> None:
    fleet = await sim_fleet_factory(1, version=version, model=model)
    dev = fleet[0]
    async with await connect(target(dev), SETTINGS) as session:
        facts = await probe(session)
    assert facts.identity == dev.router.identity
    assert facts.version.startswith(version)
    assert facts.resource.board
    assert facts.resource.architecture == dev.router.model.architecture
    assert facts.resource.free_bytes and facts.resource.free_bytes > 0
    assert facts.resource.uptime_seconds is not None
    assert facts.clock is not None
    assert facts.has_flash == dev.router.model.has_flash
    assert facts.user_group == "full"
    assert facts.policies and {"read", "write", "policy", "ssh"} <= facts.policies
    assert facts.allows("read", "write") is True
    if version == "7.18":
        assert facts.device_mode is not None
    else:
        assert facts.device_mode is None
        assert facts.scheduler_allowed is True
