"""A push's events and its outcome: durable rows, each written once.

Every event the workflow notes gets its place in the workflow's sequence of events,
which is the same on every run of the workflow (a run after a crash replays the same
steps): a write stores only the events whose places are not stored yet, so a resumed
workflow never writes one twice. Events are written by the workflow itself, not in
steps of their own (a recorded step costs the controller more than the write);
``defer`` notes one to be written with the next (fewer writes, the same rows, each with
the time it was noted). A write the database refuses leaves its events pending for the
next one: an event never changes the push's course. The outcome is written in a
recorded step. The pending events live in the push's entry of the one per-push
registry (:mod:`tikguard.ops.push.live`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from dbos import DBOS
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from tikguard.logs import get_logger
from tikguard.ops.push.context import database
from tikguard.ops.push.evidence import OutcomeKind
from tikguard.ops.push.live import Level, Noted, Stage, live
from tikguard.ops.push.results import PushEvidence, PushSpec
from tikguard.store import operations as store_ops
from tikguard.store.errors import StoreError
from tikguard.store.models import OperationState

log = get_logger(__name__)

#: The operation state a stage's event moves the operation to.
_STATE_AFTER: Mapping[str, OperationState] = MappingProxyType(
    {
        "preflight": OperationState.RUNNING,
        "waiting-confirm": OperationState.WAITING,
        "confirmed": OperationState.RUNNING,
    }
)

#: Event data key: the event's place in its workflow's sequence of events.
NOTE_KEY = "_n"


def note(
    spec: PushSpec,
    stage: Stage,
    message: str,
    level: Level = "info",
    data: dict[str, object] | None = None,
) -> Noted:
    """Note an event (pending until written), with its place in the sequence."""
    entry = live(spec.op_id)
    entry.noted += 1
    event = Noted(stage, message, level, dict(data or {}), n=entry.noted)
    entry.events.append(event)
    return event


async def emit(
    spec: PushSpec,
    stage: Stage,
    message: str,
    level: Level = "info",
    data: dict[str, object] | None = None,
    *,
    defer: bool = False,
) -> None:
    """A durable event row; ``defer``: written with the next one."""
    note(spec, stage, message, level, data)
    if defer:
        return
    pending = live(spec.op_id).events
    batch = list(pending)
    try:
        await database().run_async(lambda session: append(session, spec, batch))
    except (SQLAlchemyError, StoreError) as exc:
        log.warning("push %s: events not written yet (%s); they go with the next", spec.op_id, exc)
        return
    del pending[: len(batch)]


def forget_events(spec: PushSpec) -> None:
    """Start the sequence again: a new run of the workflow notes its events afresh (an
    earlier, abandoned run in this process may have left some pending)."""
    entry = live(spec.op_id)
    entry.events.clear()
    entry.noted = 0


def unwritten(session: Session, spec: PushSpec, events: list[Noted]) -> list[Noted]:
    """Those of ``events`` not stored yet (by their places: a process killed after a
    write, before it went on, notes them again when the workflow resumes)."""
    stored = store_ops.recent_event_values(session, spec.tenant_id, spec.op_id, NOTE_KEY)
    return [event for event in events if event.n not in stored]


def append(session: Session, spec: PushSpec, events: list[Noted]) -> bool:
    """Write those of ``events`` not stored yet (False when all were)."""
    fresh = unwritten(session, spec, events)
    if fresh:
        _write(session, spec, fresh)
    return bool(fresh)


def _write(session: Session, spec: PushSpec, events: list[Noted]) -> None:
    """``events`` in one batch; then the state their stages move the operation to."""
    rows = [
        store_ops.NewEvent(
            stage=event.stage,
            message=event.message,
            level=event.level,
            data={**event.data, NOTE_KEY: event.n},
            at=datetime.fromtimestamp(event.at, UTC),
        )
        for event in events
    ]
    store_ops.append_events(session, spec.tenant_id, spec.op_id, rows)
    for event in events:
        state = _STATE_AFTER.get(event.stage)
        if state is not None:
            with contextlib.suppress(StoreError):  # a finished operation keeps its state
                store_ops.set_state(session, spec.tenant_id, spec.op_id, state.value)


@DBOS.step(name="tikguard.push.finish")
async def _finish(
    spec: PushSpec,
    outcome: OutcomeKind,
    reason: str,
    evidence: PushEvidence,
    events: list[Noted],
) -> None:
    """``events`` (the outcome's last) and the operation's outcome in one transaction."""

    def write(session: Session) -> None:
        fresh = unwritten(session, spec, events)
        if not fresh or fresh[-1].n != events[-1].n:
            return  # an earlier run of this step recorded the outcome already
        _write(session, spec, fresh)
        store_ops.finish_operation(
            session,
            spec.tenant_id,
            spec.op_id,
            outcome,
            evidence={**evidence, "reason": reason},
            error=None if outcome == "committed" else reason,
        )

    await database().run_async(write)


async def finish(spec: PushSpec, outcome: OutcomeKind, reason: str, evidence: PushEvidence) -> None:
    """The outcome (and any events still pending before it) in one recorded step."""
    level: Level = "info" if outcome in ("committed", "reverted") else "warning"
    note(spec, "outcome", f"{outcome}: {reason}", level, {"outcome": outcome})
    pending = live(spec.op_id).events
    events = list(pending)
    pending.clear()
    await _finish(spec, outcome, reason, evidence, events)
