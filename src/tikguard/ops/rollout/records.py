"""The rollout's rows: create them, read them for screens, and keep them in step with
the outcomes of their pushes.

The rendered change of each router is kept encrypted (vault purpose
``rollout-script``), as pushes keep theirs: a change may carry credentials.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tikguard.store._util import vault_of
from tikguard.store.errors import NotFound
from tikguard.store.models import Operation, OperationEvent, Rollout, RolloutTarget, utcnow

#: Rollout states in which nothing more happens.
FINISHED = frozenset({"completed", "aborted"})
#: States in which the rollout waits for an operator (``continue`` or ``abort``).
GATES = frozenset({"waiting", "halted"})


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def encrypt(session: Session, tenant_id: int, purpose: str, ref: str, text: str) -> bytes:
    return vault_of(session).encrypt(
        session, tenant_id, purpose, ref, text.encode("utf-8", "surrogateescape")
    )


def decrypt(session: Session, tenant_id: int, purpose: str, ref: str, blob: bytes) -> str:
    plain = vault_of(session).decrypt(session, tenant_id, purpose, ref, blob)
    return plain.decode("utf-8", "surrogateescape")


def get(session: Session, tenant_id: int, rollout_id: str) -> Rollout:
    found = session.scalar(
        select(Rollout).where(Rollout.tenant_id == tenant_id, Rollout.id == rollout_id)
    )
    if found is None:
        raise NotFound(f"rollout {rollout_id} does not exist")
    return found


def find(session: Session, tenant_id: int, prefix: str) -> Rollout:
    """A rollout by id or by a unique prefix of it."""
    rows = list(
        session.scalars(
            select(Rollout)
            .where(Rollout.tenant_id == tenant_id, Rollout.id.startswith(prefix, autoescape=True))
            .limit(2)
        )
    )
    if len(rows) != 1:
        raise NotFound(f"no single rollout matches {prefix!r} (see `tikguard rollout list`)")
    return rows[0]


def targets(session: Session, tenant_id: int, rollout_id: str) -> list[RolloutTarget]:
    return list(
        session.scalars(
            select(RolloutTarget)
            .where(RolloutTarget.tenant_id == tenant_id, RolloutTarget.rollout_id == rollout_id)
            .order_by(RolloutTarget.position)
        )
    )


def failures(session: Session, tenant_id: int, rollout_id: str) -> int:
    """Routers whose push ended other than ``committed``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(RolloutTarget)
            .where(
                RolloutTarget.tenant_id == tenant_id,
                RolloutTarget.rollout_id == rollout_id,
                RolloutTarget.status == "done",
                RolloutTarget.outcome != "committed",
            )
        )
        or 0
    )


