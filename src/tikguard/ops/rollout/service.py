"""The rollout service: plan, start, show, list, continue and abort a fleet rollout.

The one entry point for the CLI and the API. A rollout is prepared in full before
anything is pushed: the routers are resolved, the change rendered for each (every
rendering error reported, per router, and nothing started), routers whose change is
empty are skipped as "nothing to do", and the rest are split into canary and waves.
Then one durable parent workflow (:mod:`.workflow`) runs the waves, one guarded push
per router through the push service.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from dbos import EnqueueOptions
from sqlalchemy.orm import Session

from tikguard.ops import push as push_ops
from tikguard.ops import runtime
from tikguard.ops.push.plan import plan_merge
from tikguard.ops.rollout import records
from tikguard.ops.rollout.render import (
    RenderError,
    RouterFacts,
    check_source,
    compile_template,
    config_facts,
    is_empty,
    render,
)
from tikguard.ops.rollout.targets import Selector, resolve
from tikguard.ops.rollout.waves import DEFAULT_WAVES, HaltPolicy, parse_waves, wave_sizes
from tikguard.ops.rollout.workflow import GATE_TOPIC, ROLLOUT_QUEUE, WORKFLOW_NAME
from tikguard.routeros.risk import RiskJson
from tikguard.settings import Settings
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import InvalidInput, StateError
from tikguard.store.models import Device, Rollout, RolloutTarget
from tikguard.store.rollouts import (
    ROLLOUT_SCRIPT_PURPOSE,
    ROLLOUT_SOURCE_PURPOSE,
    rollout_script_ref,
)


@dataclass(frozen=True)
class RolloutRequest:
    """What an operator asked for. ``source`` is the script or the template's text."""

    selector: Selector
    source: str = field(repr=False)
    template: bool = False
    canary: int = 1
    waves: Sequence[str] = DEFAULT_WAVES
    #: Device seconds to wait between waves.
    soak: float = 0.0
    #: Wait for ``tikguard rollout continue`` before every wave after the canary.
    approve: bool = False
    max_failures: int = 0
    max_failure_percent: float | None = None
    window: float | None = None
    #: Health checks for every router: (RouterOS command, regex its output must match).
    checks: Sequence[tuple[str, str]] = ()
    requested_by: str | None = None

    def halt_policy(self) -> HaltPolicy:
        return HaltPolicy(self.max_failures, self.max_failure_percent)

    def policy_json(self, window: float) -> dict[str, Any]:
        return {
            "canary": self.canary,
            "waves": list(self.waves),
            "soak": self.soak,
            "approve": self.approve,
            "max_failures": self.max_failures,
            "max_failure_percent": self.max_failure_percent,
            "window": window,
            "checks": [list(c) for c in self.checks],
            "template": self.template,
        }


@dataclass(frozen=True)
class RouterChange:
    """One router's rendered change, or why it cannot be planned."""

    device_id: int
    name: str
    change: str | None = field(repr=False)
    config: str | None = field(repr=False)
    refusal: str | None = None

    @property
    def empty(self) -> bool:
        return self.refusal is None and is_empty(self.change or "")


def check(req: RolloutRequest, settings: Settings) -> float:
    """Validate the request; return the push window in device seconds."""
    check_source(req.source)
    if not req.source.strip():
        raise InvalidInput("the change is empty (--file)")
    parse_waves(list(req.waves))
    req.halt_policy().check()
    if req.canary < 0:
        raise InvalidInput("--canary must be 0 or more")
    if req.soak < 0:
        raise InvalidInput("--soak must be 0 or more")
    probe = push_ops.PushRequest(devices=[], window=req.window, checks=list(req.checks))
    return push_ops.check_options(probe, settings)


def _facts(device: Device, config: str | None) -> RouterFacts:
    identity, interfaces = config_facts(config)
    return RouterFacts(
        name=device.name,
        host=device.host,
        site=device.site,
        tags=tuple(device.tags),
        vars={str(k): str(v) for k, v in (device.vars or {}).items()},
        identity=identity,
        version=device.ros_version,
        interfaces=interfaces,
    )


def prepare(session: Session, tenant_id: int, req: RolloutRequest) -> list[RouterChange]:
    """Resolve the routers and render the change for each (nothing is written)."""
    resolved = resolve(session, tenant_id, req.selector)
    if not resolved.devices:
        raise InvalidInput("no router matches the selection")
    template = compile_template(req.source) if req.template else None
    out: list[RouterChange] = []
    for device in resolved.devices:
        config = resolved.configs.get(device.id)
        refusal: str | None = None
        change: str | None = req.source
        if template is not None:
            try:
                change = render(template, _facts(device, config))
            except RenderError as exc:
                change, refusal = None, f"template: {exc.args[0].split(': ', 1)[1]}"
        if refusal is None and change is not None:
            refusal = push_ops.script_refusal(change)  # as the router's push would refuse
        if refusal is None:
            refusal = _offline_refusal(device, config)
        out.append(RouterChange(device.id, device.name, change, config, refusal))
    return out


