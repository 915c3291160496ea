"""Scheduled backups run as durable DBOS schedules and store ``scheduled`` versions."""

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


async def test_schedule_runs_backups_and_default_is_daily(
    tmp_path: Path, sim_fleet_factory: Callable[..., Awaitable[SimFleet]]
) -> None:
    fleet = await sim_fleet_factory(2)
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

    async with runtime.running(settings):
        schedules = await backup_ops.list_schedules(tenant_id)
        assert [(s.tag, s.cron) for s in schedules] == [(None, backup_ops.DAILY)]

        await backup_ops.set_schedule(tenant_id, tag="sim", cron="* * * * * *")
        deadline = time.monotonic() + 20
        while True:
            versions = history.list_history(db, tenant_id, fleet[0].name)
            if versions:
                break
            assert time.monotonic() < deadline, "the schedule never ran a backup"
            await asyncio.sleep(0.1)
        assert versions[0].trigger == "scheduled"
        await backup_ops.remove_schedule(tenant_id, tag="sim")
        names = [s.name for s in await backup_ops.list_schedules(tenant_id)]
        assert names == [backup_ops.schedule_name(tenant_id, None)]
    db.dispose()
