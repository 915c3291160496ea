"""Backups: read routers' configurations and keep every change, fleet-wide.

Why it is shaped like this: a fleet has slow, dead and misconfigured routers, and
none of them may hold up or hide the others. Each device runs under its own timeout
inside a bounded pool (``Settings.backup_concurrency``); each ends as exactly one
:class:`BackupResult` -- ``changed`` (a new version), ``unchanged`` (same config: only
the check time moves) or ``failed`` with a reason and what to do next. Results are
written in batches, a few statements per batch (:func:`store_versions.record_backups`);
if a batch fails, it is written again one savepoint per device, so one bad row never
loses the rest. The git mirror follows in the background once the results are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tikguard.device.errors import DeviceError, DeviceTimeout, HostKeyChanged
from tikguard.device.session import Target, fingerprint
from tikguard.logs import get_logger
from tikguard.ops import leftovers
from tikguard.ops.backup.snapshot import Snapshot, take_snapshot
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import mirror
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.errors import NotFound
from tikguard.store.models import Device, Trigger, utcnow

log = get_logger(__name__)

#: Results written per database transaction.
WRITE_BATCH = 200
#: How long (seconds) the writer waits for a batch to fill while routers are still being
#: read: a few large transactions cost far less than one per finished router.
WRITE_LINGER = 0.2


class BackupStatus(enum.StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass(frozen=True)
class BackupResult:
    """How one device's backup ended. ``version`` is the version number (seq)."""

    device: str
    device_id: int
    status: BackupStatus
    version: int | None = None
    version_id: int | None = None
    #: Machine-readable failure reason (``unreachable``, ``auth-failed``, ...).
    reason: str | None = None
    message: str | None = None
    hint: str | None = None
    seconds: float = 0.0
    #: What tikguard left on the router with no live operation behind it (timers,
    #: files), and the files of ended operations this backup removed.
    leftovers: tuple[dict[str, Any], ...] = ()
    removed: tuple[str, ...] = ()
    #: What a tenant sees of a failure: ``(reason, message, hint)``, uniform for a router
    #: never verified (:meth:`DeviceError.for_tenant`); None: the same as above.
    tenant_view: tuple[str, str, str | None] | None = None

    def for_tenant(self) -> tuple[str | None, str | None, str | None]:
        """``(reason, message, hint)`` for the API, the UI and operation events."""
        return self.tenant_view or (self.reason, self.message, self.hint)

    @property
    def ok(self) -> bool:
        return self.status is not BackupStatus.FAILED


@dataclass(frozen=True)
class BackupJob:
    """One device to back up, with its decrypted credentials (never logged)."""

    device_id: int
    target: Target = field(repr=False)
    known_version: str | None


def _job(device: store_devices.DeviceAccess) -> BackupJob:
    target = Target(
        name=device.name,
        host=device.host,
        port=device.port,
        username=device.username,
        password=device.password or "",
        host_key=device.host_key,
    )
    return BackupJob(device.id, target, device.ros_version)


def load_jobs(
    db: Database,
    tenant_id: int,
    *,
    names: Iterable[str] | None = None,
    tag: str | None = None,
    device_ids: Iterable[int] | None = None,
) -> list[BackupJob]:
    """The devices to back up (all of the tenant's when no filter is given).

    Unknown names raise :class:`NotFound` naming them, before anything starts.
    """
    wanted = list(names) if names is not None else None
    with db.session() as session:
        query_names = wanted if wanted else None
        wanted_ids = set(device_ids) if device_ids is not None else None
        devices = store_devices.list_access(
            session, tenant_id, tag=tag, names=query_names, ids=wanted_ids
        )
        if wanted_ids is not None:
            missing_ids = wanted_ids - {d.id for d in devices}
            if missing_ids:
                raise NotFound(f"device {min(missing_ids)} does not exist")
        if wanted:
            missing = sorted(set(wanted) - {d.name for d in devices})
            if missing:
                raise NotFound(f"no device named {', '.join(missing)}")
        return [_job(d) for d in devices]