def _offline_refusal(device: Device, config: str | None) -> str | None:
    """What stops a push before it starts, known without contacting the router."""
    if device.host_key_pending:
        return f"its host key changed: tikguard device accept-hostkey {device.name}"
    if not device.host_key:
        return f"no pinned host key: back it up first (tikguard backup {device.name})"
    if config is None:
        return f"no stored configuration: back it up first (tikguard backup {device.name})"
    return None


@dataclass(frozen=True)
class DiffGroup:
    """Routers whose change has the identical diff."""

    diff: str
    summary: dict[str, int]
    risk: list[RiskJson]
    routers: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "routers": self.routers,
            "count": len(self.routers),
            "diff": self.diff,
            "summary": self.summary,
            "risk": self.risk,
        }


@dataclass(frozen=True)
class FleetPlan:
    """``rollout plan``: routers grouped by identical diff, skipped and refused ones, waves."""

    groups: list[DiffGroup]
    skipped: list[str]
    refused: list[tuple[str, str]]
    waves: list[int]

    @property
    def total(self) -> int:
        return sum(len(g.routers) for g in self.groups) + len(self.skipped) + len(self.refused)

    def headline(self) -> str:
        """ "300 routers: 284: diff A; 12: diff B; 1: nothing to do; 3 cannot be planned"."""
        parts = [f"{len(g.routers)}: diff {letter(i)}" for i, g in enumerate(self.groups)]
        if self.skipped:
            parts.append(f"{len(self.skipped)}: nothing to do")
        if self.refused:
            parts.append(f"{len(self.refused)} cannot be planned")
        return f"{self.total} routers: " + "; ".join(parts)

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "groups": [g.as_json() for g in self.groups],
            "skipped": [{"router": n, "reason": "nothing to do"} for n in self.skipped],
            "refused": [{"router": n, "reason": r} for n, r in self.refused],
            "waves": self.waves,
        }


def letter(index: int) -> str:
    """The name of the ``index``-th diff group: A, B, ... Z, then #27, #28, ..."""
    return chr(ord("A") + index) if index < 26 else f"#{index + 1}"


def _plan_changes(changes: list[RouterChange], req: RolloutRequest) -> FleetPlan:
    groups: dict[str, DiffGroup] = {}
    skipped: list[str] = []
    refused: list[tuple[str, str]] = []
    for rc in changes:
        if rc.refusal is not None:
            refused.append((rc.name, rc.refusal))
            continue
        if rc.empty:
            skipped.append(rc.name)
            continue
        try:
            plan = plan_merge(rc.config or "", rc.change or "")
        except ValueError as exc:
            refused.append((rc.name, f"cannot plan against its stored configuration: {exc}"))
            continue
        group = groups.get(plan.diff_text)
        if group is None:
            group = groups[plan.diff_text] = DiffGroup(
                plan.diff_text, plan.diff_summary, plan.risk, []
            )
        group.routers.append(rc.name)
    ordered = sorted(groups.values(), key=lambda g: (-len(g.routers), g.routers[0]))
    pushable = sum(len(g.routers) for g in ordered)
    return FleetPlan(
        ordered, skipped, refused, wave_sizes(pushable, req.canary, parse_waves(list(req.waves)))
    )


async def plan(db: Database, settings: Settings, tenant_id: int, req: RolloutRequest) -> FleetPlan:
    """Render and plan every router against its stored configuration; writes nothing."""
    check(req, settings)

    def run() -> FleetPlan:
        with db.session() as session:
            changes = prepare(session, tenant_id, req)
        return _plan_changes(changes, req)

    return await asyncio.to_thread(run)


def _refusals_text(refused: list[tuple[str, str]]) -> str:
    shown = [f"  {name}: {why}" for name, why in refused[:50]]
    more = [f"  ... and {len(refused) - 50} more"] if len(refused) > 50 else []
    return "\n".join(shown + more)


