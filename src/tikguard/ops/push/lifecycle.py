"""No dead ends: re-check, revert now, disarm (docs/push.md: a router that reboots inside
the window).

* :func:`recheck` re-proves an ``uncertain`` or unfinished push from the router now,
  with the rules of :mod:`tikguard.ops.push.evidence`: a verdict the evidence proves
  replaces ``uncertain``; otherwise the reason says what is still unknown.
* :func:`revert_now` fires the revert point of an armed push: a push waiting for its
  confirm is told to revert; an ``uncertain`` (or abandoned) push whose timer is still
  on the router is reverted here and proven like any revert.
* :func:`disarm` removes a tikguard timer left on a router with no live operation
  behind it, after saying what it would do; audited and read back.

A push whose workflow still runs (this controller's revision, pending) is its own
authority: these refuse it with a clear message, except a revert of one waiting for
its confirm. Workflows recorded by another revision are not resumed by this one
(:func:`mark_stale`); recheck is their way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, replace
from typing import Literal, TypedDict, cast

from dbos import DBOS, WorkflowStatus

from tikguard.device import guard as dev
from tikguard.device.errors import DeviceError
from tikguard.device.session import DeviceSession, Target, connect
from tikguard.ops import runtime
from tikguard.ops.backup.snapshot import read_export
from tikguard.ops.leftovers import file_operation, operation_of, tikguard_files
from tikguard.ops.push import boot
from tikguard.ops.push.context import decrypt_script, hash_of_export
from tikguard.ops.push.evidence import Evidence, EvidenceJson, OutcomeKind, classify
from tikguard.ops.push.plan import converged_to, merge_converged
from tikguard.ops.push.results import PrePush, PushSpec, UptimeJson, boot_of, uptime_json
from tikguard.ops.push.revert_key import revert_password
from tikguard.routeros.normalise import normalise
from tikguard.routeros.output import DetailItem, parse_detail
from tikguard.routeros.quoting import quote
from tikguard.routeros.secrets import split_text_secrets
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, StateError, StoreError
from tikguard.store.models import Operation

PUSH_KINDS = frozenset({"push", "restore", "replace"})


class Reproven(EvidenceJson, total=False):
    """What recheck and revert record: the evidence read from the router now, what it
    leaves unknown, and (recheck) what it compared, found and removed."""

    outcome_unknowns: list[str]
    convergence: str
    timers: str
    files_removed: list[str]


class NotBack(TypedDict):
    """A revert fired whose router did not come back in time to prove it."""

    revert_fired_by_us: bool
    reachable: bool


@dataclass(frozen=True)
class Result:
    """What a lifecycle command did: the operation's outcome now, and why."""

    op_id: str
    outcome: OutcomeKind | None
    reason: str
    changed: bool = False
    evidence: Reproven | NotBack | None = None


@dataclass(frozen=True)
class Before:
    """What the push read before it applied: the reference a reboot is judged from."""

    pre_hash: str | None = None
    uptime: UptimeJson | None = None
    boot_before: float | None = None


# -- the operation and its workflow -------------------------------------------------


def _live(status: WorkflowStatus | None) -> bool:
    return (
        status is not None
        and status.status in ("PENDING", "ENQUEUED")
        and status.app_version == runtime.application_version()
    )


def _request(status: WorkflowStatus | None, op: Operation) -> PushSpec:
    """The push's spec as its workflow recorded it (of this revision or an older one:
    read tolerantly), or the ids alone when no workflow is on record."""
    spec = PushSpec.recorded(status.input if status is not None else None)
    return spec if spec is not None else PushSpec(op.id, op.tenant_id, op.device_id or 0)


def _load(db: Database, tenant_id: int, op_id: str) -> tuple[Operation, Target]:
    with db.session() as session:
        op = store_ops.get_operation(session, tenant_id, op_id)
        if op.kind not in PUSH_KINDS:
            raise InvalidInput(f"operation {op_id} is a {op.kind}, not a push")
        if op.device_id is None:
            raise StateError(f"the device of operation {op_id} no longer exists")
        device = store_devices.get_device(session, tenant_id, op.device_id)
        password = store_devices.get_password(session, tenant_id, device.id) or ""
        target = Target(
            device.name, device.host, device.port, device.username, password, device.host_key
        )
        session.expunge(op)
    return op, target


def _refuse_finished(op: Operation, what: str) -> None:
    if op.outcome is not None and op.outcome != "uncertain":
        raise StateError(
            f"operation {op.id} ended {op.outcome}: {what} is for uncertain or "
            "unfinished operations"
        )


