"""The fleet at a glance: every device with its last backup, last push outcome and drift.

One page of the UI and one API call, for fleets of thousands: three queries whatever
the fleet size (devices, newest version per device, newest push per device), each
scoped to the tenant.

Drift here means "the router changed outside tikguard": its newest stored version was
found by a backup (manual or scheduled), not written by a push, and it is not the
device's first version. ``tikguard diff NAME -1 live`` answers the live question.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.models import ConfigVersion, Operation, OperationKind, Outcome, Trigger

PUSH_KINDS = (OperationKind.PUSH.value, OperationKind.RESTORE.value, OperationKind.REPLACE.value)
_BACKUP_TRIGGERS = (Trigger.MANUAL.value, Trigger.SCHEDULED.value)


@dataclass(frozen=True)
class FleetRow:
    id: int
    name: str
    host: str
    port: int
    site: str | None
    tags: tuple[str, ...]
    ros_version: str | None
    model: str | None
    last_backup_at: datetime | None
    last_backup_status: str | None
    last_backup_error: str | None
    versions: int
    latest_seq: int | None
    latest_trigger: str | None
    drift: bool
    last_push_id: str | None
    last_push_kind: str | None
    last_push_outcome: str | None
    last_push_state: str | None
    last_push_at: datetime | None
    host_key_pending: bool


def _latest_versions(session: Session, tenant_id: int) -> dict[int, tuple[int, str, int]]:
    """device id -> (newest seq, its trigger, number of versions)."""
    ranked = (
        select(
            ConfigVersion.device_id,
            ConfigVersion.seq,
            ConfigVersion.trigger,
            func.row_number()
            .over(partition_by=ConfigVersion.device_id, order_by=ConfigVersion.seq.desc())
            .label("rn"),
            func.count().over(partition_by=ConfigVersion.device_id).label("n"),
        )
        .where(ConfigVersion.tenant_id == tenant_id)
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.device_id, ranked.c.seq, ranked.c.trigger, ranked.c.n).where(
            ranked.c.rn == 1
        )
    )
    return {r.device_id: (r.seq, r.trigger, r.n) for r in rows}


def _latest_pushes(session: Session, tenant_id: int) -> dict[int, Any]:
    ranked = (
        select(
            Operation.device_id,
            Operation.id,
            Operation.kind,
            Operation.outcome,
            Operation.state,
            Operation.created_at,
            func.row_number()
            .over(
                partition_by=Operation.device_id,
                order_by=(Operation.created_at.desc(), Operation.id.desc()),
            )
            .label("rn"),
        )
        .where(
            Operation.tenant_id == tenant_id,
            Operation.kind.in_(PUSH_KINDS),
            Operation.device_id.is_not(None),
        )
        .subquery()
    )
    rows = session.execute(select(ranked).where(ranked.c.rn == 1))
    return {r.device_id: r for r in rows}


def fleet(
    db: Database, tenant_id: int, *, tag: str | None = None, site: str | None = None
) -> list[FleetRow]:
    """The tenant's devices (optionally one tag or site) with their status, by name."""
    with db.session() as session:
        devices = store_devices.list_devices(session, tenant_id, tag=tag, site=site)
        versions = _latest_versions(session, tenant_id)
        pushes = _latest_pushes(session, tenant_id)
        out: list[FleetRow] = []
        for d in devices:
            seq, trigger, count = versions.get(d.id, (None, None, 0))
            push = pushes.get(d.id)
            out.append(
                FleetRow(
                    id=d.id,
                    name=d.name,
                    host=d.host,
                    port=d.port,
                    site=d.site,
                    tags=tuple(d.tags),
                    ros_version=d.ros_version,
                    model=d.model or d.board,
                    last_backup_at=d.last_backup_at,
                    last_backup_status=d.last_backup_status,
                    last_backup_error=d.last_backup_error,
                    versions=count,
                    latest_seq=seq,
                    latest_trigger=trigger,
                    drift=bool(seq and seq > 1 and trigger in _BACKUP_TRIGGERS),
                    last_push_id=push.id if push else None,
                    last_push_kind=push.kind if push else None,
                    last_push_outcome=push.outcome if push else None,
                    last_push_state=push.state if push else None,
                    last_push_at=push.created_at if push else None,
                    host_key_pending=d.host_key_pending is not None,
                )
            )
        return out


def facets(db: Database, tenant_id: int) -> tuple[list[str], list[str]]:
    """The tags and sites in use in the tenant (for filter menus)."""
    from tikguard.store.models import Device, DeviceTag

    with db.session() as session:
        tags = session.scalars(
            select(DeviceTag.tag)
            .where(DeviceTag.tenant_id == tenant_id)
            .distinct()
            .order_by(DeviceTag.tag)
        )
        sites = session.scalars(
            select(Device.site)
            .where(Device.tenant_id == tenant_id, Device.site.is_not(None))
            .distinct()
            .order_by(Device.site)
        )
        return list(tags), [s for s in sites if s]


def uncertain_operations(db: Database, tenant_id: int, limit: int = 20) -> list[Operation]:
    """Recent pushes that ended ``uncertain``: someone has to look at these routers."""
    with db.session() as session:
        return list(
            session.scalars(
                select(Operation)
                .where(
                    Operation.tenant_id == tenant_id, Operation.outcome == Outcome.UNCERTAIN.value
                )
                .order_by(Operation.created_at.desc())
                .limit(limit)
            )
        )
