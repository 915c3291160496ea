"""Backups: read routers' configurations and keep every change, fleet-wide.

Why it is shaped like this: a fleet has slow, dead and misconfigured routers, and
none of them may hold up or hide the others. Each device runs under its own timeout
inside a bounded pool (``Settings.backup_concurrency``); each ends as exactly one
:class:`BackupResult` -- ``changed`` (a new version), ``unchanged`` (same config: only
the check time moves) or ``failed`` with a reason and what to do next. Results are
written in batches through the one write path for what a router said
(:func:`tikguard.ops.readings.record_many`, a few statements per batch); if a batch
fails, it is written again one savepoint per device, so one bad row never loses the
rest. Once the run ends, :func:`tikguard.ops.readings.announce` starts the git mirror
and tells the listeners of stored versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from tikguard.device.errors import DeviceError, DeviceTimeout
from tikguard.device.session import Target
from tikguard.logs import get_logger
from tikguard.ops import leftovers, readings
from tikguard.ops.backup.snapshot import Snapshot, take_snapshot
from tikguard.ops.readings import BackupStatus
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store.db import Database
from tikguard.store.errors import NotFound
from tikguard.store.models import Trigger

log = get_logger(__name__)

#: Results written per database transaction.
WRITE_BATCH = 200
#: How long (seconds) the writer waits for a batch to fill while routers are still being
#: read: a few large transactions cost far less than one per finished router.
WRITE_LINGER = 0.2


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
    leftovers: tuple[leftovers.Leftover, ...] = ()
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
class Origin:
    """Who asked for a backup (``cli:user@host``, an API principal, ``schedule:<name>``)
    and the operation of each device when it has one (backups started through the API
    or the UI): every new version keeps them, so the git mirror's commits say who."""

    requested_by: str
    operations: Mapping[int, str] = field(default_factory=dict)


#: A backup no person asked for (benchmarks, tests): every production caller says who.
SYSTEM = Origin("system")


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
    site: str | None = None,
) -> list[BackupJob]:
    """The devices to back up (all of the tenant's when no filter is given).

    Unknown names raise :class:`NotFound` naming them, before anything starts.
    """
    wanted = list(names) if names is not None else None
    with db.session() as session:
        query_names = wanted if wanted else None
        wanted_ids = set(device_ids) if device_ids is not None else None
        devices = store_devices.list_access(
            session, tenant_id, tag=tag, names=query_names, ids=wanted_ids, site=site
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


def _reading(job: BackupJob, outcome: ReadOutcome) -> readings.Reading | readings.Unread:
    if isinstance(outcome, DeviceError):
        return readings.Unread(job.device_id, outcome)
    return readings.Reading(
        job.device_id,
        outcome.redacted,
        outcome.secrets,
        outcome.ros_version,
        outcome.model,
        outcome.host_key,
        binary=outcome.binary,
        tikguard=outcome.tikguard,
    )


def _result(
    job: BackupJob, outcome: ReadOutcome, seconds: float, rec: readings.Recorded
) -> BackupResult:
    """The backup's answer for one recorded reading."""
    if rec.gone:
        gone = NotFound(f"device {job.target.name!r} was removed during the backup")
        return _ResultWriter.store_failed(job, gone, seconds)
    assert rec.name is not None
    if rec.error is not None:
        return _failed_result(rec.name, job.device_id, rec.error, seconds)
    removed = outcome.tikguard.removed if isinstance(outcome, Snapshot) and outcome.tikguard else ()
    return BackupResult(
        rec.name,
        job.device_id,
        rec.status,
        version=rec.version,
        version_id=rec.version_id,
        seconds=seconds,
        leftovers=rec.leftovers,
        removed=tuple(removed),
    )


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
        origin: Origin,
        expected: int,
    ) -> None:
        self._db = db
        self._tenant_id = tenant_id
        self._trigger = trigger
        self._origin = origin
        self._pending: list[tuple[BackupJob, ReadOutcome, float, asyncio.Future[BackupResult]]] = []
        self._task: asyncio.Task[None] | None = None
        #: Outcomes not yet taken into a batch (read or still being read).
        self._unwritten = expected
        #: What the committed batches recorded (announced once the run ends).
        self.recorded: list[readings.Recorded] = []
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
                results = [self.store_failed(job, exc, secs) for job, _, secs, _ in batch]
            for (_, _, _, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    def _write(self, batch: Sequence[_Pending]) -> list[BackupResult]:
        """One transaction for the batch (all at once; if anything fails, again one
        savepoint per device, so one bad row never loses the rest)."""
        items = [_reading(job, outcome) for job, outcome, _, _ in batch]
        kept: list[readings.Recorded] = []
        results: list[BackupResult] = []
        with self._db.transaction() as session:
            try:
                with session.begin_nested():
                    recorded = self._record(session, items)
                kept = recorded
            except Exception:
                log.exception("bulk recording of %d backup results failed", len(batch))
                recorded = []
            retry: list[readings.Recorded | None] = [None] * len(batch)
            for (job, outcome, seconds, _), item, rec in zip(
                batch, items, recorded or retry, strict=True
            ):
                if rec is None:
                    try:
                        with session.begin_nested():
                            (rec,) = self._record(session, [item])
                        kept.append(rec)
                    except Exception as exc:
                        log.exception("storing the backup of %s failed", job.target.name)
                        results.append(self.store_failed(job, exc, seconds))
                        continue
                results.append(_result(job, outcome, seconds, rec))
        self.recorded.extend(kept)  # committed: heard by readings.announce after the run
        return results

    def _record(
        self, session: Session, items: Sequence[readings.Reading | readings.Unread]
    ) -> list[readings.Recorded]:
        origin = self._origin
        return readings.record_many(
            session,
            self._tenant_id,
            items,
            trigger=self._trigger,
            requested_by=origin.requested_by,
            operation_ids=origin.operations,
        )

    @staticmethod
    def store_failed(job: BackupJob, exc: BaseException, seconds: float) -> BackupResult:
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
    origin: Origin = SYSTEM,
    binary: bool = False,
    on_result: Callable[[BackupResult], None] | None = None,
) -> list[BackupResult]:
    """Back up ``jobs`` with bounded concurrency; results in the order of ``jobs``."""
    trigger = check_trigger(trigger)
    semaphore = asyncio.Semaphore(max(1, settings.backup_concurrency))
    writer = _ResultWriter(db, tenant_id, trigger, origin, len(jobs))

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
    readings.announce(db, tenant_id, writer.recorded)
    return results


async def backup(
    db: Database,
    settings: Settings,
    tenant_id: int,
    *,
    names: Iterable[str] | None = None,
    tag: str | None = None,
    device_ids: Iterable[int] | None = None,
    trigger: str = Trigger.MANUAL.value,
    origin: Origin = SYSTEM,
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
        origin=origin,
        binary=binary,
        on_result=on_result,
    )