def _refuse_live(op: Operation, status: WorkflowStatus | None, what: str) -> None:
    if op.outcome is None and _live(status):
        raise StateError(
            f"operation {op.id} is still running ({op.state}): it ends committed or reverted "
            f"by itself before its deadline; {what} is for uncertain or abandoned operations"
            + (" (to revert it now: tikguard revert)" if op.state == "waiting" else "")
        )


async def _session(target: Target, settings: Settings) -> DeviceSession:
    if not target.host_key:
        raise DeviceError(target.name, f"{target.name} has no pinned host key")
    return await connect(target, settings)


def _deadline(db: Database, tenant_id: int, op_id: str) -> float | None:
    with db.session() as session:
        for event in store_ops.list_events(session, tenant_id, op_id):
            if event.stage == "armed" and isinstance(event.data, dict):
                value = event.data.get("deadline")
                return float(value) if value is not None else None
    return None


async def _pre_push(settings: Settings, op_id: str) -> PrePush:
    """The push's recorded pre-push step (this revision's or an older one's: the fields
    it shares are read, the rest is unknown)."""
    output = await runtime.step_output(settings, op_id, "tikguard.push.step_pre_push_backup")
    return PrePush.from_json(output) if isinstance(output, dict) else PrePush()


# -- reading the router now ---------------------------------------------------------


@dataclass
class RouterNow:
    uptime: UptimeJson
    timers: boot.Timers
    names: dev.Names
    files: list[str]
    raw: str | None = None
    read_at: float = 0.0


async def _files(session: DeviceSession, op_id: str) -> list[str]:
    return [f for f in await tikguard_files(session) if op_id.startswith(str(file_operation(f)))]


async def _read(session: DeviceSession, op_id: str, settings: Settings, export: bool) -> RouterNow:
    names = dev.Names(op_id, False)
    files = await _files(session, op_id)
    names = dev.Names(op_id, any(f.startswith("flash/") for f in files))
    now = RouterNow(
        uptime=uptime_json(await dev.read_uptime(session)),
        timers=await boot.timers(session, names),
        names=names,
        files=files,
        read_at=time.time(),
    )
    if export:
        now.raw = await read_export(session, settings, None)
    return now


async def _cleanup(session: DeviceSession, now: RouterNow) -> list[str]:
    """With no timer of the push left, its revert point and script serve nothing."""
    if now.timers.present:
        return []
    for name in now.files:
        await dev.remove_file(session, name)
    return list(now.files)


def _converged(
    db: Database, op: Operation, spec: PushSpec, redacted: str, names: dev.Names
) -> tuple[bool | None, str]:
    ours = (names.scheduler, boot.boot_names(names).scheduler)
    if op.kind == "restore":
        seq = int(op.parameters.get("version") or 0)
        assert op.device_id is not None
        with db.session() as session:
            version = store_versions.get_version_by_seq(session, op.tenant_id, op.device_id, seq)
            target = store_versions.version_text(version)
        return converged_to(redacted, target, ignore_scheduler=ours)
    if not spec.script_enc:
        return None, "the push's script is not on record"
    script = split_text_secrets(normalise(decrypt_script(spec, spec.script_enc, db=db)))[0]
    if op.kind == "replace":
        return converged_to(redacted, script, ignore_scheduler=ours)
    return merge_converged(redacted, script)


# -- recording ---------------------------------------------------------------------


def _record(
    db: Database,
    op: Operation,
    stage: Literal["recheck", "revert"],
    kind: OutcomeKind,
    reason: str,
    evidence: Reproven | NotBack,
    actor: str,
) -> Result:
    """The verdict on the operation: an unfinished one finishes, an uncertain one takes
    a proven outcome; the event, the evidence and the audit entry say who asked."""
    with db.transaction() as session:
        current = store_ops.get_operation(session, op.tenant_id, op.id)
        changed = current.outcome != kind
        record = {f"{stage}_at": time.time(), f"{stage}_by": actor, f"{stage}": evidence}
        if current.outcome is None:
            store_ops.finish_operation(
                session,
                op.tenant_id,
                op.id,
                kind,
                evidence={**evidence, "reason": reason, **record},
                error=None if kind == "committed" else reason,
            )
        elif changed:
            store_ops.resolve_uncertain(
                session, op.tenant_id, op.id, kind, reason=reason, evidence=record
            )
        else:
            store_ops.merge_evidence(session, op.tenant_id, op.id, record)
        store_ops.append_event(
            session,
            op.tenant_id,
            op.id,
            stage=stage,
            message=f"{stage} by {actor}: {kind}: {reason}",
            level="info" if kind in ("committed", "reverted", "failed") else "warning",
            data={"outcome": kind},
        )
        audit(
            session,
            op.tenant_id,
            actor=actor,
            action=f"operation.{stage}",
            target=op.id,
            details={"outcome": kind, "previous": current.outcome if not changed else op.outcome},
        )
    return Result(op.id, kind, reason, changed, evidence)


