"""Periodic inventory sync: one DBOS schedule per source (``inventory:<tenant>:<name>``).

Each tick is one workflow whose single step syncs the source for real, audited as
``schedule:inventory:<name>``; a source that cannot be read or has wrong rows changes
nothing and keeps the error on the source (``inventory source list`` shows it). The
step's recorded output is the plan's counts, or the error.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from dbos import DBOS

from tikguard.ops import outbound, runtime
from tikguard.ops.backup.schedule import (
    apply_schedule,
    check_interval,
    check_schedule,
    delete_schedule,
    schedule_client,
    schedules_named,
)
from tikguard.ops.inventory.service import (
    SourceView,
    add_source,
    get_source,
    remove_source,
    sync,
)
from tikguard.settings import Settings
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import StoreError

PREFIX = "inventory:"
WORKFLOW_NAME = "tikguard.inventory.scheduled"


def schedule_name(tenant_id: int, source: str) -> str:
    return f"{PREFIX}{tenant_id}:{source}"


def actor_of(source: str) -> str:
    """Who a scheduled sync's changes are by, in the audit log."""
    return f"schedule:inventory:{source}"


@DBOS.step(name="tikguard.inventory.sync")
async def _sync_step(tenant_id: int, source: str) -> dict[str, Any]:
    settings = runtime.current().settings
    try:
        plan = await sync(
            Database.shared(settings), settings, tenant_id, source, actor=actor_of(source)
        )
    except StoreError as exc:  # kept on the source by sync(); a tick never crashes
        return {"ok": False, "error": str(exc)}
    return {"ok": True, **plan.counts()}


@DBOS.workflow(name=WORKFLOW_NAME)
async def scheduled_sync(scheduled_time: datetime, context: Any) -> None:
    """One tick of a source's schedule."""
    await _sync_step(int(context["tenant_id"]), str(context["source"]))


async def set_sync_schedule(
    settings: Settings, tenant_id: int, source: str, cron: str, time_zone: str | None = None
) -> None:
    """Sync ``source`` on ``cron`` (at least TIKGUARD_SCHEDULE_MIN_INTERVAL apart)."""
    check_schedule(None, cron, time_zone)
    check_interval(cron, time_zone, settings.schedule_min_interval)
    context = {"tenant_id": tenant_id, "source": source}
    async with schedule_client(settings) as client:
        await apply_schedule(
            schedule_name(tenant_id, source),
            scheduled_sync,
            WORKFLOW_NAME,
            cron,
            context,
            time_zone,
            client,
        )


async def drop_sync_schedule(settings: Settings, tenant_id: int, source: str) -> bool:
    async with schedule_client(settings) as client:
        return await delete_schedule(schedule_name(tenant_id, source), client)


async def sync_schedules(settings: Settings, tenant_id: int) -> dict[str, str]:
    """Source name -> cron of the tenant's scheduled syncs."""
    async with schedule_client(settings) as client:
        found = await schedules_named(f"{PREFIX}{tenant_id}:", client)
    return {str(s["context"]["source"]): str(s["schedule"]) for s in found}


# -- what the CLI and API call: a source with its schedule, changes audited -----------


async def create_source(
    db: Database,
    settings: Settings,
    tenant_id: int,
    *,
    actor: str,
    name: str,
    kind: str,
    config: dict[str, Any],
    headers: dict[str, str] | None = None,
    password: str | None = None,
    every: str | None = None,
    time_zone: str | None = None,
) -> SourceView:
    """Add a source and, with ``every``, its schedule: both or neither, audited. An
    http source's host must not be a forbidden address (``ops/outbound.py``)."""
    if config.get("url"):
        outbound.check_host(urlsplit(config["url"]).hostname or "", settings, "the source's host")
    if every is not None:
        check_schedule(None, every, time_zone)
        check_interval(every, time_zone, settings.schedule_min_interval)
    view = await asyncio.to_thread(
        lambda: add_source(
            db,
            tenant_id,
            actor=actor,
            name=name,
            kind=kind,
            config=config,
            headers=headers,
            password=password,
        )
    )
    if every is None:
        return view
    try:
        await set_sync_schedule(settings, tenant_id, name, every, time_zone)
    except BaseException:
        await asyncio.to_thread(lambda: remove_source(db, tenant_id, name, actor=actor))
        raise

    def record() -> None:
        with db.transaction() as session:
            audit(
                session,
                tenant_id,
                actor=actor,
                action="inventory.source.schedule",
                target=name,
                details={"cron": every, "time_zone": time_zone},
            )

    await asyncio.to_thread(record)
    return view


async def delete_source(
    db: Database, settings: Settings, tenant_id: int, name: str, *, actor: str
) -> None:
    """Forget a source (NotFound when there is none) and its schedule, audited; the
    routers it added stay."""
    await asyncio.to_thread(get_source, db, tenant_id, name)
    await drop_sync_schedule(settings, tenant_id, name)
    await asyncio.to_thread(lambda: remove_source(db, tenant_id, name, actor=actor))
