"""Where notification events come from: facts already in the store, found by one watcher.

Pushes, backups and rollouts write their outcomes to the store (operations and their
events, devices' backup columns, config versions, rollouts) and nothing else: the
watcher reads those rows and records a :class:`Found` for each fact worth telling, keyed
so that it is recorded once however many workers look (``notify_events`` is unique on
``(tenant, key)``). No push, backup or rollout code calls into notifications, so none
can forget to, and a worker that crashes between a fact and its notification loses
nothing: the fact is still in the store at the next look.

Other parts of tikguard add kinds in two ways:

* :func:`register_source` -- a detector the watcher calls on every look
  (``detector(session, tenant_id, since) -> Iterable[Found]``), for facts it can find
  in its own tables;
* :func:`emit` -- record one event in the caller's own transaction, for facts that are
  events already.

Compliance uses either with the kinds :data:`COMPLIANCE_VIOLATION` and
:data:`COMPLIANCE_RESOLVED`, which rules can already name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from sqlalchemy import ColumnElement, String, cast, exists, literal, select
from sqlalchemy.orm import Session, undefer

from tikguard.device.session import fingerprint
from tikguard.ops import history
from tikguard.process import STATE
from tikguard.store import notify as store_notify
from tikguard.store import versions as store_versions
from tikguard.store.models import (
    ConfigVersion,
    Device,
    NotifyEvent,
    Operation,
    OperationEvent,
    OperationKind,
    OperationState,
    Rollout,
    RolloutTarget,
    Trigger,
)

PUSH_REVERTED = "push-reverted"
PUSH_UNCERTAIN = "push-uncertain"
PUSH_FAILED = "push-failed"
ROLLOUT_HALTED = "rollout-halted"
BACKUP_FAILING = "backup-failing"
CONFIG_CHANGED = "config-changed"
HOST_KEY_CHANGED = "host-key-changed"
COMPLIANCE_VIOLATION = "compliance-violation"
COMPLIANCE_RESOLVED = "compliance-resolved"
TEST = "test"

#: Every kind a rule may name, with what it means (``tikguard notify kinds``).
KINDS: Mapping[str, str] = MappingProxyType(
    {
        PUSH_REVERTED: "a push, restore or replace ended reverted (the router put its config back)",
        PUSH_UNCERTAIN: "a push ended uncertain: the evidence proves neither outcome",
        PUSH_FAILED: "a push failed before it changed anything",
        ROLLOUT_HALTED: "a rollout halted at a failure and waits for an operator",
        BACKUP_FAILING: "a router's backups failed N times in a row (the rule's N)",
        CONFIG_CHANGED: "a backup found a configuration changed outside tikguard",
        HOST_KEY_CHANGED: "a router presented another SSH host key (operations stop)",
        COMPLIANCE_VIOLATION: "a compliance rule is newly violated",
        COMPLIANCE_RESOLVED: "a compliance violation is resolved",
    }
)

_PUSH_OUTCOMES = MappingProxyType(
    {"reverted": PUSH_REVERTED, "uncertain": PUSH_UNCERTAIN, "failed": PUSH_FAILED}
)
_PUSH_KINDS = (OperationKind.PUSH.value, OperationKind.RESTORE.value, OperationKind.REPLACE.value)
#: Versions a backup found (not written by a push): a new one is a change made elsewhere.
_FOUND_TRIGGERS = (Trigger.MANUAL.value, Trigger.SCHEDULED.value, Trigger.PRE_PUSH.value)
#: Lines of a diff a message carries (the link shows the rest).
DIFF_LINES = 40


@dataclass(frozen=True)
class Found:
    """One fact worth a notification. ``key`` names the fact, unique in the tenant;
    ``link`` is a UI path (``/operations/ID``) the message turns into a full URL."""

    key: str
    kind: str
    title: str
    details: dict[str, Any] = field(default_factory=dict)
    device_id: int | None = None
    device_name: str | None = None
    operation_id: str | None = None
    link: str | None = None


Detector = Callable[[Session, int, datetime], Iterable[Found]]


@dataclass
class Detectors:
    """The detectors :func:`register_source` added (held in :data:`tikguard.process.STATE`)."""

    sources: list[Detector] = field(default_factory=list)


def register_source(detector: Detector) -> Detector:
    """Have the watcher call ``detector(session, tenant_id, since)`` on every look."""
    sources = STATE.of(Detectors).sources
    if detector not in sources:
        sources.append(detector)
    return detector


def emit(session: Session, tenant_id: int, found: Found) -> NotifyEvent | None:
    """Record ``found`` in the caller's transaction (None when its key is known); the
    watcher queues its deliveries on its next look."""
    details = dict(found.details)
    if found.link:
        details["link"] = found.link
    return store_notify.record_event(
        session,
        tenant_id,
        key=found.key,
        kind=found.kind,
        title=found.title,
        details=details,
        device_id=found.device_id,
        device_name=found.device_name,
        operation_id=found.operation_id,
    )


def detect(
    session: Session, tenant_id: int, since: datetime, kinds: Iterable[str] | None = None
) -> list[Found]:
    """Every fact of the tenant since ``since`` (known ones included: keys dedupe).
    With ``kinds``, the built-in detectors of other kinds are skipped (nobody listens)."""
    wanted = None if kinds is None else set(kinds)
    out: list[Found] = []
    for made, detector in _BUILT_IN:
        if wanted is None or made & wanted:
            out.extend(detector(session, tenant_id, since))
    for detector in list(STATE.of(Detectors).sources):
        out.extend(detector(session, tenant_id, since))
    return out


# --- the built-in detectors -----------------------------------------------------


def _unseen(tenant_id: int, key: ColumnElement[str]) -> ColumnElement[bool]:
    """No event with this key yet: detectors whose details cost a query or a diff skip
    the facts already recorded in SQL, not after the work."""
    return ~exists().where(NotifyEvent.tenant_id == tenant_id, NotifyEvent.key == key)


def _pushes(session: Session, tenant_id: int, since: datetime) -> Iterable[Found]:
    query = (
        select(Operation, Device.name)
        .outerjoin(Device, Device.id == Operation.device_id)
        .where(
            Operation.tenant_id == tenant_id,
            Operation.kind.in_(_PUSH_KINDS),
            Operation.state == OperationState.DONE.value,
            Operation.outcome.in_(list(_PUSH_OUTCOMES)),
            Operation.updated_at >= since,
            _unseen(
                tenant_id,
                literal("op:") + Operation.id + literal(":") + cast(Operation.outcome, String),
            ),
        )
    )
    for op, device in session.execute(query).all():
        outcome = str(op.outcome)
        reason = op.evidence.get("reason") or op.error or ""
        details: dict[str, Any] = {
            "outcome": outcome,
            "operation": op.id,
            "kind": op.kind,
            "requested_by": op.requested_by,
            "reason": str(reason),
        }
        details.update(_push_diff(session, tenant_id, op))
        yield Found(
            key=f"op:{op.id}:{outcome}",
            kind=_PUSH_OUTCOMES[outcome],
            title=f"{device or 'a removed router'}: {op.kind} {outcome}",
            details=details,
            device_id=op.device_id,
            device_name=device,
            operation_id=op.id,
            link=f"/operations/{op.id}",
        )


def _push_diff(session: Session, tenant_id: int, op: Operation) -> dict[str, Any]:
    """The change's diff summary and its first lines, from the plan the push recorded
    (in its evidence, else in its ``plan`` event); both are redacted already."""
    plan = op.evidence.get("plan")
    if not isinstance(plan, dict):
        data = session.scalar(
            select(OperationEvent.data)
            .where(
                OperationEvent.tenant_id == tenant_id,
                OperationEvent.operation_id == op.id,
                OperationEvent.stage == "plan",
            )
            .limit(1)
        )
        plan = data.get("plan") if isinstance(data, dict) else None
    if not isinstance(plan, dict):
        return {}
    summary = plan.get("summary")
    diff = str(plan.get("diff") or "")
    return {"summary": summary if isinstance(summary, dict) else {}, "diff": _head(diff)}


def _head(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= DIFF_LINES:
        return text
    return "\n".join([*lines[:DIFF_LINES], f"... {len(lines) - DIFF_LINES} more lines"])


def _rollouts(session: Session, tenant_id: int, since: datetime) -> Iterable[Found]:
    query = select(Rollout).where(
        Rollout.tenant_id == tenant_id, Rollout.state == "halted", Rollout.updated_at >= since
    )
    for rollout in session.scalars(query):
        failed = session.execute(
            select(RolloutTarget.device_id, RolloutTarget.device_name, RolloutTarget.outcome)
            .where(
                RolloutTarget.tenant_id == tenant_id,
                RolloutTarget.rollout_id == rollout.id,
                RolloutTarget.status == "done",
                RolloutTarget.outcome != "committed",
            )
            .order_by(RolloutTarget.position)
        ).all()
        yield Found(
            key=f"rollout:{rollout.id}:halted:{rollout.current_wave}:"
            f"{rollout.acknowledged_failures}",
            kind=ROLLOUT_HALTED,
            title=f"rollout {rollout.id[:12]} halted at wave {rollout.current_wave}",
            details={
                "rollout": rollout.id,
                "wave": rollout.current_wave,
                "reason": rollout.reason or "",
                "failed": [f"{name}: {outcome}" for _, name, outcome in failed],
                "device_ids": [d for d, _, _ in failed if d is not None],
            },
            link=f"/rollouts/{rollout.id}",
        )


def _backups_failing(session: Session, tenant_id: int, since: datetime) -> Iterable[Found]:
    """One event per failed backup of a router in a failing streak; ``streak`` and
    ``previous`` (the streak at the router's last such event, 0 after a good backup)
    let a rule fire exactly once when the streak reaches its N."""
    query = select(Device).where(
        Device.tenant_id == tenant_id,
        Device.backup_failures > 0,
        Device.last_backup_at >= since,
    )
    for device in session.scalars(query):
        assert device.last_backup_at is not None
        streak = int(device.backup_failures)
        last = store_notify.latest_event(session, tenant_id, BACKUP_FAILING, device.id)
        before = int(last.details.get("streak", 0)) if last is not None else 0
        yield Found(
            key=f"backup-failing:{device.id}:{device.last_backup_at.isoformat()}",
            kind=BACKUP_FAILING,
            title=f"{device.name}: {streak} failed backup{'s' if streak != 1 else ''} in a row",
            details={
                "streak": streak,
                "previous": before if before < streak else 0,
                "error": device.last_backup_error or "",
            },
            device_id=device.id,
            device_name=device.name,
            link=f"/devices/{device.id}",
        )


def _config_changes(session: Session, tenant_id: int, since: datetime) -> Iterable[Found]:
    query = (
        select(ConfigVersion, Device.name)
        .join(Device, Device.id == ConfigVersion.device_id)
        .options(undefer(ConfigVersion.content))
        .where(
            ConfigVersion.tenant_id == tenant_id,
            ConfigVersion.trigger.in_(_FOUND_TRIGGERS),
            ConfigVersion.seq > 1,
            ConfigVersion.created_at >= since,
            _unseen(tenant_id, literal("version:") + cast(ConfigVersion.id, String)),
        )
    )
    for version, name in session.execute(query).all():
        previous = store_versions.get_version_by_seq(
            session, tenant_id, version.device_id, version.seq - 1
        )
        old, new = store_versions.version_text(previous), store_versions.version_text(version)
        diff = history.unified(old, new, f"{name}@{previous.seq}", f"{name}@{version.seq}")
        yield Found(
            key=f"version:{version.id}",
            kind=CONFIG_CHANGED,
            title=f"{name}: configuration changed outside tikguard (version {version.seq})",
            details={
                "version": version.seq,
                "trigger": version.trigger,
                "summary": {"added": version.lines_added, "removed": version.lines_removed},
                "secrets_only": version.secrets_changed_only,
                "diff": _head(diff),
            },
            device_id=version.device_id,
            device_name=name,
            link=f"/devices/{version.device_id}/diff?old={previous.seq}&new={version.seq}",
        )


def _host_keys(session: Session, tenant_id: int, since: datetime) -> Iterable[Found]:
    query = select(Device).where(
        Device.tenant_id == tenant_id,
        Device.host_key_pending.is_not(None),
        Device.host_key_pending_seen >= since,
    )
    for device in session.scalars(query):
        assert device.host_key_pending is not None
        new = fingerprint(device.host_key_pending)
        yield Found(
            key=f"host-key:{device.id}:{new}",
            kind=HOST_KEY_CHANGED,
            title=f"{device.name}: the SSH host key changed; operations on it stop",
            details={
                "pinned": fingerprint(device.host_key) if device.host_key else None,
                "presented": new,
                "hint": f"tikguard device accept-hostkey {device.name}",
            },
            device_id=device.id,
            device_name=device.name,
            link=f"/devices/{device.id}",
        )


#: (kinds it finds, detector).
_BUILT_IN: tuple[tuple[frozenset[str], Detector], ...] = (
    (frozenset(_PUSH_OUTCOMES.values()), _pushes),
    (frozenset({ROLLOUT_HALTED}), _rollouts),
    (frozenset({BACKUP_FAILING}), _backups_failing),
    (frozenset({CONFIG_CHANGED}), _config_changes),
    (frozenset({HOST_KEY_CHANGED}), _host_keys),
)