def _pre(op: Operation, step: PrePush) -> Before:
    recorded_hash, boot_before = op.evidence.get("pre_hash"), op.evidence.get("boot_before")
    return Before(
        pre_hash=recorded_hash
        if isinstance(recorded_hash, str) and recorded_hash
        else step.pre_hash,
        uptime=step.uptime,
        boot_before=float(boot_before) if isinstance(boot_before, (int, float)) else None,
    )


async def recheck(
    db: Database, settings: Settings, tenant_id: int, op_id: str, *, actor: str
) -> Result:
    """Re-prove an uncertain or unfinished push from the router now."""
    op, target = await asyncio.to_thread(_load, db, tenant_id, op_id)
    _refuse_finished(op, "recheck")
    status = await runtime.workflow_status(settings, op_id)
    _refuse_live(op, status, "recheck")
    req = _request(status, op)
    pre = _pre(op, await _pre_push(settings, op_id))
    deadline = await asyncio.to_thread(_deadline, db, tenant_id, op_id)
    async with await _session(target, settings) as session:
        now = await _read(session, op_id, settings, export=True)
        removed = await _cleanup(session, now)
    assert now.raw is not None
    after_hash, redacted = hash_of_export(now.raw)
    converged, why = await asyncio.to_thread(_converged, db, op, req, redacted, now.names)
    # the apply marker is set before anything is uploaded: without it, and with no
    # timer of the push left, the push changed nothing that is still there
    untouched = not op.evidence.get("apply_started_at") and not now.timers.present
    ev = replace(
        _evidence(op, pre, now, settings),
        after_hash=after_hash,
        converged=converged,
        read_after_deadline=None if deadline is None else now.read_at > deadline,
        wrote_nothing=untouched,
    )
    failure = "re-proved from the router now" + (
        ": the apply never started and no timer of the push is left" if untouched else ""
    )
    outcome = classify(ev, failure=failure)
    evidence = _reproven(
        ev,
        outcome.unknowns,
        convergence=why[:2000],
        timers=_timer_text(now.timers),
        files_removed=removed,
    )
    reason = outcome.reason
    if outcome.kind == "uncertain" and now.timers.present:
        reason += f"; the revert timer is still armed: tikguard revert {op_id} fires it now"
    return await asyncio.to_thread(
        _record, db, op, "recheck", outcome.kind, reason, evidence, actor
    )


def _reproven(
    ev: Evidence,
    unknowns: tuple[str, ...],
    *,
    convergence: str | None = None,
    timers: str | None = None,
    files_removed: list[str] | None = None,
) -> Reproven:
    """The evidence as recheck and revert record it."""
    # (a cast: mypy cannot tell that the evidence's JSON holds none of the extra keys)
    out = cast(Reproven, {**ev.as_dict(), "outcome_unknowns": list(unknowns)})
    if convergence is not None:
        out["convergence"] = convergence
    if timers is not None:
        out["timers"] = timers
    if files_removed is not None:
        out["files_removed"] = files_removed
    return out


def _evidence(op: Operation, pre: Before, now: RouterNow, settings: Settings) -> Evidence:
    """The evidence of the router now against what the push read before it applied
    (callers add what they know with :func:`dataclasses.replace`)."""
    boot_after, half = boot_of(now.uptime, settings.time_scale)
    boot_before = pre.boot_before
    slack = half + 2.0
    if boot_before is None and pre.uptime:
        boot_before, half_before = boot_of(pre.uptime, settings.time_scale)
        slack += half_before
    else:
        slack += float(op.evidence.get("boot_slack") or 3.0)
    return Evidence(
        pre_hash=pre.pre_hash,
        applied=None if op.evidence.get("apply_started_at") else False,
        uptime_after=now.uptime.get("uptime"),
        boot_before=boot_before,
        boot_after=boot_after,
        boot_slack=slack,
        timer_present=now.timers.present,
        reachable_fresh=True,
        import_ok=op.evidence.get("import_ok"),
        checks_ok=op.evidence.get("checks_ok"),
        rechecked=True,
    )


