"""What showing and listing a device displays: never its password, a fingerprint of
its host key (never the key), what the last probe and backup saw."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tikguard.device.hostkey import fingerprint
from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.models import Device


@dataclass(frozen=True)
class DeviceView:
    """What listing and showing a device displays (never the password)."""

    id: int
    name: str
    host: str
    port: int
    username: str
    has_password: bool
    tags: tuple[str, ...]
    site: str | None
    host_key_fingerprint: str | None
    host_key_first_seen: datetime | None
    host_key_last_verified: datetime | None
    pending_host_key_fingerprint: str | None
    ros_version: str | None
    model: str | None
    board: str | None
    last_backup_at: datetime | None
    last_backup_status: str | None
    last_backup_error: str | None
    #: Template variables of rollouts (``device set NAME --var KEY=VALUE``).
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, d: Device, has_password: bool) -> DeviceView:
        return cls(
            id=d.id,
            name=d.name,
            host=d.host,
            port=d.port,
            username=d.username,
            has_password=has_password,
            tags=tuple(d.tags),
            site=d.site,
            host_key_fingerprint=safe_fingerprint(d.host_key),
            host_key_first_seen=d.host_key_first_seen,
            host_key_last_verified=d.host_key_last_verified,
            pending_host_key_fingerprint=safe_fingerprint(d.host_key_pending),
            ros_version=d.ros_version,
            model=d.model,
            board=d.board,
            last_backup_at=d.last_backup_at,
            last_backup_status=d.last_backup_status,
            last_backup_error=d.last_backup_error,
            vars=dict(d.vars or {}),
        )


def safe_fingerprint(key: str | None) -> str | None:
    """The key's fingerprint; a corrupt stored key must not break listing."""
    if not key:
        return None
    try:
        return fingerprint(key)
    except Exception:
        return "(unreadable key)"


def get(db: Database, tenant_id: int, device_id: int) -> DeviceView:
    with db.session() as session:
        device = store_devices.get_device(session, tenant_id, device_id)
        has_password = store_devices.get_password(session, tenant_id, device.id) is not None
        return DeviceView.of(device, has_password)


def list_all(db: Database, tenant_id: int, *, tag: str | None = None) -> list[DeviceView]:
    with db.session() as session:
        return [
            DeviceView.of(d, True) for d in store_devices.list_devices(session, tenant_id, tag=tag)
        ]