ReadOutcome = Snapshot | DeviceError
_Pending = tuple[BackupJob, ReadOutcome, float, object]


def _failed_result(name: str, device_id: int, error: DeviceError, seconds: float) -> BackupResult:
    return BackupResult(
        name,
        device_id,
        BackupStatus.FAILED,
        reason=error.reason,
        message=error.message,
        hint=error.hint,
        seconds=seconds,
        tenant_view=error.for_tenant() if error.first_contact else None,
    )


def _failed(device: Device, error: DeviceError, seconds: float, now: datetime) -> BackupResult:
    device.last_backup_status = BackupStatus.FAILED.value
    reason, message, _hint = error.for_tenant()
    device.last_backup_error = f"{reason}: {message}"
    device.last_backup_at = now
    return _failed_result(device.name, device.id, error, seconds)


def _apply(
    session: Session,
    device: Device,
    outcome: ReadOutcome,
    seconds: float,
    trigger: str,
    operation_id: str | None,
    now: datetime,
) -> BackupResult:
    """Record one device's outcome on its loaded row (in the caller's savepoint).

    Host keys follow :func:`tikguard.store.devices.check_host_key`: an unpinned key is
    pinned, the pinned key is marked verified, another key is kept as pending.
    """
    if isinstance(outcome, DeviceError):
        new_key = outcome.new_key if isinstance(outcome, HostKeyChanged) else None
        if new_key and device.host_key is not None and new_key != device.host_key:
            device.host_key_pending = new_key
            device.host_key_pending_seen = now
        return _failed(device, outcome, seconds, now)
    if device.host_key is None:
        device.host_key = outcome.host_key
        device.host_key_first_seen = now
    elif device.host_key != outcome.host_key:
        # The pin changed while we were connected with the old one: keep nothing.
        error = HostKeyChanged(device.name, fingerprint(outcome.host_key), None)
        return _failed(device, error, seconds, now)
    for column, value in store_devices.pinned_key_seen(now).items():
        setattr(device, column, value)
    version, created = store_versions.record_backup(
        session,
        device.tenant_id,
        device.id,
        normalised_redacted_text=outcome.redacted,
        secrets=outcome.secrets,
        ros_version=outcome.ros_version,
        trigger=trigger,
        operation_id=operation_id,
        binary_backup=outcome.binary,
        now=now,
    )
    if outcome.ros_version:
        device.ros_version = outcome.ros_version
    if outcome.model:
        device.model = outcome.model
    left: list[dict[str, Any]] = []
    if outcome.tikguard is not None:
        left = leftovers.report(session, device.tenant_id, outcome.tikguard)
        device.leftovers = left
    status = BackupStatus.CHANGED if created else BackupStatus.UNCHANGED
    device.last_backup_status = status.value
    device.last_backup_error = None
    device.last_backup_at = now
    return BackupResult(
        device.name,
        device.id,
        status,
        version=version.seq,
        version_id=version.id,
        seconds=seconds,
        leftovers=tuple(left),
        removed=tuple(outcome.tikguard.removed if outcome.tikguard else ()),
    )


def _left(row: dict[str, object]) -> list[dict[str, Any]]:
    found = row.get("leftovers")
    return found if isinstance(found, list) else []


def check_trigger(trigger: str) -> str:
    """The trigger's value, or ValueError listing the allowed ones."""
    try:
        return Trigger(trigger).value
    except ValueError:
        allowed = ", ".join(t.value for t in Trigger)
        raise ValueError(f"unknown backup trigger {trigger!r} (one of: {allowed})") from None


