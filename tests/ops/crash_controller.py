"""A tikguard controller process for the crash matrix.

``python crash_controller.py DATA_DIR INVENTORY WINDOW CRASH_AT``

Registers and backs up the routers of ``INVENTORY`` (first run only), launches the
engine (which resumes any push a killed run left), submits one merge push with a fixed
idempotency key (a no-op on later runs: the same request never runs twice) and waits
for its outcome, printed as JSON. With ``CRASH_AT`` other than ``none`` the process
SIGKILLs itself at that point of the protocol, exactly as a power cut of the
controller would stop it.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import sys
from pathlib import Path
from typing import Any

from crashpoints import install_crash

from tikguard.ops import push as push_ops
from tikguard.ops import runtime
from tikguard.ops.backup import backup
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.tenants import ensure_tenant

DATA, INVENTORY, WINDOW, CRASH_AT = (
    Path(sys.argv[1]),
    Path(sys.argv[2]),
    float(sys.argv[3]),
    sys.argv[4],
)
SCALE = float(os.environ["TIKGUARD_TIME_SCALE"])
#: The change: an address plus a pause, so a kill "during the import" lands inside it.
SCRIPT = (
    "/ip address\nadd address=10.55.0.1/24 interface=ether2 comment=crash-matrix\n"
    ":delay 20s\n"
    "/ip firewall address-list\nadd list=crash address=192.0.2.1\n"
)


async def main(rows: list[dict[str, str]]) -> None:
    settings = Settings(
        data_dir=DATA,
        time_scale=SCALE,
        engine_polling_interval=0.05,
        # network limits in real time (30 s, 60 s) on a loaded machine, whatever the scale
        connect_timeout=30 * SCALE,
        command_timeout=30 * SCALE,
        backup_timeout=60 * SCALE,
        push_window=WINDOW,
        push_settle=5.0,
        push_margin_min=15.0,
        push_boot_wait=200.0,
    )
    db = Database.open(settings)

    def setup(session: Any) -> tuple[int, bool]:
        tenant = ensure_tenant(session)
        fresh = not store_devices.list_devices(session, tenant.id)
        if fresh:
            for row in rows:
                store_devices.add_device(
                    session,
                    tenant.id,
                    name=row["name"],
                    host=row["host"],
                    port=int(row["port"]),
                    username=row["username"],
                    password=row["password"],
                )
        return tenant.id, fresh

    tenant_id, fresh = await db.run_async(setup)
    if fresh:
        results = await backup(db, settings, tenant_id)
        assert all(r.ok for r in results), results
    install_crash(CRASH_AT)
    async with runtime.running(settings):
        req = push_ops.PushRequest(
            devices=[rows[0]["name"]], script=SCRIPT, idempotency_key="crash-matrix"
        )
        subs = await push_ops.submit(db, settings, tenant_id, req)
        print(json.dumps({"op": subs[0].op_id, "created": subs[0].created}), flush=True)
        [op] = await push_ops.wait(db, tenant_id, [subs[0].op_id], poll=0.05)
        print(json.dumps({"outcome": op.outcome, "evidence": op.evidence}, default=str), flush=True)
    db.dispose()


with INVENTORY.open() as inventory:
    ROWS = list(csv.DictReader(inventory))
asyncio.run(main(ROWS))