def status_counts(session: Session, tenant_id: int, rollout_id: str) -> dict[str, int]:
    """Routers of the rollout per status."""
    rows = session.execute(
        select(RolloutTarget.status, func.count())
        .where(RolloutTarget.tenant_id == tenant_id, RolloutTarget.rollout_id == rollout_id)
        .group_by(RolloutTarget.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


def pending_in_wave(
    session: Session, tenant_id: int, rollout_id: str, wave: int, limit: int
) -> list[int]:
    """Ids of the wave's routers not pushed yet, in order (at most ``limit``; at least
    one, so a caller learns whether any is left)."""
    return list(
        session.scalars(
            select(RolloutTarget.id)
            .where(
                RolloutTarget.tenant_id == tenant_id,
                RolloutTarget.rollout_id == rollout_id,
                RolloutTarget.wave == wave,
                RolloutTarget.status == "pending",
            )
            .order_by(RolloutTarget.position)
            .limit(max(1, limit))
        )
    )


@dataclass(frozen=True)
class Finished:
    """A push of the rollout that ended since the last look."""

    op_id: str
    outcome: str
    armed_at: datetime | None
    finished_at: datetime | None


def _ended(tenant_id: int, rollout_id: str) -> Any:
    return (
        select(RolloutTarget, Operation)
        .join(Operation, Operation.id == RolloutTarget.op_id)
        .where(
            RolloutTarget.tenant_id == tenant_id,
            RolloutTarget.rollout_id == rollout_id,
            RolloutTarget.status == "submitted",
            Operation.outcome.is_not(None),
        )
    )


def any_ended(session: Session, tenant_id: int, rollout_id: str) -> bool:
    """Whether a push of the rollout has ended that its target does not show yet (a
    read: the write transaction of :func:`sync_outcomes` is taken only then)."""
    return session.execute(_ended(tenant_id, rollout_id).limit(1)).first() is not None


def sync_outcomes(session: Session, tenant_id: int, rollout_id: str) -> list[Finished]:
    """Copy the outcomes of the rollout's ended pushes into its targets; return those."""
    rows = session.execute(_ended(tenant_id, rollout_id)).all()
    if not rows:
        return []
    armed = dict(
        session.execute(
            select(OperationEvent.operation_id, OperationEvent.at).where(
                OperationEvent.operation_id.in_([op.id for _, op in rows]),
                OperationEvent.stage == "armed",
            )
        ).all()
    )
    out: list[Finished] = []
    for target, op in rows:
        target.status = "done"
        target.outcome = op.outcome
        target.reason = str(op.evidence.get("reason") or op.error or "")[:2000]
        out.append(Finished(op.id, str(op.outcome), armed.get(op.id), op.finished_at))
    session.flush()
    return out


def set_state(
    session: Session,
    tenant_id: int,
    rollout_id: str,
    state: str,
    *,
    wave: int | None = None,
    reason: str | None = None,
) -> None:
    rollout = get(session, tenant_id, rollout_id)
    rollout.state = state
    if wave is not None:
        rollout.current_wave = wave
    rollout.reason = reason
    if state == "running" and rollout.started_at is None:
        rollout.started_at = utcnow()
    if state in FINISHED:
        rollout.finished_at = utcnow()
        session.execute(
            update(RolloutTarget)
            .where(
                RolloutTarget.tenant_id == tenant_id,
                RolloutTarget.rollout_id == rollout_id,
                RolloutTarget.status == "pending",
            )
            .values(status="not-started")
        )
    session.flush()


@dataclass(frozen=True)
class TargetView:
    """One router of a rollout as screens show it."""

    name: str
    wave: int | None
    status: str
    outcome: str | None
    reason: str | None
    op_id: str | None
    checks: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "router": self.name,
            "wave": self.wave,
            "status": self.status,
            "outcome": self.outcome,
            "reason": self.reason,
            "operation": self.op_id,
            "checks": self.checks,
        }


@dataclass(frozen=True)
class RolloutView:
    """A rollout with its routers (what ``rollout show`` and the API return)."""

    id: str
    state: str
    current_wave: int
    waves: list[int]
    policy: dict[str, Any]
    selector: dict[str, Any]
    reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    targets: list[TargetView]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.targets:
            key = t.outcome or t.status
            out[key] = out.get(key, 0) + 1
        return out

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state,
            "current_wave": self.current_wave,
            "waves": self.waves,
            "policy": self.policy,
            "selector": self.selector,
            "reason": self.reason,
            "created_at": self.created_at.isoformat(),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "counts": self.counts(),
            "targets": [t.as_json() for t in self.targets],
        }


def view(session: Session, tenant_id: int, rollout: Rollout) -> RolloutView:
    rows = targets(session, tenant_id, rollout.id)
    op_ids = [t.op_id for t in rows if t.op_id]
    evidence: dict[str, dict[str, Any]] = {}
    if op_ids:
        evidence = dict(
            session.execute(
                select(Operation.id, Operation.evidence).where(
                    Operation.tenant_id == tenant_id, Operation.id.in_(op_ids)
                )
            ).all()
        )
    return RolloutView(
        id=rollout.id,
        state=rollout.state,
        current_wave=rollout.current_wave,
        waves=[int(w) for w in rollout.waves],
        policy=dict(rollout.policy),
        selector=dict(rollout.selector),
        reason=rollout.reason,
        created_at=rollout.created_at,
        started_at=rollout.started_at,
        finished_at=rollout.finished_at,
        targets=[
            TargetView(
                t.device_name,
                t.wave,
                t.status,
                t.outcome,
                t.reason,
                t.op_id,
                _checks(evidence.get(t.op_id or "", {})),
            )
            for t in rows
        ],
    )


def _checks(evidence: dict[str, Any]) -> list[str]:
    verify = evidence.get("verify")
    if isinstance(verify, dict):
        return [str(c) for c in verify.get("checks") or []]
    return []


def list_rollouts(session: Session, tenant_id: int, limit: int = 50) -> list[Rollout]:
    return list(
        session.scalars(
            select(Rollout)
            .where(Rollout.tenant_id == tenant_id)
            .order_by(Rollout.created_at.desc(), Rollout.id)
            .limit(limit)
        )
    )
