"""A schedule written through a client (the CLI beside a running server) is one the
running engine picks up and fires."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tests.conftest import SIM_TIME_SCALE

from tikguard.ops import backup as backup_ops
from tikguard.ops import devices as device_ops
from tikguard.ops import history, runtime
from tikguard.settings import Settings
from tikguard.sim.fleet import SimFleet
from tikguard.store.db import Database


async def test_client_schedule_fires_in_the_running_engine(
    tmp_path: Path, sim_fleet_factory: Callable[..., Awaitable[SimFleet]]
) -> None:
    fleet = await sim_fleet_factory(1)
    settings = Settings(
        data_dir=tmp_path / "data",
        time_scale=SIM_TIME_SCALE,
        connect_timeout=100.0,
        command_timeout=100.0,
        backup_timeout=150.0,
        engine_polling_interval=0.05,
    )
    db = Database.open(settings)
    tenant_id = device_ops.default_tenant_id(db)
    device_ops.import_rows(
        db, tenant_id, device_ops.parse_inventory(fleet.inventory_csv()), actor="test"
    )
    try:
        async with runtime.running(settings), runtime.submitter(settings) as client:
            await backup_ops.set_schedule(tenant_id, tag="sim", cron="* * * * * *", client=client)
            # the engine's own view and the client's agree
            mine = await backup_ops.list_schedules(tenant_id)
            theirs = await backup_ops.list_schedules(tenant_id, client=client)
            assert mine == theirs and {s.tag for s in mine} == {None, "sim"}
            deadline = time.monotonic() + 20
            while not history.list_history(db, tenant_id, fleet[0].name):
                assert time.monotonic() < deadline, "the client's schedule never fired"
                await asyncio.sleep(0.1)
            assert await backup_ops.remove_schedule(tenant_id, tag="sim", client=client)
            assert not await backup_ops.remove_schedule(tenant_id, tag="sim", client=client)
        assert history.list_history(db, tenant_id, fleet[0].name)[0].trigger == "scheduled"
    finally:
        db.dispose()
