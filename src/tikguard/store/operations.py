"""Operations and their durable events.

An operation is one push/restore/replace/backup of one device. Its events are rows
with a per-operation sequence number handed out atomically, so the API can stream
"everything after seq N" (Server-Sent Events) and a reconnecting client misses
nothing. A finished operation's outcome never changes.

This module is the one way into event rows, evidence and an operation's error, so it
is where secrets are kept out of them: every text goes through the same redaction as
stored configs (:func:`tikguard.routeros.secrets.redact_text`) before it is written.
Router output quoting a pushed ``password=...`` reaches a viewer as ``(hidden)``.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from tikguard.routeros.secrets import redact_data, redact_text
from tikguard.store._util import check_text
from tikguard.store.devices import get_device
from tikguard.store.errors import InvalidInput, NotFound, StateError
from tikguard.store.models import (
    Operation,
    OperationEvent,
    OperationKind,
    OperationState,
    Outcome,
    utcnow,
)

LEVELS = frozenset({"debug", "info", "warning", "error"})


def _enum_value(enum_cls: type[Any], value: str, what: str) -> str:
    try:
        return str(enum_cls(value).value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise InvalidInput(f"unknown {what} {value!r} (one of: {allowed})") from None


def create_operation(
    session: Session,
    tenant_id: int,
    *,
    kind: str,
    device_id: int | None,
    idempotency_key: str | None = None,
    parameters: dict[str, Any] | None = None,
    requested_by: str | None = None,
    operation_id: str | None = None,
) -> tuple[Operation, bool]:
    """Create an operation; return (operation, created).

    With an ``idempotency_key`` already used in this tenant, the existing operation is
    returned (created=False) and nothing new is written, even under a race.
    """
    kind = _enum_value(OperationKind, kind, "operation kind")
    if idempotency_key is not None:
        check_text(idempotency_key, "idempotency key", max_len=200)
        existing = _by_key(session, tenant_id, idempotency_key)
        if existing is not None:
            return existing, False
    if device_id is not None:
        get_device(session, tenant_id, device_id)  # tenant check
    op = Operation(
        id=operation_id or uuid.uuid4().hex,
        tenant_id=tenant_id,
        device_id=device_id,
        kind=kind,
        state=OperationState.PENDING.value,
        idempotency_key=idempotency_key,
        parameters=dict(parameters or {}),
        evidence={},
        requested_by=requested_by,
        last_event_seq=0,
    )
    try:
        with session.begin_nested():
            session.add(op)
    except IntegrityError:
        if idempotency_key is None:
            raise
        existing = _by_key(session, tenant_id, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return op, True


def _by_key(session: Session, tenant_id: int, key: str) -> Operation | None:
    return session.scalar(
        select(Operation).where(Operation.tenant_id == tenant_id, Operation.idempotency_key == key)
    )


def get_operation(session: Session, tenant_id: int, operation_id: str) -> Operation:
    op = session.scalar(
        select(Operation).where(Operation.tenant_id == tenant_id, Operation.id == operation_id)
    )
    if op is None:
        raise NotFound(f"operation {operation_id} does not exist")
    return op


def owned(session: Session, tenant_id: int, operation_ids: Collection[str]) -> set[str]:
    """Which of ``operation_ids`` are the tenant's: narrows a cluster-wide list (the
    engine's workflows, whose ids are operation ids) to what one tenant may count."""
    if not operation_ids:
        return set()
    return set(
        session.scalars(
            select(Operation.id).where(
                Operation.tenant_id == tenant_id, Operation.id.in_(list(operation_ids))
            )
        )
    )


def list_operations(
    session: Session,
    tenant_id: int,
    *,
    device_id: int | None = None,
    kind: str | None = None,
    unfinished_only: bool = False,
    limit: int = 100,
) -> list[Operation]:
    """The tenant's operations, newest first."""
    query = select(Operation).where(Operation.tenant_id == tenant_id)
    if device_id is not None:
        query = query.where(Operation.device_id == device_id)
    if kind is not None:
        query = query.where(Operation.kind == kind)
    if unfinished_only:
        query = query.where(Operation.state != OperationState.DONE.value)
    query = query.order_by(Operation.created_at.desc(), Operation.id).limit(limit)
    return list(session.scalars(query))


def set_state(
    session: Session,
    tenant_id: int,
    operation_id: str,
    state: str,
    *,
    at: datetime | None = None,
) -> Operation:
    """Move an unfinished operation to pending/running/waiting (use ``finish`` for done)."""
    state = _enum_value(OperationState, state, "operation state")
    if state == OperationState.DONE.value:
        raise InvalidInput("use finish_operation() to end an operation (it needs an outcome)")
    op = get_operation(session, tenant_id, operation_id)
    if op.state == OperationState.DONE.value:
        raise StateError(f"operation {operation_id} is finished ({op.outcome}); it cannot restart")
    op.state = state
    if state == OperationState.RUNNING.value and op.started_at is None:
        op.started_at = at or utcnow()
    session.flush()
    return op


def merge_evidence(
    session: Session, tenant_id: int, operation_id: str, evidence: dict[str, Any]
) -> Operation:
    """Add keys to an operation's evidence (JSON); existing keys are overwritten."""
    op = get_operation(session, tenant_id, operation_id)
    op.evidence = {**op.evidence, **_redacted(evidence)}
    session.flush()
    return op


