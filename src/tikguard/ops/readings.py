"""Record what a router said: its configuration as a version, its device row, its host key.

One write path for every caller that read a router's configuration over a pinned
session -- a backup of many routers (in batches), a push's pre- and post-push reads --
so the rules live once:

* trust on first use (:func:`tikguard.store.devices.host_key_changes`): an unpinned key
  is pinned, the pinned key is marked verified, another key is kept as pending and the
  reading is refused (the pin changed while we were connected with the old one);
* a new version only when the config or its secrets changed
  (:func:`tikguard.store.versions.record_backups`);
* the device row's version, model, leftovers and last-backup fields.

:func:`record_many` writes in the caller's transaction (a few statements per batch);
:func:`record` is one reading in its own transaction. After the transaction commits,
:func:`announce` starts the git mirror and calls every listener registered with
:func:`on_stored`: the one place where "a version is stored" is heard.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tikguard.device.errors import DeviceError, HostKeyChanged
from tikguard.device.session import fingerprint
from tikguard.logs import get_logger
from tikguard.ops import leftovers
from tikguard.ops.mirror import mirror_in_background
from tikguard.process import STATE
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.models import Device, utcnow

log = get_logger(__name__)


class BackupStatus(enum.StrEnum):
    """How a reading was recorded: a new version, the newest one again, or nothing."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class Reading:
    """One router's configuration as read over a session, ready to record."""

    device_id: int
    #: Normalised export with sensitive values replaced by placeholders.
    redacted: str
    #: Placeholder -> value; kept encrypted beside the version.
    secrets: dict[str, str] = field(repr=False)
    ros_version: str | None
    model: str | None
    #: The key the router presented on the session that read it.
    host_key: str
    binary: bytes | None = field(default=None, repr=False)
    #: tikguard's own timers and files found on the router (None: not looked).
    tikguard: leftovers.Found | None = None


@dataclass(frozen=True)
class Unread:
    """A router that could not be read: the error is recorded on its device row."""

    device_id: int
    error: DeviceError


@dataclass(frozen=True)
class Recorded:
    """What was recorded for one reading."""

    device_id: int
    #: The device's name; None when it is not (or no longer) in the tenant.
    name: str | None
    status: BackupStatus
    #: The version number (seq), id and content hash (changed and unchanged).
    version: int | None = None
    version_id: int | None = None
    sha256: str | None = None
    leftovers: tuple[leftovers.Leftover, ...] = ()
    #: Why nothing was stored (failed, or a key that changed under the reading).
    error: DeviceError | None = None

    @property
    def gone(self) -> bool:
        """The device was removed while it was being read."""
        return self.name is None


#: Heard after a transaction that recorded readings committed: ``(db, tenant_id,
#: recorded)``, the recorded list holding only stored versions (changed or unchanged).
StoredListener = Callable[[Database, int, Sequence[Recorded]], None]


@dataclass
class StoredListeners:
    """Who :func:`on_stored` registered (held in :data:`tikguard.process.STATE`)."""

    listeners: list[StoredListener] = field(default_factory=list)


def on_stored(listener: StoredListener) -> StoredListener:
    """Register ``listener`` for every batch of stored versions (usable as a decorator).

    Called in the thread that wrote them, after the commit; a listener that raises is
    logged and never fails the backup or the push. ``status is CHANGED`` marks a new
    version; UNCHANGED readings are included (their check time moved).
    """
    listeners = STATE.of(StoredListeners).listeners
    if listener not in listeners:
        listeners.append(listener)
    return listener


def announce(db: Database, tenant_id: int, recorded: Sequence[Recorded]) -> None:
    """After the commit: mirror new versions to git, then tell the listeners."""
    stored = [r for r in recorded if r.version_id is not None]
    if not stored:
        return
    if any(r.status is BackupStatus.CHANGED for r in stored):
        mirror_in_background(db, tenant_id)
    for listener in list(STATE.of(StoredListeners).listeners):
        try:
            listener(db, tenant_id, stored)
        except Exception:
            log.exception("a listener of stored versions failed (tenant %s)", tenant_id)


def _failed_row(row: dict[str, object], error: DeviceError, now: datetime, failures: int) -> None:
    reason, shown, _hint = error.for_tenant()
    row.update(
        last_backup_status=BackupStatus.FAILED.value,
        last_backup_error=f"{reason}: {shown}",
        last_backup_at=now,
        backup_failures=failures + 1,  # in a row: what "backup failing N times" counts
    )


