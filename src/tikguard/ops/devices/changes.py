"""Add, edit and remove routers: each change checked, written and audited in one
transaction, with the caller's actor (``device.add``, ``device.update``,
``device.remove``).

A tenant's admin must keep to the tenant's management networks
(:mod:`tikguard.store.reach`); the controller's operator (the CLI, ``as_operator``)
is not bound by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from tikguard.ops.devices.views import DeviceView
from tikguard.store import devices as store_devices
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput
from tikguard.store.reach import check_reach

_UNSET: Any = object()


@dataclass(frozen=True)
class NewDevice:
    """A router to add, as the caller gave it."""

    name: str
    host: str
    username: str
    password: str | None = field(repr=False)
    port: int = 22
    tags: list[str] = field(default_factory=list)
    site: str | None = None


def add(
    db: Database,
    tenant_id: int,
    *,
    actor: str,
    name: str,
    host: str,
    username: str,
    password: str | None,
    port: int = 22,
    tags: list[str] | None = None,
    site: str | None = None,
    as_operator: bool = False,
) -> DeviceView:
    """Add one router without contacting it (password stored encrypted; its host key is
    pinned on the first connection)."""
    new = NewDevice(name, host, username, password, port, tags or [], site)
    with db.transaction() as session:
        return store_new(session, tenant_id, new, actor=actor, as_operator=as_operator)


def store_new(
    session: Session,
    tenant_id: int,
    new: NewDevice,
    *,
    actor: str,
    as_operator: bool,
    details: dict[str, Any] | None = None,
) -> DeviceView:
    """Write one new device and its audit row (in the caller's transaction)."""
    if not as_operator:
        check_reach(session, tenant_id, new.host, new.port)
    device = store_devices.add_device(
        session,
        tenant_id,
        name=new.name,
        host=new.host,
        username=new.username,
        password=new.password,
        port=new.port,
        tags=new.tags,
        site=new.site,
    )
    audit(session, tenant_id, actor=actor, action="device.add", target=device.name, details=details)
    return DeviceView.of(device, new.password is not None)


def update(
    db: Database,
    tenant_id: int,
    device_id: int,
    *,
    actor: str,
    password: str | None = _UNSET,
    set_vars: dict[str, str] | None = None,
    unset_vars: list[str] | None = None,
    as_operator: bool = False,
    **changes: Any,
) -> DeviceView:
    """Change fields (``host``, ``port``, ``username``, ``site``, ``tags`` -- which
    replaces the tags); ``password`` is stored encrypted (None clears it); template
    variables are set and removed (the others stay). A new host or port is checked like
    :func:`add` does. One audit row names every field changed."""
    with db.transaction() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        if not as_operator and ("host" in changes or "port" in changes):
            host, port = changes.get("host", device.host), changes.get("port", device.port)
            check_reach(session, tenant_id, host, port, device_id=device_id)
        missing = [k for k in unset_vars or [] if k not in device.vars]
        if missing:
            raise InvalidInput(f"{device.name} has no variable {', '.join(missing)}")
        if set_vars or unset_vars:
            kept = {k: v for k, v in device.vars.items() if k not in (unset_vars or [])}
            changes["vars"] = {**kept, **(set_vars or {})}
        device = store_devices.update_device(session, tenant_id, device_id, **changes)
        changed = sorted(changes)
        if password is not _UNSET:
            store_devices.set_password(session, tenant_id, device_id, password)
            changed.append("password")
        audit(
            session,
            tenant_id,
            actor=actor,
            action="device.update",
            target=device.name,
            details={"fields": changed},
        )
        has_password = store_devices.get_password(session, tenant_id, device_id) is not None
        return DeviceView.of(device, has_password)


def remove(db: Database, tenant_id: int, device_id: int, *, actor: str) -> None:
    """Delete a device and its stored versions."""
    with db.transaction() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        store_devices.remove_device(session, tenant_id, device_id)
        audit(session, tenant_id, actor=actor, action="device.remove", target=device.name)
