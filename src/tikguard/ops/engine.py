"""The durable-workflow engine: one DBOS per process, configured from :class:`Settings`.

Pushes and scheduled backups are DBOS workflows. DBOS is a process-wide singleton, so
this module owns its whole life cycle: :func:`launch` configures it (SQLite system
database in the data directory by default, PostgreSQL by URL; an explicit
``application_version`` so a restarted controller resumes the workflows a killed one
left; never a Conductor key, so it opens no port and connects nowhere), registers the
queues, and :func:`shutdown` tears it down so a test can launch a fresh one.

Workflows must be registered (their modules imported) *before* launch, or DBOS cannot
resume them after a crash; :data:`WORKFLOW_MODULES` lists those modules.

Only one process may act as the worker of one executor id at a time: two would both
"recover" the same pending workflow and drive one router twice. :func:`launch` takes an
exclusive lock file in the data directory for its executor id and raises
:class:`EngineBusy` when another process holds it (the CLI then hands its work to that
process through the queue instead; see :func:`submitter`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import importlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from dbos import DBOS, DBOSClient, DBOSConfig
from sqlalchemy.engine import make_url

from tikguard import __version__
from tikguard.settings import Settings

#: DBOS application name (3+ lowercase characters).
APP_NAME = "tikguard"
#: Queue of guarded pushes: partitioned by device id, so one router is in one push at a time.
PUSH_QUEUE = "tikguard-push"
#: Bumped whenever a workflow's step sequence changes incompatibly: workflows recorded by
#: another revision are not resumed by this one (DBOS keys recovery on the version).
WORKFLOW_REVISION = "1"
#: Modules that define workflows; imported before launch so recovery can find them.
WORKFLOW_MODULES = (
    "tikguard.ops.push_workflow",
    "tikguard.ops.backup",
    "tikguard.ops.backup_schedule",
    "tikguard.ops.backup_ops",
)

LaunchHook = Callable[["Engine"], Awaitable[None]]
_launch_hooks: list[LaunchHook] = []


class EngineBusy(RuntimeError):
    """Another process is already the worker for this data directory and executor id."""


def application_version() -> str:
    """The DBOS application version: tikguard's version plus the workflow revision."""
    return f"{__version__}+wf{WORKFLOW_REVISION}"


def on_launch(hook: LaunchHook) -> LaunchHook:
    """Run ``hook(engine)`` after every launch (to register queues or schedules).

    Usable as a decorator at import time of a workflow module.
    """
    if hook not in _launch_hooks:
        _launch_hooks.append(hook)
    return hook


def _wal(url: str) -> None:
    """Put a SQLite system database in WAL mode (it stays so: the mode is kept in the file).

    DBOS leaves SQLite in its default rollback journal, where every step's commit costs
    two fsyncs (19 ms here against 3.6 ms in WAL); with 100 pushes of ~25 steps each
    that alone serialised a fleet push for tens of seconds.
    """
    path = make_url(url).database
    if not path or path == ":memory:":
        return
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        conn.close()


def dbos_config(settings: Settings) -> DBOSConfig:
    """The DBOS configuration for ``settings``: no Conductor, explicit version."""
    url = settings.dbos_database_url()
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _wal(url)
    poll = settings.engine_polling_interval
    config = DBOSConfig(
        name=APP_NAME,
        system_database_url=url,
        application_version=application_version(),
        executor_id=settings.executor_id,
        log_level="WARNING",
        notification_listener_polling_interval_sec=poll,
        scheduler_polling_interval_sec=max(poll, 0.1),
    )
    if "conductor_key" in config:  # pragma: no cover - defensive, never set above
        raise RuntimeError("tikguard never gives DBOS a Conductor key")
    return config