def record_many(
    session: Session,
    tenant_id: int,
    items: Sequence[Reading | Unread],
    *,
    trigger: str,
    operation_id: str | None = None,
    requested_by: str | None = None,
    operation_ids: Mapping[int, str] | None = None,
    now: datetime | None = None,
) -> list[Recorded]:
    """Record ``items`` (each device at most once) in the caller's transaction, in a few
    statements. A new version keeps who asked (``requested_by``) and its operation
    (``operation_ids[device_id]``, else ``operation_id``): the git mirror's trailers.
    The statements: the pinned keys in one locking query, the versions through
    :func:`store_versions.record_backups` (one with a binary backup through
    :func:`store_versions.record_backup`), the device rows in one bulk UPDATE.

    Answers in the order of ``items``; call :func:`announce` after the commit.
    """
    now = now or utcnow()
    ids = [item.device_id for item in items]
    pinned = {
        row.id: (row.name, row.host_key, row.backup_failures or 0)
        for row in session.execute(
            select(Device.id, Device.name, Device.host_key, Device.backup_failures)
            .where(Device.tenant_id == tenant_id, Device.id.in_(ids))
            .with_for_update()
        )
    }
    out: dict[int, Recorded] = {}
    changes: dict[int, dict[str, object]] = {}
    reported: dict[int, list[leftovers.Leftover]] = {}
    readings: list[Reading] = []
    for index, item in enumerate(items):
        if item.device_id not in pinned:
            out[index] = Recorded(item.device_id, None, BackupStatus.FAILED)
            continue
        name, key, failures = pinned[item.device_id]
        row: dict[str, object] = {"id": item.device_id}
        changes[item.device_id] = row
        error = item.error if isinstance(item, Unread) else None
        if isinstance(item, Reading):
            check, keyed = store_devices.host_key_changes(key, item.host_key, now)
            row.update(keyed)
            if check is store_devices.HostKeyCheck.MISMATCH:
                # the pin changed while we were connected with the old one: keep nothing
                assert key is not None
                error = HostKeyChanged(name, fingerprint(key), fingerprint(item.host_key))
        elif isinstance(item.error, HostKeyChanged) and item.error.new_key and key is not None:
            check, keyed = store_devices.host_key_changes(key, item.error.new_key, now)
            if check is store_devices.HostKeyCheck.MISMATCH:
                row.update(keyed)
        if error is not None:
            _failed_row(row, error, now, failures)
            out[index] = Recorded(item.device_id, name, BackupStatus.FAILED, error=error)
            continue
        assert isinstance(item, Reading)
        if item.ros_version:
            row["ros_version"] = item.ros_version
        if item.model:
            row["model"] = item.model
        if item.tikguard is not None:
            found = reported[item.device_id] = leftovers.report(session, tenant_id, item.tikguard)
            row["leftovers"] = found
        readings.append(item)
    origin = _Origin(operation_id, requested_by, operation_ids or {})
    stored = _store_versions(session, tenant_id, readings, trigger, origin, now)
    for index, item in enumerate(items):
        if index in out:
            continue
        rec = stored[item.device_id]
        row = changes[item.device_id]
        status = BackupStatus.CHANGED if rec.created else BackupStatus.UNCHANGED
        row.update(
            last_backup_status=status.value,
            last_backup_error=None,
            last_backup_at=now,
            backup_failures=0,
        )
        out[index] = Recorded(
            item.device_id,
            pinned[item.device_id][0],
            status,
            version=rec.seq,
            version_id=rec.version_id,
            sha256=rec.sha256,
            leftovers=tuple(reported.get(item.device_id, ())),
        )
    if changes:
        session.execute(update(Device), list(changes.values()))
    return [out[i] for i in range(len(items))]


@dataclass(frozen=True)
class _Origin:
    """Who asked for the readings, and the operation (one, or one per device)."""

    operation_id: str | None
    requested_by: str | None
    operation_ids: Mapping[int, str]


def _store_versions(
    session: Session,
    tenant_id: int,
    readings: Sequence[Reading],
    trigger: str,
    origin: _Origin,
    now: datetime,
) -> dict[int, store_versions.Recorded]:
    plain = [r for r in readings if r.binary is None]
    stored = store_versions.record_backups(
        session,
        tenant_id,
        [
            store_versions.BackupInput(r.device_id, r.redacted, r.secrets, r.ros_version)
            for r in plain
        ],
        trigger=trigger,
        operation_id=origin.operation_id,
        requested_by=origin.requested_by,
        operation_ids=origin.operation_ids,
        now=now,
    )
    for r in readings:
        if r.binary is None:
            continue
        version, created = store_versions.record_backup(
            session,
            tenant_id,
            r.device_id,
            normalised_redacted_text=r.redacted,
            secrets=r.secrets,
            ros_version=r.ros_version,
            trigger=trigger,
            operation_id=origin.operation_ids.get(r.device_id, origin.operation_id),
            requested_by=origin.requested_by,
            binary_backup=r.binary,
            now=now,
        )
        stored[r.device_id] = store_versions.Recorded(
            r.device_id, version.id, version.seq, created, version.sha256
        )
    return stored


async def record(
    db: Database,
    tenant_id: int,
    item: Reading | Unread,
    *,
    trigger: str,
    operation_id: str | None = None,
    requested_by: str | None = None,
) -> Recorded:
    """One reading in its own transaction (off the event loop), then :func:`announce`."""

    def write() -> Recorded:
        with db.transaction() as session:
            (recorded,) = record_many(
                session,
                tenant_id,
                [item],
                trigger=trigger,
                operation_id=operation_id,
                requested_by=requested_by,
            )
        return recorded

    recorded = await asyncio.to_thread(write)
    announce(db, tenant_id, [recorded])
    return recorded
