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
import signal
import sys
from pathlib import Path
from typing import Any

from dbos import DBOS

from tikguard.ops import engine
from tikguard.ops import push as push_ops
from tikguard.ops import push_device as dev
from tikguard.ops import push_steps as wf
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


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def install_crash(point: str) -> None:
    """Wrap one function of the protocol so the process dies at ``point``."""
    if point == "after-pre-push-backup":
        real_save = dev.save_revert_point

        async def save(*a: Any, **k: Any) -> int:
            die()
            return await real_save(*a, **k)

        dev.save_revert_point = save  # type: ignore[assignment]
    elif point == "after-arming":
        real_claim_apply = wf._claim_apply

        def claim_apply(*a: Any, **k: Any) -> bool:
            die()
            return real_claim_apply(*a, **k)

        wf._claim_apply = claim_apply  # type: ignore[assignment]
    elif point == "during-import":
        real_import = dev.run_import

        async def run_import(*a: Any, **k: Any) -> dev.ImportResult:
            asyncio.get_running_loop().create_task(real_import(*a, **k))
            await asyncio.sleep(0.1)  # the import is inside its 20 s (device) pause now
            die()
            raise AssertionError("unreachable")

        dev.run_import = run_import  # type: ignore[assignment]
    elif point == "during-settle":
        real_sleep = DBOS.sleep_async

        async def sleep(seconds: float) -> None:
            asyncio.get_running_loop().create_task(real_sleep(seconds))
            await asyncio.sleep(0.05)  # the durable sleep has recorded its wake-up time
            die()

        DBOS.sleep_async = sleep  # type: ignore[method-assign]
    elif point == "before-commit":
        real_claim = wf._claim

        def claim(session: Any, req: Any, key: str) -> bool:
            if key == "commit_started_at":
                die()
            return real_claim(session, req, key)

        wf._claim = claim  # type: ignore[assignment]
    elif point == "during-commit":
        real_remove = dev.remove_scheduler

        async def remove(*a: Any, **k: Any) -> None:
            await real_remove(*a, **k)
            die()  # removed on the router, not yet read back or recorded

        dev.remove_scheduler = remove  # type: ignore[assignment]
    elif point != "none":
        raise SystemExit(f"unknown crash point {point}")


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
    async with engine.running(settings):
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
