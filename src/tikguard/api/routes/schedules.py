"""Backup schedules of the caller's tenant: viewers read them, admins change them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy.exc import SQLAlchemyError

from tikguard.api.deps import Admin, State, Viewer
from tikguard.api.schemas import ScheduleIn, ScheduleOut
from tikguard.ops import backup as backup_ops
from tikguard.server.errors import ApiError

router = APIRouter()


@contextlib.contextmanager
def engine_database() -> Iterator[None]:
    """The engine's database (where schedules live) out of reach is a 503, not a 500."""
    try:
        yield
    except SQLAlchemyError:
        raise ApiError(
            503,
            "the workflow engine's database is not reachable",
            "check TIKGUARD_SYSTEM_DATABASE_URL and that this server can reach it",
        ) from None


def _out(found: backup_ops.BackupSchedule) -> ScheduleOut:
    return ScheduleOut(tag=found.tag, cron=found.cron, time_zone=found.time_zone)


@router.get("/schedules", response_model=list[ScheduleOut], tags=["backups"])
async def list_schedules(state: State, who: Viewer) -> list[ScheduleOut]:
    """Scheduled backups: the tenant-wide one (``tag`` null) and those per tag."""
    with engine_database():
        found = await backup_ops.tenant_schedules(state.settings, who.tenant_id)
    return [_out(s) for s in found]


@router.post("/schedules", response_model=ScheduleOut, status_code=201, tags=["backups"])
async def set_schedule(body: ScheduleIn, state: State, who: Admin) -> ScheduleOut:
    """Create or change the schedule of the tenant (no ``tag``) or of one tag."""
    with engine_database():
        found = await backup_ops.change_schedule(
            state.db,
            state.settings,
            who.tenant_id,
            tag=body.tag,
            cron=body.cron,
            time_zone=body.time_zone,
            actor=who.actor,
        )
    return _out(found)


@router.delete("/schedules", status_code=204, tags=["backups"])
async def remove_schedule(
    state: State,
    who: Admin,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Response:
    """Remove the schedule of one tag, or (no ``tag``) the tenant-wide one."""
    with engine_database():
        await backup_ops.drop_schedule(
            state.db, state.settings, who.tenant_id, tag=tag, actor=who.actor
        )
    return Response(status_code=204)
