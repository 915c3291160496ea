"""A tikguard controller process that runs one rollout, for the crash test.

``python rollout_controller.py DATA_DIR INVENTORY start|resume``

``start`` registers and backs up the routers of ``INVENTORY``, launches the engine,
starts a rollout over all of them and SIGKILLs itself as soon as the first push is in
flight. ``resume`` launches the engine again (which resumes the rollout and its pushes)
and prints the finished rollout and the number of push operations per router as JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from tikguard.ops import devices as devices_ops
from tikguard.ops import runtime
from tikguard.ops.backup import backup
from tikguard.ops.rollout import service as rollouts
from tikguard.ops.rollout.targets import Selector
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store.db import Database

DATA, INVENTORY, MODE = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
SCALE = float(os.environ["TIKGUARD_TIME_SCALE"])
#: A pause inside the change, so the kill lands while a push is in flight.
SCRIPT = ":delay 20s\n/ip address add address=10.56.0.1/24 interface=ether2 comment=rollout\n"


async def until_submitted(db: Database, tenant_id: int, rollout_id: str) -> None:
    for _ in range(3000):
        if any(t.op_id for t in rollouts.get(db, tenant_id, rollout_id).targets):
            return
        await asyncio.sleep(0.02)
    raise SystemExit("no push was submitted within 60 s")


async def main(rows: list[devices_ops.InventoryRow]) -> None:
    settings = Settings(
        data_dir=DATA,
        time_scale=SCALE,
        engine_polling_interval=0.05,
        connect_timeout=30 * SCALE,
        command_timeout=30 * SCALE,
        backup_timeout=60 * SCALE,
        push_window=1500.0,
        push_settle=5.0,
        push_margin_min=15.0,
        push_boot_wait=200.0,
    )
    db = Database.open(settings)

    tenant_id = devices_ops.default_tenant_id(db)
    devices_ops.import_rows(db, tenant_id, rows, actor="test")  # existing ones are kept
    if MODE == "start":
        results = await backup(db, settings, tenant_id)
        assert all(r.ok for r in results), results
    async with runtime.running(settings):
        if MODE == "start":
            req = rollouts.RolloutRequest(
                selector=Selector(all=True), source=SCRIPT, canary=0, waves=["100%"]
            )
            rollout_id = await rollouts.start(db, settings, tenant_id, req)
            print(json.dumps({"rollout": rollout_id}), flush=True)
            await until_submitted(db, tenant_id, rollout_id)
            await asyncio.sleep(0.3)  # the push is under way on the router
            os.kill(os.getpid(), signal.SIGKILL)
        [view] = rollouts.list_all(db, tenant_id)
        while view.state not in ("completed", "halted", "aborted"):
            await asyncio.sleep(0.05)
            view = rollouts.get(db, tenant_id, view.id)
        with db.session() as s:
            per_router = {
                d.name: len(store_ops.list_operations(s, tenant_id, device_id=d.id, kind="push"))
                for d in store_devices.list_devices(s, tenant_id)
            }
        print(json.dumps({"view": view.as_json(), "pushes": per_router}), flush=True)
    db.dispose()


asyncio.run(main(devices_ops.parse_inventory(INVENTORY.read_text(), str(INVENTORY))))
