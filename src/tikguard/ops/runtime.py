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
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, DBOSConfig, EnqueueOptions, WorkflowStatus

from tikguard import __version__
from tikguard.ops import cluster
from tikguard.process import STATE
from tikguard.settings import Settings
from tikguard.store import sqlite_files
from tikguard.store import workers as store_workers

#: DBOS application name (3+ lowercase characters).
APP_NAME = "tikguard"
#: Queue of guarded pushes: partitioned by device id, so one router is in one push at a time.
PUSH_QUEUE = "tikguard-push"
#: Bumped whenever a workflow's step sequence changes incompatibly: workflows recorded by
#: another revision are not resumed by this one (DBOS keys recovery on the version).
#: 4: push step results typed and recorded as JSON of their dataclasses (ops/push/results).
#: 5: a push's events are written by the workflow, keyed by their place in its sequence of
#: events, not in a recorded step each (ops/push/events).
WORKFLOW_REVISION = "5"
#: Modules that define workflows; imported before launch so recovery can find them.
WORKFLOW_MODULES = (
    "tikguard.ops.push.workflow",
    "tikguard.ops.backup.service",
    "tikguard.ops.backup.schedule",
    "tikguard.ops.backup.workflow",
    "tikguard.ops.push.lifecycle",  # refuses workflows of other revisions clearly
    "tikguard.ops.rollout.workflow",
    "tikguard.ops.inventory.schedule",
    "tikguard.ops.notify.workflow",
)

LaunchHook = Callable[["Engine"], Awaitable[None]]


class EngineBusy(RuntimeError):
    """Another process is already the worker for this data directory and executor id."""


def application_version() -> str:
    """The DBOS application version: tikguard's version plus the workflow revision."""
    return f"{__version__}+wf{WORKFLOW_REVISION}"


def on_launch(hook: LaunchHook) -> LaunchHook:
    """Run ``hook(engine)`` after every launch (to register queues or schedules).

    Usable as a decorator at import time of a workflow module.
    """
    hooks = _state().launch_hooks
    if hook not in hooks:
        hooks.append(hook)
    return hook


#: The fastest a queue whose work can wait a moment (a rollout's start, a notification)
#: or the schedule list is polled, whatever ``engine_polling_interval`` says.
BACKGROUND_POLL = 0.5


def background_polling(settings: Settings) -> float:
    """Seconds between polls of a queue that only starts work that can wait a moment.

    Each poll of a DBOS queue is several queries (the queue's row, its pending work, the
    latest application version): about 4 ms of controller CPU here, so at a 0.1 s
    interval an idle queue costs 4% of a core. The push queue keeps
    ``engine_polling_interval``; these never poll faster than :data:`BACKGROUND_POLL`.
    """
    return max(settings.engine_polling_interval, BACKGROUND_POLL)


def in_background(workflow_name: str) -> None:
    """Mark a workflow nobody waits for (notification deliveries, which may sleep for an
    hour between tries): a CLI that ran the engine exits without them; they stay pending
    and resume at the next launch on this executor."""
    _state().background.add(workflow_name)


def sqlite_system_engine(url: str) -> sa.Engine:
    """The engine for a SQLite system database: WAL, ``synchronous=NORMAL``.

    DBOS leaves SQLite in its rollback journal with full sync, where every step's
    commit costs two fsyncs (19 ms here; WAL + NORMAL: 0.01 ms). With 100 pushes of
    ~25 steps each that serialised a fleet push for tens of seconds. NORMAL in WAL
    mode loses nothing when the controller process dies (the crash matrix kills it);
    an operating-system crash may lose the last few step records, and every push step
    is safe to run again (the apply and commit markers live in the app database,
    which keeps full sync). The connect settings are DBOS's own (immediate
    transactions, a 30 s busy timeout, foreign keys).
    """
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        dbapi_conn.execute("PRAGMA busy_timeout=30000")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=NORMAL")

    return engine


def dbos_config(settings: Settings) -> DBOSConfig:
    """The DBOS configuration for ``settings``: no Conductor, explicit version."""
    url = settings.dbos_database_url()
    sqlite_files.prepare(url)  # owner-only, like the app database; checked at each start
    poll = settings.engine_polling_interval
    config = DBOSConfig(
        name=APP_NAME,
        system_database_url=url,
        application_version=application_version(),
        executor_id=store_workers.executor_id(settings),
        log_level="WARNING",
        notification_listener_polling_interval_sec=poll,
        scheduler_polling_interval_sec=background_polling(settings),
    )
    if url.startswith("sqlite"):
        config["system_database_engine"] = sqlite_system_engine(url)
    if "conductor_key" in config:  # pragma: no cover - defensive, never set above
        raise RuntimeError("tikguard never gives DBOS a Conductor key")
    return config