class _ResultWriter:
    """Writes outcomes in batches from a worker thread; each caller awaits its own result."""

    def __init__(
        self,
        db: Database,
        tenant_id: int,
        trigger: str,
        operation_id: str | None,
        expected: int,
    ) -> None:
        self._db = db
        self._tenant_id = tenant_id
        self._trigger = trigger
        self._operation_id = operation_id
        self._pending: list[tuple[BackupJob, ReadOutcome, float, asyncio.Future[BackupResult]]] = []
        self._task: asyncio.Task[None] | None = None
        #: Outcomes not yet taken into a batch (read or still being read).
        self._unwritten = expected
        self._full = asyncio.Event()

    async def submit(self, job: BackupJob, outcome: ReadOutcome, seconds: float) -> BackupResult:
        future: asyncio.Future[BackupResult] = asyncio.get_running_loop().create_future()
        self._pending.append((job, outcome, seconds, future))
        if len(self._pending) >= min(WRITE_BATCH, self._unwritten):
            self._full.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            if len(self._pending) < min(WRITE_BATCH, self._unwritten):
                # More routers are still being read: let the batch fill a little.
                self._full.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WRITE_LINGER):
                        await self._full.wait()
            batch, self._pending = self._pending[:WRITE_BATCH], self._pending[WRITE_BATCH:]
            self._unwritten -= len(batch)
            try:
                results = await asyncio.to_thread(self._write, batch)
            except Exception as exc:  # the whole transaction failed: say so per device
                log.exception("storing %d backup results failed", len(batch))
                results = [self._store_failed(job, exc, secs) for job, _, secs, _ in batch]
            for (_, _, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _write(self, batch: Sequence[_Pending]) -> list[BackupResult]:
        now = utcnow()
        with self._db.transaction() as session:
            try:  # all at once; if anything fails, again one savepoint per device
                with session.begin_nested():
                    return self._write_bulk(session, batch, now)
            except Exception:
                log.exception("bulk recording of %d backup results failed", len(batch))
            ids = [job.device_id for job, _, _, _ in batch]
            query = select(Device).where(Device.tenant_id == self._tenant_id, Device.id.in_(ids))
            devices = {d.id: d for d in session.scalars(query)}
            results: list[BackupResult] = []
            for item in batch:
                try:
                    with session.begin_nested():
                        results.append(self._one(session, devices, item, now))
                except Exception as exc:
                    job, _, seconds, _ = item
                    log.exception("storing the backup of %s failed", job.target.name)
                    results.append(self._store_failed(job, exc, seconds))
        return results

    def _write_bulk(
        self, session: Session, batch: Sequence[_Pending], now: datetime
    ) -> list[BackupResult]:
        """A batch in a few statements: the devices' pinned keys in one query, the
        versions through :func:`store_versions.record_backups`, the devices' rows in one
        bulk UPDATE. Same rules as :func:`_apply` (which binary backups still take)."""
        ids = [job.device_id for job, _, _, _ in batch]
        pinned = {
            row.id: (row.name, row.host_key)
            for row in session.execute(
                select(Device.id, Device.name, Device.host_key)
                .where(Device.tenant_id == self._tenant_id, Device.id.in_(ids))
                .with_for_update()
            )
        }
        results: dict[int, BackupResult] = {}
        changes: dict[int, dict[str, object]] = {}
        to_store: list[tuple[int, BackupJob, float]] = []
        inputs: list[store_versions.BackupInput] = []
        with_binary: list[int] = []
        for index, (job, outcome, seconds, _) in enumerate(batch):
            if job.device_id not in pinned:
                gone = NotFound(f"device {job.target.name!r} was removed during the backup")
                results[index] = self._store_failed(job, gone, seconds)
                continue
            name, key = pinned[job.device_id]
            row: dict[str, object] = {"id": job.device_id}
            if isinstance(outcome, Snapshot) and key is not None and key != outcome.host_key:
                # The pin changed while we were connected with the old one: keep nothing.
                outcome = HostKeyChanged(name, fingerprint(outcome.host_key), None)
            if isinstance(outcome, DeviceError):
                new_key = outcome.new_key if isinstance(outcome, HostKeyChanged) else None
                if new_key and key is not None and new_key != key:
                    row.update(host_key_pending=new_key, host_key_pending_seen=now)
                reason, shown, _hint = outcome.for_tenant()
                row.update(
                    last_backup_status=BackupStatus.FAILED.value,
                    last_backup_error=f"{reason}: {shown}",
                    last_backup_at=now,
                )
                changes[job.device_id] = row
                results[index] = _failed_result(name, job.device_id, outcome, seconds)
                continue
            if outcome.binary is not None:
                with_binary.append(index)
                continue
            if key is None:
                row.update(host_key=outcome.host_key, host_key_first_seen=now)
            row.update(store_devices.pinned_key_seen(now))
            if outcome.ros_version:
                row["ros_version"] = outcome.ros_version
            if outcome.model:
                row["model"] = outcome.model
            if outcome.tikguard is not None:
                row["leftovers"] = leftovers.report(session, self._tenant_id, outcome.tikguard)
            changes[job.device_id] = row
            to_store.append((index, job, seconds))
            inputs.append(
                store_versions.BackupInput(
                    job.device_id, outcome.redacted, outcome.secrets, outcome.ros_version
                )
            )
        recorded = store_versions.record_backups(
            session,
            self._tenant_id,
            inputs,
            trigger=self._trigger,
            operation_id=self._operation_id,
            now=now,
        )
        for index, job, seconds in to_store:
            rec = recorded.get(job.device_id)
            found = batch[index][1]
            assert isinstance(found, Snapshot)
            name = pinned[job.device_id][0]
            if rec is None:  # removed after the key check: impossible under the row lock
                gone = NotFound(f"device {name!r} was removed during the backup")
                results[index] = self._store_failed(job, gone, seconds)
                changes.pop(job.device_id, None)
                continue
            status = BackupStatus.CHANGED if rec.created else BackupStatus.UNCHANGED
            changes[job.device_id].update(
                last_backup_status=status.value, last_backup_error=None, last_backup_at=now
            )
            results[index] = BackupResult(
                name,
                job.device_id,
                status,
                version=rec.seq,
                version_id=rec.version_id,
                seconds=seconds,
                leftovers=tuple(_left(changes[job.device_id])),
                removed=tuple(found.tikguard.removed if found.tikguard else ()),
            )
        if changes:
            session.execute(update(Device), list(changes.values()))
        if with_binary:
            query = select(Device).where(
                Device.tenant_id == self._tenant_id,
                Device.id.in_([batch[i][0].device_id for i in with_binary]),
            )
            devices = {d.id: d for d in session.scalars(query)}
            for index in with_binary:
                results[index] = self._one(session, devices, batch[index], now)
        return [results[i] for i in range(len(batch))]

    def _one(
        self, session: Session, devices: dict[int, Device], item: _Pending, now: datetime
    ) -> BackupResult:
        job, outcome, seconds, _ = item
        device = devices.get(job.device_id)
        if device is None:
            raise NotFound(f"device {job.target.name!r} was removed during the backup")
        return _apply(session, device, outcome, seconds, self._trigger, self._operation_id, now)

    @staticmethod
    def _store_failed(job: BackupJob, exc: BaseException, seconds: float) -> BackupResult:
        return BackupResult(
            job.target.name,
            job.device_id,
            BackupStatus.FAILED,
            reason="store-error",
            message=f"{job.target.name}: the backup was read but could not be stored "
            f"({type(exc).__name__}: {exc})",
            hint="check the database (disk space, permissions) and run the backup again",
            seconds=seconds,
        )


async def _read_one(
    job: BackupJob, settings: Settings, binary: bool, ended: leftovers.EndedLookup | None = None
) -> ReadOutcome:
    """One device's snapshot or the error that stopped it; never raises DeviceError."""
    name = job.target.name
    limit = settings.seconds(settings.backup_timeout)
    try:
        async with asyncio.timeout(limit):
            return await take_snapshot(
                job.target,
                settings,
                known_version=job.known_version,
                binary=binary,
                ended=ended,
            )
    except DeviceError as exc:
        return exc
    except TimeoutError:
        return DeviceTimeout(
            name,
            f"{name}: no complete backup within {settings.backup_timeout:g} s",
            hint="the router is slow or the link is poor; retry, or raise TIKGUARD_BACKUP_TIMEOUT",
        )
    except Exception as exc:  # a bug must not stop the fleet; it is reported per device
        log.exception("backup of %s failed unexpectedly", name)
        return DeviceError(name, f"{name}: unexpected error {type(exc).__name__}: {exc}")


async def run_backups(
    db: Database,
    settings: Settings,
    tenant_id: int,
    jobs: list[BackupJob],
    *,
    trigger: str = Trigger.MANUAL.value,
    operation_id: str | None = None,
    binary: bool = False,
    on_result: Callable[[BackupResult], None] | None = None,
) -> list[BackupResult]:
    """Back up ``jobs`` with bounded concurrency; results in the order of ``jobs``."""
    trigger = check_trigger(trigger)
    semaphore = asyncio.Semaphore(max(1, settings.backup_concurrency))
    writer = _ResultWriter(db, tenant_id, trigger, operation_id, len(jobs))

    async def ended(prefixes: list[str]) -> set[str]:
        def read() -> set[str]:
            with db.session() as session:
                return leftovers.ended_prefixes(session, tenant_id, prefixes)

        return await asyncio.to_thread(read)

    async def one(job: BackupJob) -> BackupResult:
        async with semaphore:
            started = time.monotonic()
            outcome = await _read_one(job, settings, binary, ended)
            seconds = time.monotonic() - started
        result = await writer.submit(job, outcome, seconds)
        if on_result is not None:
            with contextlib.suppress(Exception):
                on_result(result)
        return result

    results = list(await asyncio.gather(*(one(job) for job in jobs)))
    if any(r.status is BackupStatus.CHANGED for r in results):
        mirror_in_background(db, tenant_id)
    return results


def mirror_changes(db: Database, tenant_id: int) -> None:
    """Bring the tenant's git mirror up to date; never fails a backup (errors are
    recorded in the mirror state and retried on the next run)."""
    try:
        report = mirror.sync_tenant(db, tenant_id)
    except Exception:
        log.exception("git mirror update failed for tenant %s", tenant_id)
        return
    if not report.ok:
        log.warning("git mirror of tenant %s is behind: %s", tenant_id, report)


_mirror_lock = threading.Lock()
#: One mirror thread per (database, tenant) at a time, and whether it must run again.
_mirror_threads: dict[tuple[int, int], threading.Thread] = {}
_mirror_again: set[tuple[int, int]] = set()


def mirror_in_background(db: Database, tenant_id: int) -> None:
    """Mirror the tenant's new versions in a background thread, after the backups'
    results are recorded, so the mirror never holds up a backup.

    The versions are in the database already; the mirror catches up from there
    (requests during a run make it run once more). The thread is not a daemon: a
    process that ends waits for it. :func:`wait_for_mirror` waits explicitly.
    """
    key = (id(db), tenant_id)

    def run() -> None:
        while True:
            with _mirror_lock:
                if key not in _mirror_again:
                    del _mirror_threads[key]
                    return
                _mirror_again.discard(key)
            mirror_changes(db, tenant_id)

    with _mirror_lock:
        _mirror_again.add(key)
        if key in _mirror_threads:
            return
        thread = threading.Thread(target=run, name=f"tikguard-mirror-{tenant_id}")
        _mirror_threads[key] = thread
        thread.start()


def wait_for_mirror(timeout: float | None = None) -> bool:
    """Wait until no background mirror run is left; False if ``timeout`` passed first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with _mirror_lock:
            running = list(_mirror_threads.values())
        if not running:
            return True
        for thread in running:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
            if thread.is_alive():
                return False


async def backup(
    db: Database,
    settings: Settings,
    tenant_id: int,
    *,
    names: Iterable[str] | None = None,
    tag: str | None = None,
    device_ids: Iterable[int] | None = None,
    trigger: str = Trigger.MANUAL.value,
    operation_id: str | None = None,
    binary: bool = False,
    on_result: Callable[[BackupResult], None] | None = None,
) -> list[BackupResult]:
    """Back up the named/tagged devices (all when no filter): the one entry point."""
    jobs = await asyncio.to_thread(
        load_jobs, db, tenant_id, names=names, tag=tag, device_ids=device_ids
    )
    return await run_backups(
        db,
        settings,
        tenant_id,
        jobs,
        trigger=trigger,
        operation_id=operation_id,
        binary=binary,
        on_result=on_result,
    )
