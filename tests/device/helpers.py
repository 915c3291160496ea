"""Shared by device and backup tests: settings on the simulator's clock, targets."""

from __future__ import annotations

from tests.conftest import SIM_TIME_SCALE

from tikguard.device.session import Target
from tikguard.settings import Settings
from tikguard.sim.fleet import SimDevice

#: Device-time limits; at the simulator's time scale 100 device seconds are 2 s.
SETTINGS = Settings(time_scale=SIM_TIME_SCALE, connect_timeout=100.0, command_timeout=100.0)


def target(dev: SimDevice, *, password: str | None = None, host_key: str | None = None) -> Target:
    """How tikguard reaches a simulated router (optionally a wrong password or a pin)."""
    return Target(
        dev.name,
        dev.host,
        dev.port,
        dev.username,
        dev.password if password is None else password,
        host_key=host_key,
    )
