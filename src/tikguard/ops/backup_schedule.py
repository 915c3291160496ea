"""Scheduled backups: durable DBOS schedules per tenant or per tag (daily by default).

Schedules live in the DBOS system database, so every worker sees them and each tick
runs on exactly one worker. One tick is one workflow whose single step backs up the
selected devices; if a worker dies mid-run, the step runs again on recovery, which is
safe (an unchanged router only records the check time).

Schedule names are ``backup:<tenant id>:<tag or *>``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dbos import DBOS

from tikguard.ops import engine
from tikguard.ops.backup import BackupStatus, backup
from tikguard.settings import Settings
from tikguard.store.db import Database, sqlite_file
from tikguard.store.models import Trigger
from tikguard.store.tenants import list_tenants

#: Every day at 03:00 (the controller's time zone unless one is given).
DAILY = "0 3 * * *"
PREFIX = "backup:"

_databases: dict[Settings, Database] = {}
_databases_lock = threading.Lock()


def _database(settings: Settings) -> Database:
    """One Database per settings in this worker process (opened on first use)."""
    with _databases_lock:
        db = _databases.get(settings)
        if db is None:
            db = Database.open(settings)
            _databases[settings] = db
        return db


def schedule_name(tenant_id: int, tag: str | None) -> str:
    return f"{PREFIX}{tenant_id}:{tag or '*'}"


@DBOS.step(name="tikguard.backup.fleet")
async def _backup_step(tenant_id: int, tag: str | None) -> dict[str, int]:
    settings = engine.current().settings
    results = await backup(
        _database(settings), settings, tenant_id, tag=tag, trigger=Trigger.SCHEDULED.value
    )
    return {s.value: sum(1 for r in results if r.status is s) for s in BackupStatus}


@DBOS.workflow(name="tikguard.backup.scheduled")
async def scheduled_backup(scheduled_time: datetime, context: Any) -> None:
    """One tick of a backup schedule: back up the tenant's (tagged) devices.

    The step's recorded output holds the counts (changed / unchanged / failed).
    """
    tenant_id = int(context["tenant_id"])
    tag = context.get("tag")
    await _backup_step(tenant_id, str(tag) if tag else None)


@dataclass(frozen=True)
class BackupSchedule:
    name: str
    tenant_id: int
    tag: str | None
    cron: str


async def set_schedule(
    tenant_id: int, *, tag: str | None = None, cron: str = DAILY, time_zone: str | None = None
) -> BackupSchedule:
    """Create or change the backup schedule of a tenant (or of one tag in it)."""
    name = schedule_name(tenant_id, tag)
    await DBOS.apply_schedules_async(
        [
            {
                "schedule_name": name,
                "workflow_fn": scheduled_backup,
                "schedule": cron,
                "context": {"tenant_id": tenant_id, "tag": tag},
                "cron_timezone": time_zone,
            }
        ]
    )
    return BackupSchedule(name, tenant_id, tag, cron)


async def remove_schedule(tenant_id: int, *, tag: str | None = None) -> None:
    await DBOS.delete_schedule_async(schedule_name(tenant_id, tag))


async def list_schedules(tenant_id: int | None = None) -> list[BackupSchedule]:
    """The backup schedules (of one tenant, or all)."""
    prefix = PREFIX if tenant_id is None else f"{PREFIX}{tenant_id}:"
    found = await DBOS.list_schedules_async(schedule_name_prefix=prefix)
    out: list[BackupSchedule] = []
    for s in found:
        context = s["context"] if isinstance(s["context"], dict) else {}
        out.append(
            BackupSchedule(
                name=s["schedule_name"],
                tenant_id=int(context.get("tenant_id", 0)),
                tag=context.get("tag"),
                cron=s["schedule"],
            )
        )
    return out


@engine.on_launch
async def ensure_default_schedules(eng: engine.Engine) -> None:
    """Every tenant without a backup schedule gets the daily one.

    Runs at each engine launch; a data directory without an app database yet (nothing
    to back up) is left alone.
    """
    database_file = sqlite_file(eng.settings)
    if database_file is not None and not database_file.exists():
        return
    db = _database(eng.settings)
    with db.session() as session:
        tenant_ids = [t.id for t in list_tenants(session)]
    existing = {s.tenant_id for s in await list_schedules()}
    for tenant_id in tenant_ids:
        if tenant_id not in existing:
            await set_schedule(tenant_id)
