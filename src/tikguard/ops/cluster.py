"""Several ``tikguard serve`` workers on one PostgreSQL: who they are, who is alive,
and who finishes a dead worker's pushes.

A worker joins before its engine launches (DBOS's start-up recovery would otherwise
re-queue the pushes of a live worker that holds the same executor id), then keeps a
heartbeat row fresh. Every worker watches the others; when a heartbeat is older than
``worker_lease``, the one survivor that wins a PostgreSQL advisory lock hands the dead
worker's pending workflows back to the queues through DBOS's recovery for that executor
id, and writes a ``takeover`` event on every affected operation. The push itself keeps
its rule after a takeover: its steps check ``deadline - margin`` at the moment they act.
If the "dead" worker was only paused, DBOS's ownership check stops its steps from
recording anything once another worker has claimed the workflow, and the apply and
commit markers in the operation row keep both from acting twice.

On the embedded default (SQLite, one worker held by a lock file) the worker still
registers, so ``tikguard workers`` shows it, but there is nobody to take over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from dbos import DBOS
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from tikguard import __version__
from tikguard.settings import Settings
from tikguard.store import mirror, scope
from tikguard.store import operations as store_ops
from tikguard.store import workers as store_workers
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import VaultError
from tikguard.store.models import Operation, Worker
from tikguard.store.vault import Vault, load_master_key

log = logging.getLogger("tikguard.cluster")

#: PostgreSQL advisory lock keys ("tgwt", "tgws"): one takeover at a time; one worker
#: at a time through first-start work (first admin, tenant, schedules, queues).
_TAKEOVER_LOCK = 0x74677774
_FIRST_START_LOCK = 0x74677773
#: The push workflow's name (pushes in flight are counted by it).
PUSH_WORKFLOW = "tikguard.push.push_workflow"


class ClusterError(RuntimeError):
    """This process cannot be a worker of the cluster; the message says what to set."""


def lease(settings: Settings) -> timedelta:
    """The heartbeat lease in wall-clock time."""
    return timedelta(seconds=settings.seconds(settings.worker_lease))


def check_master_key(settings: Settings, db: Database) -> None:
    """On PostgreSQL a worker never makes a master key of its own: it must be given one,
    and it must open the data keys already in the database."""
    if not store_workers.shared(settings):
        return
    if not settings.master_key and not settings.master_key_file:
        raise ClusterError(
            "on PostgreSQL every worker needs the cluster's master key and never makes "
            "one of its own: set TIKGUARD_MASTER_KEY (base64) or TIKGUARD_MASTER_KEY_FILE "
            "to the same key on every worker (make one with "
            "`head -c 32 /dev/urandom | base64`; see docs/scale-out.md)"
        )
    try:
        key = load_master_key(settings, create=False)
        vault = Vault(key)
        with scope.scoped(None), db.session() as session:
            vault.check(session)
    except VaultError as exc:
        raise ClusterError(
            f"{exc}: give this worker the same master key as the others "
            "(TIKGUARD_MASTER_KEY or TIKGUARD_MASTER_KEY_FILE)"
        ) from None
    db.set_vault(vault)


def preflight(settings: Settings, db: Database) -> None:
    """What ``tikguard serve`` checks before it listens: the master key (PostgreSQL)
    and that no live worker holds this executor id. Raises :class:`ClusterError`."""
    check_master_key(settings, db)
    worker_id = store_workers.executor_id(settings)
    try:
        with scope.scoped(None), db.session() as session:
            store_workers.check_free(session, worker_id, lease(settings))
    except store_workers.WorkerIdTaken as exc:
        raise ClusterError(str(exc)) from None


@contextlib.contextmanager
def first_start_lock(settings: Settings) -> Iterator[None]:
    """Hold the cluster's first-start lock (PostgreSQL; a no-op on SQLite), so workers
    started at the same moment on an empty database do the one-time work one by one."""
    if not store_workers.shared(settings):
        yield
        return
    # Polled, never waited for inside a statement: DBOS creates its indexes
    # CONCURRENTLY while holding this lock, and that waits for every open snapshot,
    # including a worker's blocked pg_advisory_lock call (a deadlock).
    engine = sa.create_engine(
        settings.app_database_url(), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as conn:
            while not conn.scalar(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": _FIRST_START_LOCK}
            ):
                time.sleep(0.2)
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _FIRST_START_LOCK})
    finally:
        engine.dispose()


@contextlib.asynccontextmanager
async def first_start(settings: Settings) -> AsyncIterator[None]:
    """:func:`first_start_lock` from async code (waiting for it never blocks the loop)."""
    held = first_start_lock(settings)
    await asyncio.to_thread(held.__enter__)
    try:
        yield
    finally:
        await asyncio.to_thread(held.__exit__, None, None, None)


@dataclass
class Member:
    """This process as a worker of the cluster: its row, heartbeat and watch."""

    settings: Settings
    db: Database
    me: store_workers.Me
    #: The DBOS application version: only workflows of this version are taken over.
    app_version: str
    #: Set once the engine runs: only then can this worker take over others' work.
    engine_ready: bool = False
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, repr=False)
    _beater: threading.Thread | None = field(default=None, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    _pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, "tikguard-takeover"), repr=False
    )

    @property
    def id(self) -> str:
        return self.me.id

    def start(self) -> None:
        # The heartbeat has a thread of its own: busy pushes (the event loop, the shared
        # thread pool) never delay it past the lease, while a paused or killed process
        # stops beating at once.
        self._stopping.clear()
        self._beater = threading.Thread(
            target=self._heartbeat, name=f"tikguard-heartbeat-{self.id}", daemon=True
        )
        self._beater.start()
        if store_workers.shared(self.settings):
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._watch(), name="tikguard-takeover")]

    async def halt(self) -> None:
        """Stop the heartbeat and the watch (before the engine goes down)."""
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._beater is not None:
            await asyncio.to_thread(self._beater.join)
            self._beater = None
        self._pool.shutdown(wait=False)

    async def stop(self) -> None:
        """Stop beating; once the engine is down, the row says "stopped" (so the
        survivors take over what this worker leaves pending at once)."""
        await self.halt()
        try:
            await asyncio.to_thread(self.db.run, lambda s: store_workers.leave(s, self.me))
        finally:
            self.db.dispose()

    def _interval(self) -> float:
        every = lease(self.settings).total_seconds() / 4
        if not store_workers.shared(self.settings):
            # one worker, nobody to take over: a beat only keeps `tikguard workers` true,
            # and must not contend for SQLite's write lock with pushes
            return max(every, 1.0)
        return max(every, 0.05)

    def _heartbeat(self) -> None:
        while not self._stopping.wait(self._interval()):
            try:
                ours = self.db.run(lambda s: store_workers.beat(s, self.me))
            except Exception as exc:  # the database is away: try again next beat
                log.warning("heartbeat of worker %s failed: %s", self.id, exc)
                continue
            if not ours:
                log.error(
                    "worker %s: another process started with this executor id after this "
                    "one stopped heartbeating; stopping so that one id has one worker",
                    self.id,
                )
                os.kill(os.getpid(), signal.SIGTERM)
                return

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        beats = 0
        while True:
            await asyncio.sleep(self._interval())
            if not self.engine_ready:
                continue
            beats += 1
            try:
                # its own thread: the shared pool may be busy with pushes
                taken = await loop.run_in_executor(self._pool, self.take_over_dead)
                if taken:
                    log.warning("worker %s took over %d workflow(s)", self.id, taken)
                if beats % 4 == 0:
                    await loop.run_in_executor(self._pool, self._mirror)
            except Exception as exc:
                log.warning("worker %s: takeover check failed: %s", self.id, exc)

    def _mirror(self) -> None:
        """The cluster's mirror writer picks up versions other workers stored."""
        if self.settings.git_mirror.strip().lower() != "auto":
            return
        if mirror.cluster_writer(self.db) is None:
            mirror.sync_all(self.db)

    def take_over_dead(self) -> int:
        """If elected, recover the pending workflows of every dead worker; how many."""
        with self.db.engine.connect() as conn:
            if not conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _TAKEOVER_LOCK}):
                return 0
            conn.commit()
            try:
                return sum(self._take_over(w) for w in self._dead_workers())
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _TAKEOVER_LOCK})
                conn.commit()

    def _dead_workers(self) -> list[tuple[Worker, float]]:
        span = lease(self.settings)
        with self.db.session() as session:
            now = store_workers.db_now(session)
            return [
                (w, (now - w.heartbeat_at).total_seconds())
                for w in store_workers.list_workers(session)
                if w.id != self.id and not store_workers.alive(w, now, span)
            ]

    def _take_over(self, dead: tuple[Worker, float]) -> int:
        worker, age = dead
        pending = DBOS.list_workflows(
            status="PENDING",
            executor_id=worker.id,
            app_version=self.app_version,
            load_input=False,
            load_output=False,
        )
        if not pending:
            return 0
        DBOS._recover_pending_workflows([worker.id])
        why = "stopped cleanly" if worker.stopped_at else "stopped heartbeating"
        message = (
            f"resumed by worker {self.id} after worker {worker.id} {why} "
            f"(last heartbeat {age:.1f} s ago, lease {lease(self.settings).total_seconds():g} s)"
        )
        ids = [w.workflow_id for w in pending]

        def record(session: Session) -> None:
            now = store_workers.db_now(session)
            ops = session.scalars(select(Operation).where(Operation.id.in_(ids))).all()
            for op in ops:
                if op.outcome is not None:
                    continue
                store_ops.append_event(
                    session,
                    op.tenant_id,
                    op.id,
                    stage="takeover",
                    level="warning",
                    message=message,
                    data={"by": self.id, "from": worker.id, "heartbeat_age": round(age, 3)},
                )
                audit(
                    session,
                    op.tenant_id,
                    actor=f"worker {self.id}",
                    action="operation.takeover",
                    target=op.id,
                    details={"from": worker.id, "heartbeat_age": round(age, 3)},
                )
            store_workers.mark_taken_over(session, worker.id, self.id, now)

        with scope.scoped(None):
            self.db.run(record)
        return len(ids)


async def join(settings: Settings, app_version: str) -> Member:
    """Register this process as a worker (before its engine launches).

    Raises :class:`ClusterError` when a live worker holds the same executor id or, on
    PostgreSQL, when the master key is missing or is not the cluster's.
    """
    worker_id = store_workers.executor_id(settings)
    db = await asyncio.to_thread(Database.open, settings)
    try:
        await asyncio.to_thread(check_master_key, settings, db)
        me = store_workers.Me.here(worker_id, settings.data_dir, __version__)
        await asyncio.to_thread(db.run, lambda s: store_workers.join(s, me, lease(settings)))
    except store_workers.WorkerIdTaken as exc:
        db.dispose()
        raise ClusterError(str(exc)) from None
    except BaseException:
        db.dispose()
        raise
    member = Member(settings, db, me, app_version)
    member.start()
    return member