@dataclass
class Engine:
    """A launched engine: its settings and the lock that makes this process the worker."""

    settings: Settings
    _lock: IO[str] | None = field(default=None, repr=False)
    #: This process's membership of the cluster (heartbeat, takeover of dead workers).
    member: cluster.Member | None = field(default=None, repr=False)
    #: The SQLite system database engine we made for DBOS (disposed at shutdown).
    system_engine: sa.Engine | None = field(default=None, repr=False)

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
            if all(wf.name in _state().background for wf in busy):
                return
            await asyncio.sleep(max(self.settings.engine_polling_interval, 0.05))


@dataclass
class EngineState:
    """What this process holds of the engine (in :data:`tikguard.process.STATE`)."""

    #: The launched engine (None: not running in this process).
    current: Engine | None = None
    #: A worker lock :func:`reserve` took for a later :func:`launch`: (path, handle).
    reserved: tuple[Path, IO[str]] | None = None
    #: What runs after every launch (:func:`on_launch`).
    launch_hooks: list[LaunchHook] = field(default_factory=list)
    #: Workflows nobody waits for (:func:`in_background`), by name.
    background: set[str] = field(default_factory=set)


def _state() -> EngineState:
    return STATE.of(EngineState)


def current() -> Engine:
    """The launched engine of this process (raises when none is running)."""
    engine = _state().current
    if engine is None:
        raise RuntimeError("the tikguard engine is not running in this process")
    return engine


def _import_workflow_modules() -> None:
    for name in WORKFLOW_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            # that part of tikguard is not built yet


def _lock_path(settings: Settings, executor_id: str) -> Path:
    return Path(settings.data_dir) / f"engine-{executor_id}.lock"


def _lock_file(path: Path, role: str = "") -> IO[str]:
    """Hold ``path``'s exclusive flock (writing our pid and role into it) or raise
    EngineBusy."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        executor = path.stem.removeprefix("engine-")
        raise EngineBusy(
            f"another tikguard process is already the worker for executor "
            f"{executor!r} in {path.parent}"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()} {role}".rstrip() + "\n")
    handle.flush()
    return handle


def _take_lock(settings: Settings) -> IO[str]:
    state = _state()
    path = _lock_path(settings, store_workers.executor_id(settings))
    if state.reserved is not None and state.reserved[0] == path:
        handle, state.reserved = state.reserved[1], None
        return handle
    return _lock_file(path)


#: Written into the worker lock by a server: a second server fails at once, a server
#: only waits for a CLI command.
SERVER_ROLE = "serve"


def reserve(settings: Settings, on_wait: Callable[[int | None], None]) -> None:
    """Take this executor's worker lock now, for a :func:`launch` later in this process.

    A long-running server must not lose its start to a CLI command that became the
    worker while no server ran (``tikguard push`` with the server down): it waits until
    that command's pushes end, calling ``on_wait(pid)`` once, instead of failing. The
    lock is then held until the engine launches, so no other command takes it between.
    """
    state = _state()
    path = _lock_path(settings, store_workers.executor_id(settings))
    if state.reserved is not None and state.reserved[0] == path:
        return
    waited = False
    while True:
        try:
            handle = _lock_file(path, role=SERVER_ROLE)
        except EngineBusy:
            pid, role = _holder(path)
            if role == SERVER_ROLE:
                raise EngineBusy(
                    f"a tikguard server (pid {pid}) already runs on {path.parent}: "
                    "one server per data directory (stop it first)"
                ) from None
            if not waited:
                on_wait(pid)
                waited = True
            time.sleep(0.2)
            continue
        state.reserved = (path, handle)
        return


def release_reservation() -> None:
    """Give back a :func:`reserve`'d lock that no launch took (a start that failed)."""
    state = _state()
    if state.reserved is not None:
        state.reserved[1].close()
        state.reserved = None


def _holder(path: Path) -> tuple[int | None, str]:
    """The pid and role the lock's holder wrote into it, as far as readable."""
    try:
        pid, _, role = path.read_text(encoding="ascii").strip().partition(" ")
    except (OSError, UnicodeDecodeError):
        return None, ""
    return (int(pid) if pid.isdigit() else None), role


