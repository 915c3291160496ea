"""Scheduled backups: durable DBOS schedules per tenant or per tag (daily by default).

Schedules live in the DBOS system database, so every worker sees them and each tick
runs on exactly one worker. One tick is one workflow whose single step backs up the
selected devices; if a worker dies mid-run, the step runs again on recovery, which is
safe (an unchanged router only records the check time).

Schedule names are ``backup:<tenant id>:<tag or *>``.

The process that runs the engine changes schedules through DBOS itself; any other
process (the CLI beside a running server, an API process without the engine) passes a
client from :func:`schedule_client`, which writes the same rows. The engine polls its
schedules, so a change made elsewhere takes effect there within its polling interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dbos import DBOS, DBOSClient
from dbos._error import DBOSException  # dbos exports no public name for it

from tikguard.ops import runtime
from tikguard.ops.backup.service import Origin, backup
from tikguard.ops.readings import BackupStatus
from tikguard.process import STATE
from tikguard.settings import Settings
from tikguard.store import sqlite_files
from tikguard.store._util import check_text
from tikguard.store.audit import audit
from tikguard.store.db import Database, sqlite_file
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import Trigger
from tikguard.store.tenants import list_tenants

#: Every day at 03:00 (the controller's time zone unless one is given).
DAILY = "0 3 * * *"
PREFIX = "backup:"


def schedule_name(tenant_id: int, tag: str | None) -> str:
    return f"{PREFIX}{tenant_id}:{tag or '*'}"


@DBOS.step(name="tikguard.backup.fleet")
async def _backup_step(tenant_id: int, tag: str | None) -> dict[str, int]:
    settings = runtime.current().settings
    results = await backup(
        Database.shared(settings),
        settings,
        tenant_id,
        tag=tag,
        trigger=Trigger.SCHEDULED.value,
        origin=Origin(f"schedule:{schedule_name(tenant_id, tag)}"),
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
    #: IANA time zone of the cron expression (None: UTC).
    time_zone: str | None = None


#: DBOS's registered name of the scheduled workflow (what a client names).
WORKFLOW_NAME = "tikguard.backup.scheduled"


def check_schedule(tag: str | None, cron: str, time_zone: str | None) -> None:
    """Refuse a tag, cron expression or time zone DBOS could not use (InvalidInput)."""
    if tag is not None:
        check_text(tag, "tag", max_len=64)
        if tag == "*" or "," in tag or tag != tag.strip():
            raise InvalidInput(f"tag {tag!r} is not a tag name")
    check_text(cron, "cron expression", max_len=120)
    fields = cron.split()
    if not cron.startswith("@") and len(fields) not in (5, 6):
        raise InvalidInput(
            f"cron expression {cron!r} needs 5 fields (minute hour day month weekday), "
            "or 6 with seconds first"
        )
    if time_zone is not None:
        check_text(time_zone, "time zone", max_len=64)
        try:
            ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"unknown time zone {time_zone!r} (e.g. Europe/Amsterdam)") from None


def shortest_gap(cron: str, time_zone: str | None, runs: int = 200) -> float | None:
    """The shortest time (seconds) between two of the next ``runs`` firings of ``cron``
    (seconds first when it has 6 fields, as DBOS reads it); None if it cannot say."""
    from croniter import croniter  # type: ignore[import-untyped]

    zone = ZoneInfo(time_zone) if time_zone else UTC
    try:
        it = croniter(cron, datetime.now(zone), second_at_beginning=True)
        times = [float(it.get_next(float)) for _ in range(runs)]
    except (ValueError, KeyError, TypeError):
        return None  # DBOS names what is wrong with it
    return min((b - a for a, b in itertools.pairwise(times)), default=None)


def check_interval(cron: str, time_zone: str | None, minimum: float) -> None:
    """Refuse a schedule that fires more often than every ``minimum`` seconds: a backup
    of a whole fleet every few seconds is a load test, not a schedule."""
    gap = shortest_gap(cron, time_zone)
    if gap is not None and gap < minimum:
        raise InvalidInput(
            f"cron expression {cron!r} runs {gap:g} s apart at times; backup schedules "
            f"must be at least {minimum:g} s apart (TIKGUARD_SCHEDULE_MIN_INTERVAL)"
        )


def _first_error(exc: DBOSException) -> InvalidInput:
    return InvalidInput(str(exc).removeprefix("DBOS Error: ").strip() or "invalid schedule")


async def apply_schedule(
    name: str,
    workflow_fn: Any,
    workflow_name: str,
    cron: str,
    context: dict[str, Any],
    time_zone: str | None,
    client: DBOSClient | None,
) -> None:
    """Create or change one DBOS schedule (any scheduled workflow of tikguard), through
    the engine of this process or, from any other process, a ``client``."""
    try:
        if client is None:
            await DBOS.apply_schedules_async(
                [
                    {
                        "schedule_name": name,
                        "workflow_fn": workflow_fn,
                        "schedule": cron,
                        "context": context,
                        "cron_timezone": time_zone,
                    }
                ]
            )
        else:
            await client.apply_schedules_async(
                [
                    {
                        "schedule_name": name,
                        "workflow_name": workflow_name,
                        "schedule": cron,
                        "context": context,
                        "cron_timezone": time_zone,
                        "application_name": runtime.APP_NAME,
                    }
                ]
            )
    except DBOSException as exc:  # an expression croniter refuses ("Invalid cron ...")
        raise _first_error(exc) from None


async def schedules_named(prefix: str, client: DBOSClient | None) -> list[Any]:
    """The DBOS schedules whose names start with ``prefix``."""
    if client is None:
        return list(await DBOS.list_schedules_async(schedule_name_prefix=prefix))
    return list(
        await client.list_schedules_async(
            schedule_name_prefix=prefix, application_name=runtime.APP_NAME
        )
    )


async def delete_schedule(name: str, client: DBOSClient | None) -> bool:
    """Remove one DBOS schedule by name; False when there was none."""
    if name not in {s["schedule_name"] for s in await schedules_named(name, client)}:
        return False
    if client is None:
        await DBOS.delete_schedule_async(name)
    else:
        await client.delete_schedule_async(name)
    return True


async def set_schedule(
    tenant_id: int,
    *,
    tag: str | None = None,
    cron: str = DAILY,
    time_zone: str | None = None,
    client: DBOSClient | None = None,
) -> BackupSchedule:
    """Create or change the backup schedule of a tenant (or of one tag in it).

    Without ``client`` this process must run the engine.
    """
    check_schedule(tag, cron, time_zone)
    name = schedule_name(tenant_id, tag)
    context = {"tenant_id": tenant_id, "tag": tag}
    await apply_schedule(name, scheduled_backup, WORKFLOW_NAME, cron, context, time_zone, client)
    return BackupSchedule(name, tenant_id, tag, cron, time_zone)


async def remove_schedule(
    tenant_id: int, *, tag: str | None = None, client: DBOSClient | None = None
) -> bool:
    """Remove a backup schedule; False when there was none."""
    return await delete_schedule(schedule_name(tenant_id, tag), client)


async def list_schedules(
    tenant_id: int | None = None, *, client: DBOSClient | None = None
) -> list[BackupSchedule]:
    """The backup schedules (of one tenant, or all), tenant-wide first, then by tag."""
    prefix = PREFIX if tenant_id is None else f"{PREFIX}{tenant_id}:"
    found = await schedules_named(prefix, client)
    out: list[BackupSchedule] = []
    for s in found:
        context = s["context"] if isinstance(s["context"], dict) else {}
        out.append(
            BackupSchedule(
                name=s["schedule_name"],
                tenant_id=int(context.get("tenant_id", 0)),
                tag=context.get("tag"),
                cron=s["schedule"],
                time_zone=s.get("cron_timezone"),
            )
        )
    out.sort(key=lambda b: (b.tenant_id, b.tag is not None, b.tag or ""))
    return out


@dataclass
class MigratedSystemDatabases:
    """The system databases this process created or migrated, by URL (held in
    :data:`tikguard.process.STATE`)."""

    urls: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _ensure_system_database(settings: Settings) -> None:
    """Create (or migrate) the engine's system database, once per process and URL."""
    url = settings.dbos_database_url()
    migrated = STATE.of(MigratedSystemDatabases)
    with migrated.lock:
        if url in migrated.urls:
            return
        sqlite_files.prepare(url)
        DBOS.migrate(url)
        migrated.urls.add(url)


