"""The rollout as a durable DBOS workflow: waves of guarded pushes, gates and halts.

The parent workflow records each wave as one step (:func:`step_run_wave`): it admits
the wave's routers as fast as admission control allows, one guarded push each through
the push service, and waits for their outcomes. A push is submitted with the idempotency
key ``rollout-<id>:<router>``, so a wave step that runs again after a controller crash
finds the same push (resumed by DBOS on its own) instead of starting a second one: no
router is ever pushed twice by one rollout.

Between waves: an optional soak (a durable sleep) and an optional manual gate; after a
wave with more failures than the halt policy allows, the rollout halts and waits at a
gate too. A gate ends with ``continue`` (the failures so far are acknowledged and the
rollout goes on with the routers not yet pushed) or ``abort``. ``abort`` during a wave
stops admitting: pushes in flight end with their proof.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from dataclasses import dataclass, field
from typing import Any

from dbos import DBOS

from tikguard.ops import push as push_ops
from tikguard.ops import runtime
from tikguard.ops import workers as fleet_workers
from tikguard.ops.push.context import current_settings, database, margin
from tikguard.ops.rollout import records
from tikguard.ops.rollout.admission import Admission
from tikguard.ops.rollout.waves import HaltPolicy
from tikguard.process import STATE
from tikguard.store import devices as store_devices
from tikguard.store.errors import StoreError
from tikguard.store.models import RolloutTarget
from tikguard.store.rollouts import ROLLOUT_SCRIPT_PURPOSE, rollout_script_ref

WORKFLOW_NAME = "tikguard.rollout.workflow"
ROLLOUT_QUEUE = "tikguard-rollout"
GATE_TOPIC = "rollout-gate"
#: How long one wait at a gate lasts before it looks again (real seconds).
GATE_POLL = 600.0


@dataclass
class Admissions:
    """Admission per rollout in this process (held in :data:`tikguard.process.STATE`)."""

    #: Per running rollout (measured again after a restart).
    running: dict[str, Admission] = field(default_factory=dict)
    #: The in-flight limit each rollout of this process ended with (benchmarks, logs).
    final_limits: dict[str, int] = field(default_factory=dict)


def final_limit(rollout_id: str) -> int | None:
    """The in-flight limit a rollout of this process ended with (None: not ended here)."""
    return STATE.of(Admissions).final_limits.get(rollout_id)


@runtime.on_launch
async def _register_queue(eng: runtime.Engine) -> None:
    await DBOS.register_queue_async(
        ROLLOUT_QUEUE,
        worker_concurrency=8,
        polling_interval_sec=runtime.background_polling(eng.settings),
        on_conflict="always_update",
    )


@DBOS.workflow(name=WORKFLOW_NAME)
async def rollout_workflow(req: dict[str, Any]) -> dict[str, Any]:
    """One rollout: canary, waves, gates. ``req`` holds the rollout and tenant ids.

    An unexpected error ends the rollout as aborted (no new push starts; those in
    flight end with their own proof), with the error as its reason."""
    try:
        return await _waves(req)
    except Exception as exc:
        return await step_end(req, "aborted", f"internal error: {type(exc).__name__}: {exc}")


async def _waves(req: dict[str, Any]) -> dict[str, Any]:
    info = await step_begin(req)
    waves, soak, approve = int(info["waves"]), float(info["soak"]), bool(info["approve"])
    wave = int(info["wave"])
    again = False
    while wave < waves:
        if wave > 0 and not again:
            if soak > 0:
                await step_state(req, "running", wave, f"soaking {soak:g} s before wave {wave}")
                await DBOS.sleep_async(max(current_settings().seconds(soak), 0.001))
            if approve:
                why = f"wave {wave} waits for `tikguard rollout continue`"
                if await _gate(req, "waiting", wave, why) == "abort":
                    return await step_end(req, "aborted", "aborted at the gate")
        await step_state(req, "running", wave, None)
        result = await step_run_wave(req, wave)
        if result["aborted"]:
            return await step_end(req, "aborted", "aborted: no new pushes were started")
        if result["halted"]:
            if await _gate(req, "halted", wave, result["reason"]) == "abort":
                return await step_end(req, "aborted", f"aborted after: {result['reason']}")
            await step_acknowledge(req)
            again = True  # the same wave again: its routers not yet pushed
            continue
        again = False
        wave += 1
    return await step_end(req, "completed", None)


async def _gate(req: dict[str, Any], state: str, wave: int, reason: str) -> str:
    """Wait for an operator's ``continue`` or ``abort``."""
    await step_state(req, state, wave, reason)
    while True:
        if await step_abort_requested(req):
            return "abort"
        got = await DBOS.recv_async(GATE_TOPIC, timeout_seconds=GATE_POLL)
        if got in ("continue", "abort"):
            return str(got)


