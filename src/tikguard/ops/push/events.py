"""A push's events and its outcome: durable rows, each written once.

Events a workflow notes are written in recorded steps, so a resumed workflow does not
write them twice; ``defer`` notes one to be written with the next (fewer writes, the
same rows, each with the time it was noted). The pending ones live in the push's entry
of the one per-push registry (:mod:`tikguard.ops.push.live`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType

from dbos import DBOS
from sqlalchemy.orm import Session

from tikguard.ops.push.context import database
from tikguard.ops.push.evidence import OutcomeKind
from tikguard.ops.push.live import Level, Noted, Stage, live
from tikguard.ops.push.results import PushEvidence, PushSpec
from tikguard.store import operations as store_ops
from tikguard.store.errors import StoreError
from tikguard.store.models import OperationState

#: The operation state a stage's event moves the operation to.
_STATE_AFTER: Mapping[str, OperationState] = MappingProxyType(
    {
        "preflight": OperationState.RUNNING,
        "waiting-confirm": OperationState.WAITING,
        "confirmed": OperationState.RUNNING,
    }
)

#: Event data key naming the workflow step that wrote the event (see :func:`append`).
STEP_KEY = "_step"


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
    pending = live(spec.op_id).events
    pending.append(Noted(stage, message, level, dict(data or {})))
    if defer:
        return
    batch = list(pending)
    pending.clear()
    await write_events(spec, batch)


def forget_events(spec: PushSpec) -> None:
    """Drop what an earlier, abandoned run of this workflow noted in this process."""
    live(spec.op_id).events.clear()


def already_written(session: Session, spec: PushSpec, step: int) -> bool:
    """Whether this step's events are stored already: a process killed after the step's
    transaction committed, but before DBOS recorded the step, runs it again on resume
    (in this or another worker) and must not write its events twice."""
    return store_ops.any_recent_event(session, spec.tenant_id, spec.op_id, STEP_KEY, step)


def append(session: Session, spec: PushSpec, events: list[Noted], step: int | None = None) -> bool:
    """Write ``events`` (once per workflow step: False when they were already there)."""
    if step is not None and already_written(session, spec, step):
        return False
    _write(session, spec, events, step)
    return True


def _write(
    session: Session,
    spec: PushSpec,
    events: list[Noted],
    step: int | None,
    last: store_ops.NewEvent | None = None,
) -> None:
    """``events`` (then ``last``) in one batch; then the state their stages move to."""
    rows = [
        store_ops.NewEvent(
            stage=event.stage,
            message=event.message,
            level=event.level,
            data=event.data if step is None else {**event.data, STEP_KEY: step},
            at=datetime.fromtimestamp(event.at, UTC),
        )
        for event in events
    ]
    store_ops.append_events(session, spec.tenant_id, spec.op_id, [*rows, *([last] if last else [])])
    for event in events:
        state = _STATE_AFTER.get(event.stage)
        if state is not None:
            with contextlib.suppress(StoreError):  # a finished operation keeps its state
                store_ops.set_state(session, spec.tenant_id, spec.op_id, state.value)


@DBOS.step(name="tikguard.push.emit")
async def write_events(spec: PushSpec, events: list[Noted]) -> None:
    """Event rows in one transaction (a step, so a resumed workflow does not write them
    twice)."""
    step = DBOS.step_id
    await database().run_async(lambda session: append(session, spec, events, step))


@DBOS.step(name="tikguard.push.finish")
async def _finish(
    spec: PushSpec,
    outcome: OutcomeKind,
    reason: str,
    evidence: PushEvidence,
    events: list[Noted],
) -> None:
    step = DBOS.step_id

    def write(session: Session) -> None:
        if step is not None and already_written(session, spec, step):
            return  # an earlier run of this step recorded the outcome already
        outcome_event = store_ops.NewEvent(
            stage="outcome",
            message=f"{outcome}: {reason}",
            level="info" if outcome in ("committed", "reverted") else "warning",
            data={"outcome": outcome, STEP_KEY: step},
        )
        _write(session, spec, events, step, last=outcome_event)
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
    """The outcome (and any deferred events before it) in one transaction."""
    pending = live(spec.op_id).events
    events = list(pending)
    pending.clear()
    await _finish(spec, outcome, reason, evidence, events)
