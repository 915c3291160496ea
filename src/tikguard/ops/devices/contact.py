"""What needs the router itself: adding a router only once it answered, probing it,
and accepting a changed host key after showing its fingerprint.

The SSH stack loads inside these functions, so a caller that only lists or edits the
inventory never imports it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from tikguard.device.hostkey import fingerprint
from tikguard.ops.devices.changes import NewDevice, store_new
from tikguard.ops.devices.views import DeviceView, safe_fingerprint
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import StateError
from tikguard.store.reach import check_reach

if TYPE_CHECKING:  # the SSH stack and the backup engine load only where a router is reached
    from tikguard.device.probe import DeviceFacts


async def add_probed(
    db: Database,
    settings: Settings,
    tenant_id: int,
    new: NewDevice,
    *,
    actor: str,
    as_operator: bool = False,
) -> tuple[DeviceView, DeviceFacts]:
    """Add a router only once it has answered: reached, logged in to with these
    credentials, probed, its host key pinned from this first contact. A probe that fails
    raises its :class:`~tikguard.device.errors.DeviceError` and nothing is stored; the
    input is checked before the router is contacted."""
    from tikguard.device.probe import probe
    from tikguard.device.session import Target, connect

    def check() -> None:
        with db.session() as session:
            if not as_operator:
                check_reach(session, tenant_id, new.host, new.port)
            store_devices.check_new_device(
                session,
                tenant_id,
                name=new.name,
                host=new.host,
                username=new.username,
                port=new.port,
                tags=new.tags,
                site=new.site,
            )

    await asyncio.to_thread(check)
    target = Target(new.name, new.host, new.port, new.username, new.password or "")
    async with await connect(target, settings) as session_:
        facts = await probe(session_)
        presented = session_.host_key

    def write() -> DeviceView:
        with db.transaction() as session:
            view = store_new(
                session,
                tenant_id,
                new,
                actor=actor,
                as_operator=as_operator,
                details={"probed": True, "host_key": fingerprint(presented)},
            )
            store_devices.check_host_key(session, tenant_id, view.id, presented)
            _record_probe(session, tenant_id, view.id, facts)
            return DeviceView.of(
                store_devices.get_device(session, tenant_id, view.id), view.has_password
            )

    return await asyncio.to_thread(write), facts


async def probe_device(
    db: Database, settings: Settings, tenant_id: int, device_id: int
) -> DeviceFacts:
    """Connect (pinned key; pinned now on first use), probe, and record what was seen."""
    from tikguard.device.probe import probe
    from tikguard.device.session import connect
    from tikguard.ops.backup.service import load_jobs

    (job,) = await asyncio.to_thread(load_jobs, db, tenant_id, device_ids=[device_id])
    async with await connect(job.target, settings) as session_:
        facts = await probe(session_)
        presented = session_.host_key
    with db.transaction() as session:
        store_devices.check_host_key(session, tenant_id, device_id, presented)
        _record_probe(session, tenant_id, device_id, facts)
    return facts


def _record_probe(session: Session, tenant_id: int, device_id: int, facts: DeviceFacts) -> None:
    """Keep what a probe saw on the device's row."""
    details: dict[str, Any] = {
        "identity": facts.identity,
        "channel": facts.resource.channel,
        "free_bytes": facts.resource.free_bytes,
        "total_bytes": facts.resource.total_bytes,
        "uptime_seconds": facts.resource.uptime_seconds,
        "clock": facts.clock.isoformat() if facts.clock else None,
        "time_zone": facts.time_zone,
        "device_mode": facts.device_mode,
        "has_flash": facts.has_flash,
        "user_group": facts.user_group,
        "policies": sorted(facts.policies) if facts.policies is not None else None,
    }
    store_devices.record_probe(
        session,
        tenant_id,
        device_id,
        ros_version=facts.version,
        board=facts.resource.board,
        architecture=facts.resource.architecture,
        details=details,
    )


@dataclass(frozen=True)
class HostKeyOffer:
    """The key an operator is asked to accept for a device."""

    device: str
    old_fingerprint: str | None
    new_key: str
    new_fingerprint: str
    #: True when the router presented it during an operation (recorded as pending);
    #: False when it was read just now.
    recorded: bool


async def host_key_offer(
    db: Database, settings: Settings, tenant_id: int, device_id: int
) -> HostKeyOffer:
    """The pending key of a device, or the key it presents now if none is pending."""
    from tikguard.device.session import fetch_host_key

    with db.session() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        name, old, pending, host, port = (
            device.name,
            device.host_key,
            device.host_key_pending,
            device.host,
            device.port,
        )
    recorded = pending is not None
    key = pending if pending is not None else await fetch_host_key(host, port, settings, name=name)
    return HostKeyOffer(
        name,
        safe_fingerprint(old),
        key,
        fingerprint(key),
        recorded,
    )


async def accept_host_key(
    db: Database,
    settings: Settings,
    tenant_id: int,
    device_id: int,
    fingerprint: str,
    *,
    actor: str,
) -> DeviceView:
    """Pin the device's new key, if it is the one the operator saw (by fingerprint)."""
    offer = await host_key_offer(db, settings, tenant_id, device_id)
    if offer.new_fingerprint != fingerprint.strip():
        raise StateError(
            f"{offer.device} now offers {offer.new_fingerprint}, not {fingerprint.strip()}: "
            "look again before accepting"
        )

    def write() -> DeviceView:
        with db.transaction() as session:
            store_devices.accept_host_key(session, tenant_id, device_id, offer.new_key)
            audit(
                session,
                tenant_id,
                actor=actor,
                action="device.accept-host-key",
                target=offer.device,
                details={"old": offer.old_fingerprint, "new": offer.new_fingerprint},
            )
            return DeviceView.of(store_devices.get_device(session, tenant_id, device_id), True)

    return await asyncio.to_thread(write)
