"""The fleet as backup "nodes", for tools that read a config backup server: every
device with its address, site, last backup and when its configuration last changed;
one found by name or, as Oxidized's own lookup allows, by address.

Why a module of its own: LibreNMS and other Oxidized consumers look a router up by the
host name *they* know it by, which need not be tikguard's name. :func:`find` takes
either (a name first; an address only when exactly one device of the tenant has it),
so pointing such a tool at tikguard does not need a rename. Everything is tenant-scoped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from tikguard.store.db import Database
from tikguard.store.errors import NotFound
from tikguard.store.models import ConfigVersion, Device

__all__ = ["Node", "find", "nodes"]


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


def _query(tenant_id: int) -> Select[Any]:
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


def _select(db: Database, tenant_id: int, *where: ColumnElement[bool]) -> list[Node]:
    query = _query(tenant_id).where(*where)
    with db.session() as session:
        return [Node(*row) for row in session.connection().execute(query).all()]


def nodes(db: Database, tenant_id: int, *, site: str | None = None) -> list[Node]:
    """The tenant's devices as nodes, by name (one query), optionally of one site."""
    if site is None:
        return _select(db, tenant_id)
    return _select(db, tenant_id, Device.site == site)


def find(db: Database, tenant_id: int, name_or_host: str) -> Node:
    """The device called ``name_or_host``, else the one device whose address it is;
    NotFound when neither (or when several devices share that address)."""
    found = _select(db, tenant_id, Device.name == name_or_host)
    if not found:
        found = _select(db, tenant_id, Device.host == name_or_host)
    if len(found) != 1:
        raise NotFound(
            f"unable to find '{name_or_host}'",
            hint="give the device's tikguard name (or its address when only one device has it)",
        )
    return found[0]