def _timer_text(timers: boot.Timers) -> str:
    if not timers.present:
        return "no tikguard timer of this operation"
    parts = []
    if timers.interval.present:
        parts.append(f"interval timer (next run {timers.interval.next_run})")
    if timers.boot.present:
        parts.append("boot-time revert item")
    return " and ".join(parts) + " still armed"


async def revert_now(
    db: Database, settings: Settings, tenant_id: int, op_id: str, *, actor: str
) -> Result:
    """Fire the revert point of an armed push now, and prove the revert."""
    op, target = await asyncio.to_thread(_load, db, tenant_id, op_id)
    _refuse_finished(op, "revert")
    status = await runtime.workflow_status(settings, op_id)
    if op.outcome is None and _live(status):
        if op.state != "waiting":
            _refuse_live(op, status, "revert")
        await _send(settings, op_id, actor)
        await asyncio.to_thread(_audit_only, db, op, actor, "operation.revert")
        return Result(op_id, None, "the push was told to revert: it loads its revert point now")
    req = _request(status, op)
    pre = _pre(op, await _pre_push(settings, op_id))
    async with await _session(target, settings) as session:
        before = await _read(session, op_id, settings, export=False)
        if not before.timers.present:
            raise StateError(
                f"operation {op_id} is not armed: no tikguard timer of it on {target.name} "
                f"(tikguard ops recheck {op_id} proves where the router stands)"
            )
        with contextlib.suppress(DeviceError):  # the load reboots: the session may drop
            await dev.load_revert_point(session, before.names, revert_password(req, db))
    if pre.boot_before is None and pre.uptime is None:
        pre = replace(pre, uptime=before.uptime)  # at least: it rebooted after this read
    now = await _prove(target, settings, op_id)
    if now is None:
        evidence = NotBack(revert_fired_by_us=True, reachable=False)
        reason = "revert point loaded; the router did not come back in time to prove it"
        return await asyncio.to_thread(
            _record, db, op, "revert", "uncertain", reason, evidence, actor
        )
    assert now.raw is not None
    after_hash, _ = hash_of_export(now.raw)
    ev = replace(_evidence(op, pre, now, settings), after_hash=after_hash, revert_fired_by_us=True)
    outcome = classify(ev, failure=f"revert requested by {actor}")
    return await asyncio.to_thread(
        _record,
        db,
        op,
        "revert",
        outcome.kind,
        outcome.reason,
        _reproven(ev, outcome.unknowns),
        actor,
    )


async def _prove(target: Target, settings: Settings, op_id: str) -> RouterNow | None:
    """Reconnect until the router answers with no timer of the push (or boot_wait)."""
    await asyncio.sleep(settings.seconds(2.0))
    until = time.time() + settings.seconds(settings.push_boot_wait)
    while time.time() < until:
        try:
            async with await _session(target, settings) as session:
                now = await _read(session, op_id, settings, export=False)
                if not now.timers.present:
                    now.raw = await read_export(session, settings, None)
                    await _cleanup(session, now)
                    return now
        except DeviceError:
            pass
        await asyncio.sleep(settings.seconds(2.0))
    return None


async def _send(settings: Settings, op_id: str, actor: str) -> None:
    """Tell a push waiting for its confirm to revert instead."""
    from tikguard.ops.push.workflow import CONFIRM_TOPIC, REVERT_MESSAGE

    await runtime.send(settings, op_id, f"{REVERT_MESSAGE}{actor}", CONFIRM_TOPIC)


def _audit_only(db: Database, op: Operation, actor: str, action: str) -> None:
    with db.transaction() as session:
        audit(session, op.tenant_id, actor=actor, action=action, target=op.id)


# -- disarm ------------------------------------------------------------------------


@dataclass(frozen=True)
class Disarm:
    """A tikguard timer on a router: what disarming it would remove (or removed)."""

    device: str
    name: str
    comment: str
    operation: str | None
    operation_state: str
    details: dict[str, str]
    removed: bool = False