@contextlib.asynccontextmanager
async def schedule_client(settings: Settings) -> AsyncIterator[DBOSClient | None]:
    """What to pass as ``client``: None in the process that runs the engine, else a
    client on the engine's system database (created if no engine ran there yet)."""
    try:
        running = runtime.current()
    except RuntimeError:
        running = None
    if running is not None and running.settings == settings:
        yield None
        return
    await asyncio.to_thread(_ensure_system_database, settings)
    async with runtime.submitter(settings) as client:
        yield client


@runtime.on_launch
async def ensure_default_schedules(eng: runtime.Engine) -> None:
    """Every tenant without a backup schedule gets the daily one.

    Runs at each engine launch; a data directory without an app database yet (nothing
    to back up) is left alone.
    """
    database_file = sqlite_file(eng.settings)
    if database_file is not None and not database_file.exists():
        return
    db = Database.shared(eng.settings)
    with db.session() as session:
        tenant_ids = [t.id for t in list_tenants(session)]
    existing = {s.tenant_id for s in await list_schedules()}
    for tenant_id in tenant_ids:
        if tenant_id not in existing:
            await set_schedule(tenant_id)


# -- what the CLI, API and UI call: one tenant's schedules, changes audited ----------------


async def tenant_schedules(settings: Settings, tenant_id: int) -> list[BackupSchedule]:
    """The backup schedules of one tenant (from any process)."""
    async with schedule_client(settings) as client:
        return await list_schedules(tenant_id, client=client)