@contextlib.contextmanager
def no_worker(settings: Settings) -> Iterator[None]:
    """Hold every worker lock of the data directory: no engine runs here, and none starts
    until the block ends. Raises :class:`EngineBusy` when one is running.

    For work a running server would undo or be broken by (a master-key rotation: the
    server keeps the old key in memory). It sees workers on this machine's data
    directory only, which is every worker of the embedded default.
    """
    paths = {_lock_path(settings, store_workers.executor_id(settings))}
    paths |= set(Path(settings.data_dir).glob("engine-*.lock"))
    held: list[IO[str]] = []
    try:
        for path in sorted(paths):
            held.append(_lock_file(path))
        yield
    finally:
        for handle in held:
            handle.close()


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
        worker_concurrency=settings.push_slots(),
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
    state = _state()
    if state.current is not None:
        if state.current.settings != settings:
            raise RuntimeError("the engine is already running with other settings")
        return state.current
    asyncio.get_running_loop()  # launch only from inside the loop workflows will use
    _import_workflow_modules()
    lock = _take_lock(settings)
    member: cluster.Member | None = None
    try:
        # join first: a live worker holding this executor id, or a missing master key
        # on PostgreSQL, stops the start before DBOS's recovery touches any workflow
        member = await cluster.join(settings, application_version())
        async with cluster.first_start(settings):
            config = dbos_config(settings)
            DBOS(config=config)
            DBOS.launch()
            engine = Engine(
                settings=settings,
                _lock=lock,
                member=member,
                system_engine=config.get("system_database_engine"),
            )
            state.current = engine
            await register_push_queue(settings)
            for hook in list(state.launch_hooks):
                await hook(engine)
        member.engine_ready = True
    except BaseException:
        state.current = None
        DBOS.destroy(destroy_registry=False)
        if member is not None:
            await member.halt()
            asyncio.get_running_loop().set_default_executor(concurrent.futures.ThreadPoolExecutor())
            await member.stop()
        lock.close()
        raise
    return engine


async def shutdown() -> None:
    """Stop DBOS (workflows still running stay pending and resume on the next launch)."""
    state = _state()
    engine, state.current = state.current, None
    loop = asyncio.get_running_loop()
    if engine is not None and engine.member is not None:
        await engine.member.halt()
    await asyncio.to_thread(DBOS.destroy, destroy_registry=False)
    if engine is not None and engine.system_engine is not None:
        engine.system_engine.dispose()
    # DBOS made its (now shut down) thread pool this loop's default executor; give the
    # loop a fresh one so the caller's later asyncio.to_thread calls keep working
    loop.set_default_executor(concurrent.futures.ThreadPoolExecutor())
    if engine is not None and engine.member is not None:
        await engine.member.stop()
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
    url = settings.dbos_database_url()
    await asyncio.to_thread(sqlite_files.prepare, url)
    client = await asyncio.to_thread(DBOSClient, system_database_url=url)
    try:
        yield client
    finally:
        await asyncio.to_thread(client.destroy)


async def enqueue(settings: Settings, options: EnqueueOptions, *args: Any) -> None:
    """Queue a workflow: through this process's DBOS when it runs the engine, otherwise
    through a client of the system database (a running worker picks it up)."""
    try:
        current()
    except RuntimeError:
        async with submitter(settings) as client:
            await client.enqueue_async(options, *args)
        return
    await DBOS.enqueue_workflow_with_options_async(options, *args)


async def send(settings: Settings, workflow_id: str, message: Any, topic: str) -> None:
    """Send a workflow a message (a confirm, a rollout's continue), in process or not."""
    try:
        current()
    except RuntimeError:
        async with submitter(settings) as client:
            await client.send_async(workflow_id, message, topic)
        return
    await DBOS.send_async(workflow_id, message, topic)


async def workflow_status(settings: Settings, workflow_id: str) -> WorkflowStatus | None:
    """A workflow's status with its recorded input (not its output), in process or not;
    None when there is no such workflow."""
    try:
        current()
    except RuntimeError:
        async with submitter(settings) as client:
            rows = await client.list_workflows_async(workflow_ids=[workflow_id], load_output=False)
    else:
        rows = await DBOS.list_workflows_async(workflow_ids=[workflow_id], load_output=False)
    return rows[0] if rows else None


async def step_output(settings: Settings, workflow_id: str, step: str) -> object | None:
    """The recorded output of a workflow's step named ``step`` (its first run), in
    process or not; None when it has not been recorded."""
    try:
        current()
    except RuntimeError:
        async with submitter(settings) as client:
            steps = await client.list_workflow_steps_async(workflow_id)
    else:
        steps = await DBOS.list_workflow_steps_async(workflow_id)
    for info in steps:
        if info["function_name"] == step:
            output: object = info["output"]
            return output
    return None
