"""Device inventory by id, for the API and UI (the CLI works by name: ops.devices).

Every function takes the caller's tenant id; a device of another tenant is "not
found" exactly like a device that does not exist. Changes are audited.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tikguard.ops import devices as devices_ops
from tikguard.ops.devices import DeviceView, HostKeyOffer
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import StateError

_UNSET: Any = object()


def get(db: Database, tenant_id: int, device_id: int) -> DeviceView:
    with db.session() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        has_password = store_devices.get_password(session, tenant_id, device.id) is not None
        return DeviceView.of(device, has_password)


def name_of(db: Database, tenant_id: int, device_id: int) -> str:
    with db.session() as session:
        return store_devices.get_device(session, tenant_id, device_id).name


def names_of(db: Database, tenant_id: int, device_ids: list[int]) -> list[str]:
    """Names of the ids, in order; any id not in the tenant is :class:`NotFound`."""
    with db.session() as session:
        return [store_devices.get_device(session, tenant_id, i).name for i in device_ids]


def add(
    db: Database, tenant_id: int, *, actor: str, password: str | None, **fields: Any
) -> DeviceView:
    with db.transaction() as session:
        device = store_devices.add_device(session, tenant_id, password=password, **fields)
        audit(session, tenant_id, actor=actor, action="device.add", target=device.name)
        return DeviceView.of(device, password is not None)


def update(
    db: Database,
    tenant_id: int,
    device_id: int,
    *,
    actor: str,
    password: str | None = _UNSET,
    **changes: Any,
) -> DeviceView:
    """Change fields (``tags`` replaces the tags); ``password`` is stored encrypted."""
    with db.transaction() as session:
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
    with db.transaction() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        store_devices.remove_device(session, tenant_id, device_id)
        audit(session, tenant_id, actor=actor, action="device.remove", target=device.name)


async def host_key_offer(
    db: Database, settings: Settings, tenant_id: int, device_id: int
) -> HostKeyOffer:
    """The key a device presents (or presented during an operation) for acceptance."""
    name = await asyncio.to_thread(name_of, db, tenant_id, device_id)
    return await devices_ops.host_key_offer(db, settings, tenant_id, name)


async def accept_host_key(
    db: Database,
    settings: Settings,
    tenant_id: int,
    device_id: int,
    fingerprint: str,
    *,
    actor: str,
) -> DeviceView:
    """Pin the device's new key, if it is the one the admin saw (by fingerprint)."""
    offer = await host_key_offer(db, settings, tenant_id, device_id)
    if offer.new_fingerprint != fingerprint.strip():
        raise StateError(
            f"{offer.device} now offers {offer.new_fingerprint}, not {fingerprint.strip()}: "
            "look again before accepting"
        )

    def write() -> DeviceView:
        view = devices_ops.accept_host_key(db, tenant_id, offer)
        with db.transaction() as session:
            audit(
                session,
                tenant_id,
                actor=actor,
                action="device.accept-host-key",
                target=offer.device,
                details={"old": offer.old_fingerprint, "new": offer.new_fingerprint},
            )
        return view

    return await asyncio.to_thread(write)