@DBOS.step(name="tikguard.rollout.begin")
async def step_begin(req: dict[str, Any]) -> dict[str, Any]:
    def read() -> dict[str, Any]:
        with database().transaction() as session:
            rollout = records.get(session, req["tenant_id"], req["rollout_id"])
            if rollout.state == "pending":
                records.set_state(session, req["tenant_id"], rollout.id, "running", wave=0)
            return {
                "waves": len(rollout.waves),
                "wave": rollout.current_wave,
                "soak": float(rollout.policy.get("soak") or 0.0),
                "approve": bool(rollout.policy.get("approve")),
            }

    return await asyncio.to_thread(read)


@DBOS.step(name="tikguard.rollout.state")
async def step_state(req: dict[str, Any], state: str, wave: int, reason: str | None) -> None:
    def write() -> None:
        with database().transaction() as session:
            records.set_state(
                session, req["tenant_id"], req["rollout_id"], state, wave=wave, reason=reason
            )

    await asyncio.to_thread(write)


@DBOS.step(name="tikguard.rollout.abort_requested")
async def step_abort_requested(req: dict[str, Any]) -> bool:
    def read() -> bool:
        with database().session() as session:
            return records.get(session, req["tenant_id"], req["rollout_id"]).abort_requested

    return await asyncio.to_thread(read)


@DBOS.step(name="tikguard.rollout.acknowledge")
async def step_acknowledge(req: dict[str, Any]) -> None:
    """The operator continued past the failures so far: they no longer halt."""

    def write() -> None:
        with database().transaction() as session:
            rollout = records.get(session, req["tenant_id"], req["rollout_id"])
            rollout.acknowledged_failures = records.failures(session, rollout.tenant_id, rollout.id)

    await asyncio.to_thread(write)


@DBOS.step(name="tikguard.rollout.end")
async def step_end(req: dict[str, Any], state: str, reason: str | None) -> dict[str, Any]:
    def write() -> dict[str, Any]:
        with database().transaction() as session:
            records.set_state(session, req["tenant_id"], req["rollout_id"], state, reason=reason)
            view = records.view(
                session,
                req["tenant_id"],
                records.get(session, req["tenant_id"], req["rollout_id"]),
            )
            return {"state": state, "counts": view.counts()}

    held = STATE.of(Admissions)
    adm = held.running.pop(req["rollout_id"], None)
    if adm is not None:
        held.final_limits[req["rollout_id"]] = adm.limit
    return await asyncio.to_thread(write)


# -- one wave ------------------------------------------------------------------


def _admission_for(req: dict[str, Any], window: float) -> Admission:
    settings = current_settings()
    running = STATE.of(Admissions).running
    found = running.get(req["rollout_id"])
    if found is None:
        budget = settings.seconds(window - margin(settings, window))
        found = running[req["rollout_id"]] = Admission(budget=budget, cap=settings.push_slots())
    return found


def _look(req: dict[str, Any], wave: int, room_hint: int) -> dict[str, Any]:
    """Outcomes in, then what the wave has left and whether the rollout must stop.

    Counts and at most ``room_hint`` pending routers, not whole rows: this runs every
    poll of a wave of any size. The write lock (which the pushes need too) is taken only
    when an outcome is there to copy."""
    tenant_id, rollout_id = req["tenant_id"], req["rollout_id"]
    finished: list[records.Finished] = []
    with database().session() as session:
        ended = records.any_ended(session, tenant_id, rollout_id)
    if ended:
        with database().transaction() as session:
            finished = records.sync_outcomes(session, tenant_id, rollout_id)
    with database().session() as session:
        rollout = records.get(session, tenant_id, rollout_id)
        counts = records.status_counts(session, tenant_id, rollout_id)
        failures = records.failures(session, tenant_id, rollout_id)
        return {
            "finished": finished,
            "policy": dict(rollout.policy),
            "abort": rollout.abort_requested,
            "failures": failures,
            "fresh_failures": failures - rollout.acknowledged_failures,
            "total": sum(n for status, n in counts.items() if status != "skipped"),
            "in_flight": counts.get("submitted", 0),
            "pending": records.pending_in_wave(session, tenant_id, rollout_id, wave, room_hint),
        }


def _quiet(req: dict[str, Any]) -> bool:
    """Whether nothing happened since the last look: no push of the rollout ended and no
    abort was asked for (two small reads, where a full look is six)."""
    tenant_id, rollout_id = req["tenant_id"], req["rollout_id"]
    with database().session() as session:
        if records.any_ended(session, tenant_id, rollout_id):
            return False
        return not records.get(session, tenant_id, rollout_id).abort_requested


def _script(req: dict[str, Any], target_id: int) -> tuple[str | None, str, str]:
    """The router's current name (None: the router is gone), its rendered change, and
    who the push is for: the rollout's requester, through the rollout."""
    with database().session() as session:
        target = session.get(RolloutTarget, target_id)
        assert target is not None and target.script_enc is not None
        asked = records.get(session, req["tenant_id"], req["rollout_id"]).requested_by
        via = f"rollout {req['rollout_id'][:12]}"
        by = f"{asked} ({via})" if asked else via
        if target.device_id is None:
            _mark_unstarted(req, target_id, "not started: the router was removed")
            return None, "", by
        ref = rollout_script_ref(req["rollout_id"], target.device_id)
        text = records.decrypt(
            session, req["tenant_id"], ROLLOUT_SCRIPT_PURPOSE, ref, target.script_enc
        )
        name = store_devices.get_device(session, req["tenant_id"], target.device_id).name
        return name, text, by


