"""Operations as the API and UI see them: scoped reads, push submission and confirm.

Thin on purpose: every read filters on the caller's tenant, every change is audited
with the caller's name, and pushes go through :mod:`tikguard.ops.push` exactly as
the CLI's do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store.audit import audit, list_audit
from tikguard.store.db import Database
from tikguard.store.errors import StateError
from tikguard.store.models import AuditEntry, Device, Operation, OperationEvent, OperationState

if TYPE_CHECKING:  # the push engine (DBOS) loads only where a push is touched, not to list
    from tikguard.ops import push as push_ops


@dataclass(frozen=True)
class OperationInfo:
    id: str
    device_id: int | None
    device: str | None
    kind: str
    state: str
    outcome: str | None
    requested_by: str | None
    parameters: dict[str, Any]
    evidence: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def manual_confirm(self) -> bool:
        return self.parameters.get("confirm") == "manual"


@dataclass(frozen=True)
class EventInfo:
    seq: int
    at: datetime
    stage: str
    level: str
    message: str
    data: dict[str, Any]


def _info(op: Operation, names: dict[int, str]) -> OperationInfo:
    return OperationInfo(
        id=op.id,
        device_id=op.device_id,
        device=names.get(op.device_id) if op.device_id is not None else None,
        kind=op.kind,
        state=op.state,
        outcome=op.outcome,
        requested_by=op.requested_by,
        # the request's salted digest (idempotency) stays in the database
        parameters={k: v for k, v in (op.parameters or {}).items() if k != "request"},
        evidence=dict(op.evidence or {}),
        error=op.error,
        created_at=op.created_at,
        started_at=op.started_at,
        finished_at=op.finished_at,
    )


def _names(session: Any, tenant_id: int, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Device.id, Device.name).where(Device.tenant_id == tenant_id, Device.id.in_(ids))
    )
    return {r.id: r.name for r in rows}


class Caller(Protocol):
    """Who asks (an API principal, a UI user's principal, the CLI's context): their
    tenant, and the actor every change they make is audited under."""

    @property
    def tenant_id(self) -> int: ...

    @property
    def actor(self) -> str: ...


def list_ops(
    db: Database,
    tenant_id: int,
    *,
    device: int | None = None,
    kind: str | None = None,
    outcome: str | None = None,
    unfinished: bool = False,
    limit: int = 100,
    tag: str | None = None,
    site: str | None = None,
) -> list[OperationInfo]:
    """The tenant's operations, newest first; ``outcome="uncertain"`` is what a
    monitoring check asks for, ``unfinished`` what is running or waiting now, ``tag`` /
    ``site`` those of the devices with that tag or at that site."""
    with db.session() as session:
        if device is not None:
            store_devices.get_device(session, tenant_id, device)
        query = select(Operation).where(Operation.tenant_id == tenant_id)
        if device is not None:
            query = query.where(Operation.device_id == device)
        if kind is not None:
            query = query.where(Operation.kind == kind)
        if outcome is not None:
            query = query.where(Operation.outcome == outcome)
        if unfinished:
            query = query.where(Operation.state != OperationState.DONE.value)
        if tag is not None or site is not None:
            matching = store_devices.ids_matching(tenant_id, tag=tag, site=site)
            query = query.where(Operation.device_id.in_(matching))
        query = query.order_by(Operation.created_at.desc(), Operation.id).limit(limit)
        ops = list(session.scalars(query))
        names = _names(session, tenant_id, {o.device_id for o in ops if o.device_id is not None})
        return [_info(o, names) for o in ops]


#: Audit actions of a request that creates operations (their details list them).
_REQUEST_ACTIONS = ("backup.start", "push.merge", "push.restore", "push.replace")


def requests_of(db: Database, tenant_id: int, ops: Sequence[OperationInfo]) -> dict[str, int]:
    """Which of ``ops`` were asked for together, from the audit row each request wrote:
    op id -> that row's id, for requests of more than one router (a push to five
    routers is one request, five operations)."""
    if not ops:
        return {}
    wanted = {o.id for o in ops}
    since = min(o.created_at for o in ops) - timedelta(minutes=1)
    with db.session() as session:
        rows = session.execute(
            select(AuditEntry.id, AuditEntry.details).where(
                AuditEntry.tenant_id == tenant_id,
                AuditEntry.action.in_(_REQUEST_ACTIONS),
                AuditEntry.at >= since,
            )
        ).all()
    out: dict[str, int] = {}
    for entry_id, details in rows:
        members = (details or {}).get("operations") or []
        if len(members) > 1:
            out.update((op, entry_id) for op in members if op in wanted)
    return out


def get_many(db: Database, tenant_id: int, op_ids: Sequence[str]) -> list[OperationInfo]:
    """The tenant's operations among ``op_ids`` (one query; unknown ids are left out)."""
    if not op_ids:
        return []
    with db.session() as session:
        ops = list(
            session.scalars(
                select(Operation).where(
                    Operation.tenant_id == tenant_id, Operation.id.in_(list(op_ids))
                )
            )
        )
        names = _names(session, tenant_id, {o.device_id for o in ops if o.device_id is not None})
        return [_info(o, names) for o in ops]


