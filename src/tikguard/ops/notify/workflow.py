"""Durable delivery: one DBOS workflow per (event, channel), and the watcher that queues them.

The watcher runs in every server (``tikguard serve``), every ``notify_interval``
seconds: it records the facts of :mod:`.sources` as events (each once, whichever worker
looks first) and queues a delivery workflow for each event not yet dispatched. A
delivery's workflow id is derived from the event and channel, so two workers queueing
the same delivery, or a worker queueing it again after a crash between queueing and
marking, start it once.

A delivery tries up to ``notify_attempts`` times, waiting ``notify_backoff`` seconds
before the second try and twice as long before each next one (at most an hour), with
durable sleeps: a restarted worker resumes the wait. Each try is a recorded step and a
row in ``notify_attempts``. Delivery is at least once: a worker killed after a receiver
accepted a message but before its step was recorded sends it again on recovery (the
``X-Tikguard-Delivery`` header lets a receiver drop the duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from dbos import DBOS, EnqueueOptions

from tikguard.logs import get_logger
from tikguard.ops import runtime
from tikguard.ops.notify import delivery, sources
from tikguard.settings import Settings
from tikguard.store import notify as store_notify
from tikguard.store import scope
from tikguard.store.db import Database
from tikguard.store.models import utcnow

log = get_logger(__name__)

WORKFLOW_NAME = "tikguard.notify.deliver"
NOTIFY_QUEUE = "tikguard-notify"
#: The longest wait between two tries (seconds).
MAX_BACKOFF = 3600.0


def backoff(first: float, tries_done: int) -> float:
    """Seconds to wait after the ``tries_done``-th failed try."""
    return float(min(MAX_BACKOFF, first * 2 ** (tries_done - 1)))


@DBOS.step(name="tikguard.notify.attempt")
async def step_attempt(route: dict[str, Any], number: int, last: bool) -> dict[str, Any]:
    settings = runtime.current().settings
    db = Database.shared(settings)
    found = delivery.Route(
        **{k: route[k] for k in ("tenant_id", "event_id", "channel_id")},
        rules=tuple(route["rules"]),
    )
    sent = await asyncio.to_thread(delivery.attempt, db, settings, found, number, last)
    return {"ok": sent.ok, "status": sent.status, "retry": sent.retry, "attempts": number}


@DBOS.workflow(name=WORKFLOW_NAME)
async def deliver(route: dict[str, Any]) -> dict[str, Any]:
    """Deliver one event to one channel, retrying with backoff (tries and waits are in
    ``route``, fixed when it was queued, so a replay takes the same path)."""
    tries = max(1, int(route["tries"]))
    result: dict[str, Any] = {}
    for number in range(1, tries + 1):
        result = await step_attempt(route, number, number == tries)
        if result["ok"] or not result["retry"]:
            break
        if number < tries:
            await DBOS.sleep_async(backoff(float(route["backoff"]), number))
    return result


runtime.in_background(WORKFLOW_NAME)


@runtime.on_launch
async def _register_queue(eng: runtime.Engine) -> None:
    await DBOS.register_queue_async(
        NOTIFY_QUEUE,
        worker_concurrency=10,
        polling_interval_sec=runtime.background_polling(eng.settings),
        on_conflict="always_update",
    )


def _engine_is(eng: runtime.Engine) -> bool:
    try:
        return runtime.current() is eng
    except RuntimeError:
        return False


@contextlib.asynccontextmanager
async def watching() -> AsyncIterator[None]:
    """Run the watcher while the block runs (``tikguard serve``, around its engine).

    Only a server watches: a CLI command that runs the engine for its own push should
    not start deliveries it would then leave half way at exit.
    """
    task = asyncio.get_running_loop().create_task(
        _watch(runtime.current()), name="tikguard-notify-watch"
    )
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _watch(eng: runtime.Engine) -> None:
    """Look every ``notify_interval`` seconds while this engine runs."""
    settings = eng.settings
    db = Database.shared(settings)
    while True:
        await asyncio.sleep(max(settings.notify_interval, 0.05))
        if not _engine_is(eng):
            return
        try:
            await look(db, settings)
        except Exception:  # a bad look must not end the watching; the next one retries
            if _engine_is(eng):
                log.exception("looking for notification events failed")


def record_facts(db: Database, settings: Settings) -> int:
    """Record every new fact of every tenant with a rule; returns how many.

    Looks in a read-only session first: a look that finds nothing new (most of them)
    takes no write lock (SQLite has one for the whole database)."""
    since = utcnow() - timedelta(seconds=settings.notify_lookback)
    new: list[tuple[int, sources.Found]] = []
    with scope.scoped(None), db.session() as session:
        for tenant_id, kinds in store_notify.wanted_kinds(session).items():
            found = sources.detect(session, tenant_id, since, kinds)
            known = store_notify.known_keys(session, tenant_id, (f.key for f in found))
            new += [(tenant_id, fact) for fact in found if fact.key not in known]
    if not new:
        return 0
    with scope.scoped(None), db.transaction() as session:
        return sum(1 for tenant_id, fact in new if sources.emit(session, tenant_id, fact))


def _undispatched(db: Database) -> tuple[list[int], list[delivery.Route]]:
    with scope.scoped(None), db.session() as session:
        events = store_notify.undispatched(session, utcnow() + timedelta(seconds=1))
        routes = [r for e in events for r in delivery.routes(session, e)]
        return [e.id for e in events], routes


async def dispatch(db: Database, settings: Settings) -> int:
    """Queue the deliveries of every undispatched event; returns how many were queued."""
    ids, routes = await asyncio.to_thread(_undispatched, db)
    for route in routes:
        options = EnqueueOptions(
            workflow_name=WORKFLOW_NAME,
            queue_name=NOTIFY_QUEUE,
            workflow_id=route.workflow_id,
            app_version=runtime.application_version(),
        )
        payload = {
            **asdict(route),
            "rules": list(route.rules),
            "tries": settings.notify_attempts,
            "backoff": settings.notify_backoff,
        }
        await runtime.enqueue(settings, options, payload)

    def mark() -> None:
        with scope.scoped(None), db.transaction() as session:
            store_notify.mark_dispatched(session, ids, utcnow())

    if ids:
        await asyncio.to_thread(mark)
    return len(routes)


async def look(db: Database, settings: Settings) -> tuple[int, int]:
    """One look: record new facts, queue their deliveries. Returns (events, deliveries)."""
    recorded = await asyncio.to_thread(record_facts, db, settings)
    queued = await dispatch(db, settings)
    return recorded, queued
