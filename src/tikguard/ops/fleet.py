"""The fleet at a glance: every device with its last backup, last push outcome and drift.

One page of the UI and one API call, for fleets of thousands: three queries whatever
the fleet size (devices with their newest version, their tags, their newest push),
each scoped to the tenant. They run as Core statements on the session's connection:
the rows are plain tuples, so the ORM's per-row bookkeeping (most of the cost at
1,000 devices) is skipped; an index covers each device's newest version seq and
trigger, so no configuration row is read.

Drift here means "the router changed outside tikguard": its newest stored version was
found by a backup (manual or scheduled), not written by a push, and it is not the
device's first version. ``tikguard diff NAME -1 live`` answers the live question.

The same fleet as backup "nodes" (:func:`nodes`, :func:`find_node`), for tools that read
a config backup server (the Oxidized-compatible API): LibreNMS and other Oxidized
consumers look a router up by the host name *they* know it by, which need not be
tikguard's name, so :func:`find_node` takes either (a name first; an address only when
exactly one device of the tenant has it), and pointing such a tool at tikguard does not
need a rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from tikguard.store.db import Database
from tikguard.store.errors import NotFound
from tikguard.store.models import (
    ConfigVersion,
    Device,
    DeviceTag,
    Operation,
    OperationKind,
    Outcome,
    Trigger,
)

PUSH_KINDS = (OperationKind.PUSH.value, OperationKind.RESTORE.value, OperationKind.REPLACE.value)
_BACKUP_TRIGGERS = (Trigger.MANUAL.value, Trigger.SCHEDULED.value)


@dataclass(slots=True)
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
    #: tikguard timers/files left on the router with no live push (newest backup).
    leftovers: tuple[dict[str, Any], ...] = ()
    #: When a backup (or a push's read) last read the router's config successfully: the
    #: newest version's last check. ``last_backup_at`` is the last attempt, good or not.
    last_good_at: datetime | None = None

    def fields(self) -> dict[str, Any]:
        """The row as the API's ``DeviceSummary`` (and ``device list --json``) shows it,
        in the model's field order."""
        return {
            "id": self.id,
            "name": self.name,
            "host": self.host,
            "port": self.port,
            "site": self.site,
            "tags": list(self.tags),
            "ros_version": self.ros_version,
            "model": self.model,
            "last_backup_at": self.last_backup_at,
            "last_backup_status": self.last_backup_status,
            "versions": self.versions,
            "latest_version": self.latest_seq,
            "drift": self.drift,
            "last_push_operation": self.last_push_id,
            "last_push_outcome": self.last_push_outcome,
            "last_push_at": self.last_push_at,
            "host_key_pending": self.host_key_pending,
            "leftovers": list(self.leftovers),
        }


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
    rows = session.connection().execute(select(ranked).where(ranked.c.rn == 1)).all()
    return {r.device_id: r for r in rows}


def _newest(column: Any) -> Any:
    """``column`` of the device's newest version: one index seek per device on
    (device_id, seq), which stays fast with tens of thousands of versions."""
    return (
        select(column)
        .where(ConfigVersion.device_id == Device.id)
        .order_by(ConfigVersion.seq.desc())
        .limit(1)
        .scalar_subquery()
    )


def _devices(
    session: Session, tenant_id: int, tag: str | None, site: str | None
) -> tuple[list[Any], dict[int, list[str]]]:
    """The device columns the fleet shows, and each device's tags (two plain queries)."""
    query = select(
        Device.id,
        Device.name,
        Device.host,
        Device.port,
        Device.site,
        Device.ros_version,
        Device.model,
        Device.board,
        Device.last_backup_at,
        Device.last_backup_status,
        Device.last_backup_error,
        Device.host_key_pending.is_not(None).label("pending"),
        Device.leftovers,
        _newest(ConfigVersion.seq).label("latest_seq"),
        _newest(ConfigVersion.trigger).label("latest_trigger"),
        _newest(ConfigVersion.last_checked_at).label("last_good"),
        select(func.count())
        .where(ConfigVersion.device_id == Device.id)
        .scalar_subquery()
        .label("versions"),
    ).where(Device.tenant_id == tenant_id)
    if tag is not None:
        query = query.where(
            Device.id.in_(
                select(DeviceTag.device_id).where(
                    DeviceTag.tenant_id == tenant_id, DeviceTag.tag == tag
                )
            )
        )
    if site is not None:
        query = query.where(Device.site == site)
    conn = session.connection()
    devices = list(conn.execute(query.order_by(Device.name)).all())
    tags: dict[int, list[str]] = {}
    for device_id, name in conn.execute(
        select(DeviceTag.device_id, DeviceTag.tag)
        .where(DeviceTag.tenant_id == tenant_id)
        .order_by(DeviceTag.device_id, DeviceTag.tag)
    ).all():
        tags.setdefault(device_id, []).append(name)
    return devices, tags


