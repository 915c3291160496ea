"""Small asyncssh client helpers for the simulator's tests."""

from __future__ import annotations

from typing import Any

import asyncssh

from tikguard.sim.fleet import SimDevice

#: How tikguard and netmiko log in: no colours, no terminal detection, wide terminal.
LOGIN_OPTIONS = "+ct511w4098h"


async def connect(
    dev: SimDevice,
    *,
    user: str | None = None,
    options: str = LOGIN_OPTIONS,
    within: float = 5.0,
    **kwargs: Any,
) -> asyncssh.SSHClientConnection:
    """An SSH connection to a simulated router (host key not checked unless given)."""
    kwargs.setdefault("known_hosts", None)
    kwargs.setdefault("password", dev.password)
    return await asyncssh.connect(
        dev.host,
        port=dev.port,
        username=(user or dev.username) + options,
        connect_timeout=within,
        **kwargs,
    )


async def run(dev: SimDevice, command: str) -> str:
    """Run one command on a fresh exec channel; its output as sent (CRLF lines)."""
    async with await connect(dev) as conn:
        result = await conn.run(command, check=True)
        return str(result.stdout)