@dataclass
class Engine:
    """A launched engine: its settings and the lock that makes this process the worker."""

    settings: Settings
    _lock: IO[str] | None = field(default=None, repr=False)

    async def wait_idle(self) -> None:
        """Wait until no workflow of this executor is pending or enqueued.

        The CLI, when it is the worker, calls this before exiting, so a push it
        started (or resumed from an earlier crash) is not abandoned half way.
        """

        while True:
            busy = await DBOS.list_workflows_async(
                status=["PENDING", "ENQUEUED"],
                app_version=application_version(),
                load_input=False,
                load_output=False,
            )
            if not busy:
                return
            await asyncio.sleep(max(self.settings.engine_polling_interval, 0.05))


_current: Engine | None = None


def current() -> Engine:
    """The launched engine of this process (raises when none is running)."""
    if _current is None:
        raise RuntimeError("the tikguard engine is not running in this process")
    return _current


def _import_workflow_modules() -> None:
    for name in WORKFLOW_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            # that part of tikguard is not built yet


def _take_lock(settings: Settings) -> IO[str]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = Path(settings.data_dir) / f"engine-{settings.executor_id}.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise EngineBusy(
            f"another tikguard process is already the worker for executor "
            f"{settings.executor_id!r} in {settings.data_dir}"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


async def register_push_queue(settings: Settings) -> None:
    """Declare the push queue: one push per device, ``push_concurrency`` per worker.

    The limit is per worker (``worker_concurrency``), not queue-wide: DBOS 3.4 claims
    work from a partitioned queue in one batch only when the queue has no global limit;
    with one, it claims partition by partition, and on SQLite under load 100 pushes
    took 34 s just to start (measured with bench/bench_push.py). With the embedded
    default's single worker the two limits are the same.
    """
    await DBOS.register_queue_async(
        PUSH_QUEUE,
        worker_concurrency=settings.push_concurrency,
        partition_concurrency=1,
        polling_interval_sec=settings.engine_polling_interval,
        on_conflict="always_update",
    )


async def launch(settings: Settings) -> Engine:
    """Launch DBOS in this process (inside the running event loop) and register queues.

    Workflows then run on the caller's event loop. Pending workflows this executor
    left behind (a crash, a kill) resume now. Raises :class:`EngineBusy` when another
    process is this executor's worker.
    """
    global _current
    if _current is not None:
        if _current.settings != settings:
            raise RuntimeError("the engine is already running with other settings")
        return _current
    asyncio.get_running_loop()  # launch only from inside the loop workflows will use
    _import_workflow_modules()
    lock = _take_lock(settings)
    try:
        DBOS(config=dbos_config(settings))
        DBOS.launch()
        engine = Engine(settings=settings, _lock=lock)
        _current = engine
        await register_push_queue(settings)
        for hook in list(_launch_hooks):
            await hook(engine)
    except BaseException:
        _current = None
        DBOS.destroy(destroy_registry=False)
        lock.close()
        raise
    return engine


async def shutdown() -> None:
    """Stop DBOS (workflows still running stay pending and resume on the next launch)."""
    global _current
    engine, _current = _current, None
    loop = asyncio.get_running_loop()
    await asyncio.to_thread(DBOS.destroy, destroy_registry=False)
    # DBOS made its (now shut down) thread pool this loop's default executor; give the
    # loop a fresh one so the caller's later asyncio.to_thread calls keep working
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
    if engine is not None and engine._lock is not None:
        engine._lock.close()


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Engine]:
    """``async with running(settings) as engine:`` launch, then always shut down."""
    engine = await launch(settings)
    try:
        yield engine
    finally:
        await shutdown()


@contextlib.asynccontextmanager
async def submitter(settings: Settings) -> AsyncIterator[DBOSClient]:
    """A DBOS client for a process that is not the worker: enqueue, send, read status."""
    client = await asyncio.to_thread(DBOSClient, system_database_url=settings.dbos_database_url())
    try:
        yield client
    finally:
        await asyncio.to_thread(client.destroy)


def workflow_status_row(status: Any) -> dict[str, Any]:
    """The parts of a DBOS workflow status the CLI shows (id, name, status, times)."""
    return {
        "workflow_id": status.workflow_id,
        "name": status.name,
        "status": status.status,
        "created_at": status.created_at,
        "updated_at": status.updated_at,
    }