async def disarm(
    db: Database,
    settings: Settings,
    tenant_id: int,
    device: str,
    name: str,
    *,
    actor: str,
    apply: bool,
) -> Disarm:
    """Show (``apply=False``) or remove a leftover tikguard timer, read back gone."""

    def load() -> Target:
        with db.session() as session:
            row = store_devices.get_device_by_name(session, tenant_id, device)
            password = store_devices.get_password(session, tenant_id, row.id) or ""
            return Target(row.name, row.host, row.port, row.username, password, row.host_key)

    target = await asyncio.to_thread(load)
    if not name.startswith("tikguard-"):
        raise InvalidInput(f"{name!r} is not a tikguard timer name (tikguard-...)")
    async with await _session(target, settings) as session:
        item = await _scheduler_item(session, name)
        if item is None:
            raise InvalidInput(f"no scheduler item {name!r} on {device}")
        op_id = operation_of(item.comment)
        if op_id is None:
            raise InvalidInput(
                f"{name!r} on {device} has no tikguard marker comment: not ours, left alone"
            )
        state = await _operation_state(db, settings, tenant_id, op_id)
        plan = Disarm(
            device,
            name,
            item.comment or "",
            op_id,
            state,
            {k: v for k, v in item.props.items() if k in ("start-time", "interval", "next-run")},
        )
        if state.startswith("running"):
            raise StateError(
                f"{name} belongs to operation {op_id}, which is {state}: it removes its timers "
                f"itself (tikguard confirm {op_id} or tikguard revert {op_id})"
            )
        if not apply:
            return plan
        await session.run(
            f"/system scheduler remove [ find name={quote(name)} comment={quote(plan.comment)} ]"
        )
        gone = await _scheduler_item(session, name) is None
    await asyncio.to_thread(_audit_disarm, db, tenant_id, actor, plan, gone)
    if not gone:
        raise StateError(f"{name} is still on {device} after removing it")
    return replace(plan, removed=True)


async def _scheduler_item(session: DeviceSession, name: str) -> DetailItem | None:
    text = await session.run(f"/system scheduler print detail where name={quote(name)}")
    for item in parse_detail(text):
        if item.props.get("name") == name:
            return item
    return None


async def _operation_state(db: Database, settings: Settings, tenant_id: int, op_id: str) -> str:
    def read() -> Operation | None:
        with db.session() as session:
            try:
                return store_ops.get_operation(session, tenant_id, op_id)
            except Exception:
                return None

    op = await asyncio.to_thread(read)
    if op is None:
        return "unknown to this controller"
    if op.outcome is not None:
        return f"ended {op.outcome}"
    if _live(await runtime.workflow_status(settings, op_id)):
        return f"running ({op.state})"
    return f"abandoned ({op.state})"


def _audit_disarm(db: Database, tenant_id: int, actor: str, plan: Disarm, gone: bool) -> None:
    with db.transaction() as session:
        audit(
            session,
            tenant_id,
            actor=actor,
            action="device.disarm",
            target=f"{plan.device}/{plan.name}",
            details={"operation": plan.operation, "removed": gone},
        )


# -- workflows of another revision -------------------------------------------------------


@runtime.on_launch
async def mark_stale(eng: runtime.Engine) -> None:
    """Say on each unfinished push recorded by another workflow revision that this
    controller will not resume it, and what to do (once per operation)."""
    from tikguard.ops.push.context import database
    from tikguard.ops.push.workflow import WORKFLOW_NAME

    rows = await DBOS.list_workflows_async(
        name=WORKFLOW_NAME, status=["PENDING", "ENQUEUED"], load_output=False
    )
    mine = runtime.application_version()
    for row in rows:
        spec = None if row.app_version == mine else PushSpec.recorded(row.input)
        if spec is None:
            continue
        await asyncio.to_thread(_note_stale, database(), spec, str(row.app_version), mine)


def _note_stale(db: Database, spec: PushSpec, theirs: str, mine: str) -> None:
    op_id, tenant_id = spec.op_id, spec.tenant_id
    with db.transaction() as session:
        try:
            op = store_ops.get_operation(session, tenant_id, op_id)
        except StoreError:
            return
        if op.outcome is not None:
            return
        if any(
            e.stage == "stale-revision" for e in store_ops.list_events(session, tenant_id, op_id)
        ):
            return
        store_ops.append_event(
            session,
            tenant_id,
            op_id,
            stage="stale-revision",
            level="warning",
            message=(
                f"recorded by tikguard {theirs}; this controller runs {mine} and does not "
                f"resume it: `tikguard ops recheck {op_id}` proves from the router where it "
                f"stands (`tikguard revert {op_id}` if its timer is still armed)"
            ),
        )
