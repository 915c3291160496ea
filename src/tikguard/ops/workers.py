"""What the CLI and API show of the cluster: its workers, who holds an operation, and
the push load a rollout's admission control counts.

Read from the workers table and DBOS's workflow records: the engine of this process
when it runs one, else a short-lived client. Kept apart from :mod:`ops.cluster`
(membership, heartbeats, takeover), which the engine itself uses at launch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from dbos import DBOS, DBOSClient

from tikguard.ops import runtime
from tikguard.ops.cluster import PUSH_WORKFLOW, lease
from tikguard.settings import Settings
from tikguard.store import operations as store_ops
from tikguard.store import scope
from tikguard.store import workers as store_workers
from tikguard.store.db import Database
from tikguard.store.models import Worker


@dataclass(frozen=True)
class WorkerView:
    id: str
    host: str
    pid: int
    version: str
    started_at: Any
    heartbeat_at: Any
    heartbeat_age: float
    alive: bool
    stopped: bool
    pushes_in_flight: int
    taken_over_by: str | None


async def push_load(settings: Settings, db: Database) -> int:
    """Guarded pushes running or queued anywhere, per live worker (rounded up).

    What a rollout's admission control counts besides its own pushes: another rollout,
    manual pushes and their confirm windows load the same workers.
    """

    def live_workers() -> int:
        with scope.scoped(None), db.session() as session:
            now, span = store_workers.db_now(session), lease(settings)
            return sum(
                store_workers.alive(w, now, span) for w in store_workers.list_workers(session)
            )

    async with _lister(settings) as list_workflows:
        found = await list_workflows(
            status=["PENDING", "ENQUEUED"],
            name=PUSH_WORKFLOW,
            load_input=False,
            load_output=False,
        )
    workers = max(1, await asyncio.to_thread(live_workers))
    return -(-len(found) // workers)


@contextlib.asynccontextmanager
async def _lister(settings: Settings) -> AsyncIterator[Callable[..., Any]]:
    """``list_workflows_async`` of the engine in this process, else of a client."""
    try:
        runtime.current()
    except RuntimeError:
        client = await asyncio.to_thread(
            DBOSClient, system_database_url=settings.dbos_database_url()
        )
        try:
            yield client.list_workflows_async
        finally:
            await asyncio.to_thread(client.destroy)
        return
    yield DBOS.list_workflows_async


async def workers(settings: Settings, db: Database, *, tenant_id: int | None) -> list[WorkerView]:
    """Every worker that ever joined: alive or not, and the pushes each holds now.

    The workers are the controller's, shared by every tenant; with ``tenant_id`` (a
    tenant's admin asking) only that tenant's pushes are counted, so the numbers tell
    nothing of another tenant's work (docs/security.md); ``None`` counts every push
    (the controller's operator, on its CLI)."""

    def read() -> tuple[list[Worker], Any]:
        with scope.scoped(None), db.session() as session:
            return store_workers.list_workers(session), store_workers.db_now(session)

    rows, now = await asyncio.to_thread(read)
    if not rows:
        return []
    pending: dict[str, str] = {}  # workflow (= operation) id -> executor
    async with _lister(settings) as list_workflows:
        for wf in await list_workflows(
            status="PENDING", name=PUSH_WORKFLOW, load_input=False, load_output=False
        ):
            pending[wf.workflow_id] = wf.executor_id
    if tenant_id is not None:

        def mine() -> set[str]:
            with db.session() as session:
                return store_ops.owned(session, tenant_id, pending.keys())

        kept = await asyncio.to_thread(mine)
        pending = {k: v for k, v in pending.items() if k in kept}
    held: dict[str, int] = {}
    for executor in pending.values():
        held[executor] = held.get(executor, 0) + 1
    span = lease(settings)
    return [
        WorkerView(
            id=w.id,
            host=w.host,
            pid=w.pid,
            version=w.version,
            started_at=w.started_at,
            heartbeat_at=w.heartbeat_at,
            heartbeat_age=round((now - w.heartbeat_at).total_seconds(), 1),
            alive=store_workers.alive(w, now, span),
            stopped=w.stopped_at is not None,
            pushes_in_flight=held.get(w.id, 0),
            taken_over_by=w.taken_over_by,
        )
        for w in rows
    ]


@dataclass(frozen=True)
class Holder:
    """Who runs an operation's workflow now, as the CLI tells it."""

    op_id: str
    status: str  # the workflow's: ENQUEUED, PENDING, SUCCESS, ... or "none"
    worker: str | None
    alive: bool | None
    heartbeat_age: float | None

    def describe(self) -> str:
        if self.status == "none":
            return "no workflow: never queued"
        if self.status == "ENQUEUED":
            return "queued: waiting for a free worker"
        if self.status != "PENDING":
            return f"workflow {self.status.lower()}"
        if self.alive:
            return f"held by worker {self.worker} (alive, heartbeat {self.heartbeat_age:.1f} s ago)"
        if self.heartbeat_age is None:
            return f"held by worker {self.worker}, which never registered"
        return (
            f"held by worker {self.worker}, which stopped heartbeating "
            f"{self.heartbeat_age:.1f} s ago: a live worker takes it over"
        )


async def holders(settings: Settings, db: Database, op_ids: list[str]) -> list[Holder]:
    """For each operation: its workflow's state and whether the worker holding it lives."""
    async with _lister(settings) as list_workflows:
        found = {
            wf.workflow_id: wf
            for wf in await list_workflows(workflow_ids=op_ids, load_input=False, load_output=False)
        }
    views = {v.id: v for v in await workers(settings, db, tenant_id=None)}
    out: list[Holder] = []
    for op_id in op_ids:
        wf = found.get(op_id)
        if wf is None:
            out.append(Holder(op_id, "none", None, None, None))
            continue
        view = views.get(wf.executor_id) if wf.executor_id else None
        out.append(
            Holder(
                op_id,
                str(wf.status),
                wf.executor_id,
                view.alive if view else None,
                view.heartbeat_age if view else None,
            )
        )
    return out
