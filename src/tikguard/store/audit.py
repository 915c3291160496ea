"""The audit log: who did what to which target, and when. Append-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard.store._util import check_text
from tikguard.store.models import AuditEntry, utcnow


def audit(
    session: Session,
    tenant_id: int,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
    flush: bool = True,
) -> AuditEntry:
    """Record an action. ``details`` must not contain secrets (it is shown to viewers).
    ``flush=False``: a batch of entries is written with the caller's next flush."""
    check_text(actor, "audit actor", max_len=200)
    check_text(action, "audit action", max_len=64)
    if target is not None:
        check_text(target, "audit target", max_len=255)
    entry = AuditEntry(
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        target=target,
        details=dict(details or {}),
        at=at or utcnow(),
    )
    session.add(entry)
    if flush:
        session.flush()
    return entry


def list_audit(
    session: Session,
    tenant_id: int,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    """The tenant's audit entries, newest first, optionally filtered."""
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    query = query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list(session.scalars(query))