def get_op(db: Database, tenant_id: int, op_id: str) -> OperationInfo:
    with db.session() as session:
        op = store_ops.get_operation(session, tenant_id, op_id)
        names = _names(session, tenant_id, {op.device_id} if op.device_id is not None else set())
        return _info(op, names)


def events(db: Database, tenant_id: int, op_id: str, after: int = 0) -> list[EventInfo]:
    with db.session() as session:
        store_ops.get_operation(session, tenant_id, op_id)
        rows: list[OperationEvent] = store_ops.list_events(
            session, tenant_id, op_id, after_seq=after
        )
        return [EventInfo(e.seq, e.at, e.stage, e.level, e.message, dict(e.data)) for e in rows]


def snapshot(
    db: Database, tenant_id: int, op_id: str, after: int = 0
) -> tuple[OperationInfo, list[EventInfo]]:
    """An operation and its events after ``after``, read in one transaction: when the
    operation shows an outcome, every event it wrote before ending is in the list."""
    with db.session() as session:
        op = store_ops.get_operation(session, tenant_id, op_id)
        info = _info(op, {})
        rows = store_ops.list_events(session, tenant_id, op_id, after_seq=after)
        return info, [
            EventInfo(e.seq, e.at, e.stage, e.level, e.message, dict(e.data)) for e in rows
        ]


def device_ids(
    db: Database, tenant_id: int, refs: list[int | str] | None, tag: str | None
) -> list[int]:
    """The devices asked for by id or name (each checked in the tenant, each once), or
    the tenant's (tagged) devices."""
    if refs is not None:
        from tikguard.ops import devices as devices_ops  # loads SSH: only where names resolve

        return list(dict.fromkeys(devices_ops.resolve_all(db, tenant_id, refs)))
    with db.session() as session:
        return [d.id for d in store_devices.list_devices(session, tenant_id, tag=tag)]


async def submit_push(
    db: Database, settings: Settings, who: Caller, req: push_ops.PushRequest
) -> list[push_ops.Submitted]:
    """Submit a push for the caller and record it in the audit log."""
    from tikguard.ops import push as push_ops

    subs = await push_ops.submit(db, settings, who.tenant_id, req)

    def write(session: Any) -> None:
        audit(
            session,
            who.tenant_id,
            actor=who.actor,
            action=f"push.{req.mode}",
            target=",".join(req.devices)[:255],
            details={
                "operations": [s.op_id for s in subs],
                "new": [s.op_id for s in subs if s.created],
                "confirm": req.confirm,
                "version": req.version,
                "window": req.window,
            },
        )

    await db.run_async(write)
    return subs


def check_confirmable(op: OperationInfo) -> None:
    """Refuse (``StateError``) to confirm an operation that is not a waiting manual push:
    the one rule every caller's confirm goes through."""
    if op.outcome is not None:
        raise StateError(f"operation {op.id} already ended: {op.outcome}")
    if not op.manual_confirm:
        raise StateError(f"operation {op.id} confirms itself (confirm mode auto)")
    if op.state == OperationState.PENDING.value:
        raise StateError(f"operation {op.id} has not started yet; confirm after it verifies")


async def confirm(db: Database, settings: Settings, who: Caller, op_id: str) -> OperationInfo:
    """Send the operator's confirm to a manual-confirm push still waiting for it."""
    op = await asyncio.to_thread(get_op, db, who.tenant_id, op_id)
    check_confirmable(op)
    from tikguard.ops import push as push_ops

    await push_ops.confirm(settings, op.id, by=who.actor)

    def write(session: Any) -> None:
        audit(session, who.tenant_id, actor=who.actor, action="push.confirm", target=op.id)

    await db.run_async(write)
    return await asyncio.to_thread(get_op, db, who.tenant_id, op_id)


async def recheck(db: Database, settings: Settings, who: Caller, op_id: str) -> OperationInfo:
    """Re-prove an uncertain or abandoned push from the router now (audited)."""
    from tikguard.ops.push import lifecycle as push_lifecycle

    await asyncio.to_thread(get_op, db, who.tenant_id, op_id)  # scoped: unknown is 404
    await push_lifecycle.recheck(db, settings, who.tenant_id, op_id, actor=who.actor)
    return await asyncio.to_thread(get_op, db, who.tenant_id, op_id)


async def revert(db: Database, settings: Settings, who: Caller, op_id: str) -> OperationInfo:
    """Fire the revert point of an armed push now (audited)."""
    from tikguard.ops.push import lifecycle as push_lifecycle

    await asyncio.to_thread(get_op, db, who.tenant_id, op_id)
    await push_lifecycle.revert_now(db, settings, who.tenant_id, op_id, actor=who.actor)
    return await asyncio.to_thread(get_op, db, who.tenant_id, op_id)


def audit_entries(
    db: Database, tenant_id: int, *, action: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    """The tenant's audit log, newest first (details never hold secrets)."""
    with db.session() as session:
        return list_audit(session, tenant_id, action=action, limit=limit)
