"""Shared by the push tests, the crash matrix and the benchmark: a store, a simulated
fleet with its routers backed up (host keys pinned), and settings on the simulator's
accelerated clock with a small revert window.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tikguard.ops import push as push_ops
from tikguard.ops import runtime
from tikguard.ops.backup import backup
from tikguard.settings import Settings
from tikguard.sim.fleet import SimFleet
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store.db import Database
from tikguard.store.models import Operation, OperationEvent
from tikguard.store.tenants import ensure_tenant

#: Device time runs this much faster than real time on both sides of the wire.
SCALE = 50.0
#: Short revert window in device seconds (4.8 s of a test at SCALE), for pushes that
#: are meant to end in the router's own revert: the test waits it out.
WINDOW = 240.0
#: The default window (30 s of a test at SCALE): a push meant to commit must verify
#: and commit before ``deadline - margin`` in real time, also on a loaded machine, and
#: never waits the window out.
COMMIT_WINDOW = 1500.0


def wall(seconds: float) -> float:
    """Device seconds that last ``seconds`` of real time at SCALE: network limits (an SSH
    handshake on a loaded machine) are real time, whatever the device clock does."""
    return seconds * SCALE


def push_settings(data_dir: Path, **overrides: Any) -> Settings:
    base = Settings(
        data_dir=data_dir,
        time_scale=SCALE,
        engine_polling_interval=0.05,
        connect_timeout=wall(30),
        command_timeout=wall(30),
        backup_timeout=wall(60),
        push_window=COMMIT_WINDOW,
        push_settle=5.0,
        push_margin_fraction=0.25,
        push_margin_min=15.0,
        push_boot_wait=wall(10),
    )
    return base.with_(**overrides)


@dataclass
class Env:
    fleet: SimFleet
    db: Database
    settings: Settings
    tenant_id: int

    async def push(self, req: push_ops.PushRequest) -> list[Operation]:
        subs = await push_ops.submit(self.db, self.settings, self.tenant_id, req)
        return await push_ops.wait(self.db, self.tenant_id, [s.op_id for s in subs], poll=0.05)

    def events(self, op_id: str) -> list[OperationEvent]:
        with self.db.session() as s:
            return store_ops.list_events(s, self.tenant_id, op_id)


async def register_fleet(db: Database, settings: Settings, fleet: SimFleet) -> int:
    """Add every router to the store and back it up once (pins its host key)."""

    def setup(session: Any) -> int:
        tenant = ensure_tenant(session)
        for dev in fleet:
            store_devices.add_device(
                session,
                tenant.id,
                name=dev.name,
                host=dev.host,
                port=dev.port,
                username=dev.username,
                password=dev.password,
            )
        return tenant.id

    tenant_id = await db.run_async(setup)
    results = await backup(db, settings, tenant_id)
    bad = [r for r in results if not r.ok]
    assert not bad, f"initial backups failed: {bad}"
    return tenant_id


@contextlib.asynccontextmanager
async def environment(
    tmp_path: Path,
    count: int = 1,
    *,
    launch: bool = True,
    settings: Settings | None = None,
    **fleet_kwargs: Any,
) -> AsyncIterator[Env]:
    settings = settings or push_settings(tmp_path / "data")
    fleet_kwargs.setdefault("boot_seconds", 20.0)
    async with SimFleet(
        count, time_scale=SCALE, state_dir=tmp_path / "sim", **fleet_kwargs
    ) as fleet:
        await ensure_management_address(fleet)
        db = Database.open(settings)
        try:
            tenant_id = await register_fleet(db, settings, fleet)
            env = Env(fleet, db, settings, tenant_id)
            if launch:
                async with runtime.running(settings) as eng:
                    yield env
                    async with asyncio.timeout(30):
                        await eng.wait_idle()  # let finished pushes record their results
            else:
                yield env
        finally:
            db.dispose()


async def until(predicate: Callable[[], bool], within: float = 20.0) -> None:
    """Poll a condition on live state (every 10 ms) until it holds; fail after ``within``."""
    deadline = time.monotonic() + within
    for _ in iter(int, 1):
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.01)


async def ensure_management_address(fleet: SimFleet) -> None:
    """Give each router its management address on ether1 when its default config lacks it."""
    for dev in fleet:
        verdict = dev.router.management_verdict(client_ip=dev.host, local_ip=dev.host, port=22)
        if verdict == "drop":
            await dev.router.execute(
                f"/ip address add address={dev.host}/8 interface=ether1", user=dev.username
            )