def create(db: Database, settings: Settings, tenant_id: int, req: RolloutRequest) -> str:
    """Write the rollout and its routers (canary and waves assigned); nothing runs yet.

    Refused, with every router's reason, when any router cannot be planned: a rollout
    starts only when the change renders for all of them.
    """
    window = check(req, settings)
    rollout_id = uuid.uuid4().hex
    # rendered in a read session: the write lock (which running pushes need too) is
    # held only for the inserts, not while a thousand templates render
    with db.session() as session:
        changes = prepare(session, tenant_id, req)
    refused = [(rc.name, rc.refusal) for rc in changes if rc.refusal is not None]
    if refused:
        raise InvalidInput(
            f"{len(refused)} of {len(changes)} router(s) cannot be planned; nothing was "
            f"started:\n{_refusals_text(refused)}"
        )
    with db.transaction() as session:
        pushable = [rc for rc in changes if not rc.empty]
        sizes = wave_sizes(len(pushable), req.canary, parse_waves(list(req.waves)))
        wave_of: dict[int, int] = {}
        position = 0
        for wave, size in enumerate(sizes):
            for rc in pushable[position : position + size]:
                wave_of[rc.device_id] = wave
            position += size
        session.add(
            Rollout(
                id=rollout_id,
                tenant_id=tenant_id,
                state="pending",
                template=req.template,
                source_enc=records.encrypt(
                    session, tenant_id, ROLLOUT_SOURCE_PURPOSE, rollout_id, req.source
                ),
                selector=req.selector.as_json(),
                policy=req.policy_json(window),
                waves=sizes,
                requested_by=req.requested_by,
            )
        )
        session.flush()
        for index, rc in enumerate(changes):
            empty = rc.empty
            session.add(
                RolloutTarget(
                    tenant_id=tenant_id,
                    rollout_id=rollout_id,
                    device_id=rc.device_id,
                    device_name=rc.name,
                    position=index,
                    wave=None if empty else wave_of[rc.device_id],
                    status="skipped" if empty else "pending",
                    reason="nothing to do: the rendered change is empty" if empty else None,
                    script_enc=None
                    if empty
                    else records.encrypt(
                        session,
                        tenant_id,
                        ROLLOUT_SCRIPT_PURPOSE,
                        rollout_script_ref(rollout_id, rc.device_id),
                        rc.change or "",
                    ),
                    script_sha=None if empty else records.sha(rc.change or ""),
                )
            )
        audit(
            session,
            tenant_id,
            actor=req.requested_by or "cli",
            action="rollout.create",
            target=rollout_id,
            details={"routers": len(changes), "waves": sizes, "selector": req.selector.as_json()},
        )
    return rollout_id


async def start(db: Database, settings: Settings, tenant_id: int, req: RolloutRequest) -> str:
    """Create the rollout and enqueue its parent workflow; return its id."""
    rollout_id = await asyncio.to_thread(create, db, settings, tenant_id, req)
    await enqueue(settings, tenant_id, rollout_id)
    return rollout_id


async def enqueue(settings: Settings, tenant_id: int, rollout_id: str) -> None:
    """Queue the parent workflow (once: DBOS keeps one workflow per id)."""
    options = EnqueueOptions(
        workflow_name=WORKFLOW_NAME,
        queue_name=ROLLOUT_QUEUE,
        workflow_id=f"rollout-{rollout_id}",
        app_version=runtime.application_version(),
    )
    await runtime.enqueue(settings, options, {"rollout_id": rollout_id, "tenant_id": tenant_id})


async def _send(settings: Settings, rollout_id: str, message: str) -> None:
    await runtime.send(settings, f"rollout-{rollout_id}", message, GATE_TOPIC)


def get(db: Database, tenant_id: int, rollout: str) -> records.RolloutView:
    """A rollout (by id or unique prefix) with every router's status and outcome."""
    with db.session() as session:
        return records.view(session, tenant_id, records.find(session, tenant_id, rollout))


def list_all(db: Database, tenant_id: int, limit: int = 50) -> list[records.RolloutView]:
    with db.session() as session:
        return [
            records.view(session, tenant_id, r)
            for r in records.list_rollouts(session, tenant_id, limit)
        ]


async def continue_(db: Database, settings: Settings, tenant_id: int, rollout: str, by: str) -> str:
    """Let a rollout waiting at a gate (``--approve``, or halted) start its next wave."""

    def check_state() -> str:
        with db.transaction() as session:
            found = records.find(session, tenant_id, rollout)
            if found.state not in records.GATES:
                raise StateError(
                    f"rollout {found.id[:12]} is {found.state}: only a waiting or halted "
                    "rollout can continue"
                )
            audit(session, tenant_id, actor=by, action="rollout.continue", target=found.id)
            return found.id

    rollout_id = await asyncio.to_thread(check_state)
    await _send(settings, rollout_id, "continue")
    return rollout_id


async def abort(db: Database, settings: Settings, tenant_id: int, rollout: str, by: str) -> str:
    """Stop starting new pushes; pushes in flight finish with their proof."""

    def mark() -> str:
        with db.transaction() as session:
            found = records.find(session, tenant_id, rollout)
            if found.state in records.FINISHED:
                raise StateError(f"rollout {found.id[:12]} already ended: {found.state}")
            found.abort_requested = True
            audit(session, tenant_id, actor=by, action="rollout.abort", target=found.id)
            return found.id

    rollout_id = await asyncio.to_thread(mark)
    await _send(settings, rollout_id, "abort")
    return rollout_id