async def change_schedule(
    db: Database,
    settings: Settings,
    tenant_id: int,
    *,
    tag: str | None = None,
    cron: str = DAILY,
    time_zone: str | None = None,
    actor: str,
) -> BackupSchedule:
    """Create or change a schedule of the tenant, and say so in the audit log."""
    check_schedule(tag, cron, time_zone)
    await asyncio.to_thread(check_interval, cron, time_zone, settings.schedule_min_interval)
    async with schedule_client(settings) as client:
        found = await set_schedule(
            tenant_id, tag=tag, cron=cron, time_zone=time_zone, client=client
        )
    details: dict[str, Any] = {"cron": cron, "time_zone": time_zone}
    await asyncio.to_thread(_audit, db, tenant_id, actor, "schedule.set", tag, details)
    return found


async def drop_schedule(
    db: Database, settings: Settings, tenant_id: int, *, tag: str | None = None, actor: str
) -> None:
    """Remove a schedule of the tenant (NotFound when there is none), audited."""
    async with schedule_client(settings) as client:
        removed = await remove_schedule(tenant_id, tag=tag, client=client)
    if not removed:
        what = f"tag {tag!r}" if tag else "the whole tenant"
        raise NotFound(f"there is no backup schedule for {what}")
    await asyncio.to_thread(_audit, db, tenant_id, actor, "schedule.remove", tag, {})


def _audit(
    db: Database,
    tenant_id: int,
    actor: str,
    action: str,
    tag: str | None,
    details: dict[str, Any],
) -> None:
    with db.transaction() as session:
        audit(session, tenant_id, actor=actor, action=action, target=tag or "*", details=details)