def _redacted(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with every secret value in its texts hidden (see the module notes)."""
    cleaned = redact_data(data)
    assert isinstance(cleaned, dict)
    return cleaned


def finish_operation(
    session: Session,
    tenant_id: int,
    operation_id: str,
    outcome: str,
    *,
    evidence: dict[str, Any] | None = None,
    error: str | None = None,
    at: datetime | None = None,
) -> Operation:
    """Record the final outcome with its evidence. Finishing twice the same way is a no-op;
    a different outcome for a finished operation is a StateError (outcomes never flip).
    """
    outcome = _enum_value(Outcome, outcome, "outcome")
    op = get_operation(session, tenant_id, operation_id)
    if op.state == OperationState.DONE.value:
        if op.outcome == outcome:
            return op
        raise StateError(
            f"operation {operation_id} already finished as {op.outcome}; refusing {outcome}"
        )
    op.state = OperationState.DONE.value
    op.outcome = outcome
    if evidence:
        op.evidence = {**op.evidence, **_redacted(evidence)}
    op.error = None if error is None else redact_text(error)
    op.finished_at = at or utcnow()
    session.flush()
    return op


def resolve_uncertain(
    session: Session,
    tenant_id: int,
    operation_id: str,
    outcome: str,
    *,
    reason: str,
    evidence: dict[str, Any],
) -> Operation:
    """An ``uncertain`` operation takes the outcome a later read-back proved
    (``tikguard ops recheck``/``revert``); the earlier verdict stays in the evidence.
    Only ``uncertain`` moves: every other outcome is final."""
    outcome = _enum_value(Outcome, outcome, "outcome")
    op = get_operation(session, tenant_id, operation_id)
    if op.outcome != "uncertain":
        raise StateError(f"operation {operation_id} ended {op.outcome}; only uncertain moves")
    previous = {"outcome": op.outcome, "reason": op.evidence.get("reason"), "error": op.error}
    op.evidence = {**op.evidence, **evidence, "reason": reason, "previously": previous}
    op.outcome = outcome
    op.error = None if outcome == "committed" else reason
    session.flush()
    return op


@dataclass(frozen=True)
class NewEvent:
    """An event to append: :func:`append_events` gives it the operation's next seq."""

    stage: str
    message: str
    level: str = "info"
    data: dict[str, Any] | None = None
    at: datetime | None = None


def append_event(
    session: Session,
    tenant_id: int,
    operation_id: str,
    *,
    stage: str,
    message: str,
    level: str = "info",
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> int:
    """Append an event with the operation's next seq (1, 2, 3, ...; atomic, no gaps);
    return that seq."""
    [seq] = append_events(
        session, tenant_id, operation_id, [NewEvent(stage, message, level, data, at)]
    )
    return seq


def append_events(
    session: Session, tenant_id: int, operation_id: str, events: Sequence[NewEvent]
) -> list[int]:
    """Append ``events`` in order with the operation's next seqs and return them: one
    update hands out the whole range (atomic, no gaps) and one statement inserts the
    rows, so a step that writes several events pays for one."""
    for event in events:
        if event.level not in LEVELS:
            raise InvalidInput(
                f"unknown event level {event.level!r} (one of: {', '.join(sorted(LEVELS))})"
            )
        check_text(event.stage, "event stage", max_len=64)
    if not events:
        return []
    last = session.scalar(
        update(Operation)
        .where(Operation.tenant_id == tenant_id, Operation.id == operation_id)
        .values(last_event_seq=Operation.last_event_seq + len(events))
        .returning(Operation.last_event_seq)
    )
    if last is None:
        raise NotFound(f"operation {operation_id} does not exist")
    seqs = list(range(last - len(events) + 1, last + 1))
    rows = [
        {
            "tenant_id": tenant_id,
            "operation_id": operation_id,
            "seq": seq,
            "at": event.at or utcnow(),
            "stage": event.stage,
            "level": event.level,
            "message": redact_text(event.message),
            "data": _redacted(dict(event.data or {})),
        }
        for seq, event in zip(seqs, events, strict=True)
    ]
    session.execute(insert(OperationEvent), rows)
    return seqs


def recent_event_values(
    session: Session, tenant_id: int, operation_id: str, key: str, within: int = 50
) -> set[object]:
    """The values ``data[key]`` takes among the operation's last ``within`` events (one
    query that reads only the events' data)."""
    recent = session.scalars(
        select(OperationEvent.data)
        .where(OperationEvent.tenant_id == tenant_id, OperationEvent.operation_id == operation_id)
        .order_by(OperationEvent.seq.desc())
        .limit(within)
    )
    return {data[key] for data in recent if key in data}


def list_events(
    session: Session,
    tenant_id: int,
    operation_id: str,
    *,
    after_seq: int = 0,
    limit: int = 1000,
) -> list[OperationEvent]:
    """Events with seq > ``after_seq`` in order (for SSE resume via Last-Event-ID)."""
    return list(
        session.scalars(
            select(OperationEvent)
            .where(
                OperationEvent.tenant_id == tenant_id,
                OperationEvent.operation_id == operation_id,
                OperationEvent.seq > after_seq,
            )
            .order_by(OperationEvent.seq)
            .limit(limit)
        )
    )