def _mark_unstarted(req: dict[str, Any], target_id: int, why: str) -> None:
    """Nothing was sent to the router: it counts as failed (and so can halt)."""
    with database().transaction() as session:
        target = session.get(RolloutTarget, target_id)
        assert target is not None and target.tenant_id == req["tenant_id"]
        target.status, target.outcome, target.reason = "done", "failed", why


def _mark_submitted(req: dict[str, Any], target_id: int, op_id: str) -> None:
    with database().transaction() as session:
        target = session.get(RolloutTarget, target_id)
        assert target is not None and target.tenant_id == req["tenant_id"]
        target.status = "submitted"
        target.op_id = op_id


async def _submit_one(req: dict[str, Any], target_id: int, policy: dict[str, Any]) -> str | None:
    """One guarded push through the push service, keyed so it never runs twice.

    Submitted from a fresh context: the push is its own workflow on the push queue
    (partitioned by router), not a child DBOS would tie to this step.
    """
    name, script, by = await asyncio.to_thread(_script, req, target_id)
    if name is None:
        return None
    push = push_ops.PushRequest(
        devices=[name],
        mode="merge",
        script=script,
        window=float(policy["window"]),
        checks=[(str(c[0]), str(c[1])) for c in policy.get("checks") or []],
        idempotency_key=f"rollout-{req['rollout_id']}",
        requested_by=by,
    )
    settings = current_settings()
    task = asyncio.get_running_loop().create_task(
        push_ops.submit(database(), settings, req["tenant_id"], push),
        context=contextvars.Context(),
    )
    try:
        [sub] = await task
    except StoreError as exc:  # the router was removed or renamed since the rollout began
        await asyncio.to_thread(_mark_unstarted, req, target_id, f"not started: {exc}")
        return None
    await asyncio.to_thread(_mark_submitted, req, target_id, sub.op_id)
    return sub.op_id


@DBOS.step(name="tikguard.rollout.run_wave")
async def step_run_wave(req: dict[str, Any], wave: int) -> dict[str, Any]:
    """Push the wave's routers (admission-controlled) and wait for their outcomes.

    Safe to run again after a crash: submitted routers are found again by their key.
    Stops admitting at an abort or when the halt policy is exceeded.
    """
    settings = current_settings()
    poll = max(0.1, 2 * settings.engine_polling_interval)
    admitted_with: dict[str, int] = {}
    adm = STATE.of(Admissions).running.get(req["rollout_id"])
    if adm is not None:
        adm.too_slow = None  # an operator continued past it: measure again
    waiting = False
    while True:
        if waiting and await asyncio.to_thread(_quiet, req):
            await asyncio.sleep(poll)
            continue
        look = await asyncio.to_thread(_look, req, wave, adm.limit if adm else 1)
        policy = look["policy"]
        if adm is None:
            adm = _admission_for(req, float(policy["window"]))
        for done in look["finished"]:
            if done.armed_at is not None and done.finished_at is not None:
                took = (done.finished_at - done.armed_at).total_seconds()
                adm.observe(admitted_with.get(done.op_id, look["in_flight"] + 1), took)
        halt = HaltPolicy(int(policy.get("max_failures") or 0), policy.get("max_failure_percent"))
        halted = halt.halts(look["fresh_failures"], look["total"])
        slow = adm.slow_reason()
        stop = look["abort"] or halted or slow is not None
        in_flight = int(look["in_flight"])
        unstarted = False
        if not stop and look["pending"]:
            load = await fleet_workers.push_load(settings, database())
            for target_id in look["pending"][: adm.room(in_flight, load)]:
                in_flight, load = in_flight + 1, max(load, in_flight) + 1
                op_id = await _submit_one(req, target_id, policy)
                if op_id is None:
                    in_flight, load = in_flight - 1, load - 1
                    unstarted = True
                    continue
                admitted_with[op_id] = load
        # full of its own pushes, or none left to start: until a push ends or an abort
        # comes (a quiet look sees both) the counts, failures and room stay as they are;
        # room that others' pushes (the load) hold is looked at on every poll
        full = in_flight >= adm.limit or not look["pending"]
        waiting = full and not (stop or unstarted)
        if in_flight == 0 and (stop or not look["pending"]):
            reason = slow
            if halted:
                reason = (
                    f"halted: {look['failures']} router(s) ended other than committed "
                    f"(tolerated: {halt.allowed(look['total'])})"
                )
            return {
                "aborted": bool(look["abort"]),
                "halted": bool((halted or slow) and not look["abort"]),
                "reason": reason,
                "failures": look["failures"],
                "admission": adm.as_json(),
                "at": time.time(),
            }
        await asyncio.sleep(poll)