def fleet(
    db: Database, tenant_id: int, *, tag: str | None = None, site: str | None = None
) -> list[FleetRow]:
    """The tenant's devices (optionally one tag or site) with their status, by name."""
    with db.session() as session:
        devices, tags = _devices(session, tenant_id, tag, site)
        pushes = _latest_pushes(session, tenant_id)
    out: list[FleetRow] = []
    append = out.append
    no_tags: tuple[str, ...] = ()
    # Positional unpacking: attribute access on 1,000 rows x 20 columns is what costs.
    for (
        device_id,
        name,
        host,
        port,
        device_site,
        ros_version,
        model,
        board,
        backup_at,
        backup_status,
        backup_error,
        pending,
        left,
        seq,
        trigger,
        last_good,
        count,
    ) in devices:
        push = pushes.get(device_id)
        device_tags = tags.get(device_id)
        append(
            FleetRow(
                device_id,
                name,
                host,
                port,
                device_site,
                tuple(device_tags) if device_tags else no_tags,
                ros_version,
                model or board,
                backup_at,
                backup_status,
                backup_error,
                count,
                seq,
                trigger,
                bool(seq and seq > 1 and trigger in _BACKUP_TRIGGERS),
                push.id if push else None,
                push.kind if push else None,
                push.outcome if push else None,
                push.state if push else None,
                push.created_at if push else None,
                bool(pending),
                tuple(left) if left else (),
                last_good,
            )
        )
    return out


def facets(db: Database, tenant_id: int) -> tuple[list[str], list[str]]:
    """The tags and sites in use in the tenant (for filter menus)."""
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


# -- the fleet as backup nodes ---------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One device as a backup node."""

    id: int
    name: str
    host: str
    site: str | None
    ros_version: str | None
    model: str | None
    last_backup_at: datetime | None
    #: ``changed`` / ``unchanged`` / ``failed`` (None: never backed up).
    last_backup_status: str | None
    #: When the newest stored version was recorded (None: no version yet).
    changed_at: datetime | None
    versions: int


def _node_query(tenant_id: int) -> Select[Any]:
    """Devices with their newest version's time and their version count, each from the
    (device_id, seq) index per device (as the fleet view does), not a scan of every
    version of the tenant."""
    newest_at = (
        select(ConfigVersion.created_at)
        .where(ConfigVersion.device_id == Device.id)
        .order_by(ConfigVersion.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    count = select(func.count()).where(ConfigVersion.device_id == Device.id).scalar_subquery()
    return (
        select(
            Device.id,
            Device.name,
            Device.host,
            Device.site,
            Device.ros_version,
            Device.model,
            Device.last_backup_at,
            Device.last_backup_status,
            newest_at,
            count,
        )
        .where(Device.tenant_id == tenant_id)
        .order_by(Device.name)
    )


def _select_nodes(db: Database, tenant_id: int, *where: ColumnElement[bool]) -> list[Node]:
    query = _node_query(tenant_id).where(*where)
    with db.session() as session:
        return [Node(*row) for row in session.connection().execute(query).all()]


def nodes(db: Database, tenant_id: int, *, site: str | None = None) -> list[Node]:
    """The tenant's devices as nodes, by name (one query), optionally of one site."""
    if site is None:
        return _select_nodes(db, tenant_id)
    return _select_nodes(db, tenant_id, Device.site == site)


def find_node(db: Database, tenant_id: int, name_or_host: str) -> Node:
    """The device called ``name_or_host``, else the one device whose address it is;
    NotFound when neither (or when several devices share that address)."""
    found = _select_nodes(db, tenant_id, Device.name == name_or_host)
    if not found:
        found = _select_nodes(db, tenant_id, Device.host == name_or_host)
    if len(found) != 1:
        raise NotFound(
            f"unable to find '{name_or_host}'",
            hint="give the device's tikguard name (or its address when only one device has it)",
        )
    return found[0]
