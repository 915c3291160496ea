"""The guarded push as a durable DBOS workflow (docs/push.md, "The protocol").

Each device interaction is a step whose result DBOS records, each wait a durable
sleep, so a controller killed at any point resumes where it stopped; the router's own
timer keeps real time meanwhile. All waits are device seconds divided by
``settings.time_scale``.

Safety rules that hold whatever the interleaving of crashes:

* nothing is applied, and nothing is committed, after ``deadline - margin`` (checked
  inside the step, at the moment it acts, so a resumed workflow obeys it too);
* the apply step runs at most once: a marker in the operation row makes a re-run
  after a crash report "interrupted" (unknown partial state: revert) instead of
  importing again;
* ``committed`` is only recorded by :func:`tikguard.ops.push.evidence.classify` from
  read-backs; every other path ends in "revert and prove".

Step results are typed (:mod:`tikguard.ops.push.results`) and recorded as JSON; they
never contain credentials or scripts in clear: steps load the device's password from
the vault themselves, and scripts travel encrypted. The workflow's recorded input is
the JSON form of a :class:`~tikguard.ops.push.results.PushSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, TypedDict, cast

from dbos import DBOS

from tikguard.ops.push.context import current_settings, margin
from tikguard.ops.push.events import emit, finish, forget_events
from tikguard.ops.push.evidence import Evidence, OutcomeKind, Verdict, classify
from tikguard.ops.push.live import forget
from tikguard.ops.push.recorded import clock, durable_sleep
from tikguard.ops.push.results import (
    ApplyStatus,
    Preflight,
    PrePush,
    Proof,
    PushEvidence,
    PushSpec,
    Recordable,
    UptimeJson,
    Verified,
    boot_of,
)
from tikguard.ops.push.steps import (
    step_apply,
    step_arm,
    step_fire_revert,
    step_pre_push_backup,
    step_preflight,
    step_revert_point,
    step_wait_up,
)
from tikguard.ops.push.verify import step_after_commit, step_commit, step_prove, step_verify
from tikguard.settings import Settings

CONFIRM_TOPIC = "confirm"
#: A message on the confirm topic that asks a waiting push to revert instead.
REVERT_MESSAGE = "revert:"
#: The push workflow's durable name (recovery and enqueueing find it by this name).
WORKFLOW_NAME = "tikguard.push.push_workflow"


class Ended(TypedDict):
    """The workflow's recorded output: the outcome and its reason."""

    outcome: OutcomeKind
    reason: str


#: Recorded step answers an outcome's evidence keeps whole, by key.
Answers = dict[Literal["post", "verify", "proof"], Recordable]


@dataclass(frozen=True)
class ReadBack:
    """The last read of the router an outcome is judged on."""

    uptime: UptimeJson | None = None
    after_hash: str | None = None
    timer_present: bool | None = None


@dataclass
class Progress:
    """How far a push got (for an unexpected error: what is left to prove)."""

    prep: Preflight | None = None
    pre: PrePush | None = None
    arming: bool = False
    deadline: float | None = None


def build_evidence(
    settings: Settings,
    pre_hash: str | None,
    before: UptimeJson | None,
    after: ReadBack,
) -> Evidence:
    """Evidence from the pre-push read (hash, uptime) and the last read-back (callers
    add what they know with :func:`dataclasses.replace`)."""
    boot_b, half_b = boot_of(before, settings.time_scale)
    boot_a, half_a = boot_of(after.uptime, settings.time_scale)
    return Evidence(
        pre_hash=pre_hash,
        after_hash=after.after_hash,
        uptime_before=before.get("uptime") if before else None,
        uptime_after=after.uptime.get("uptime") if after.uptime else None,
        boot_before=boot_b,
        boot_after=boot_a,
        boot_slack=half_a + half_b + 2.0,
        timer_present=after.timer_present,
    )


@DBOS.workflow(name="tikguard.push.push_workflow")
async def push_workflow(req: dict[str, object]) -> Ended:
    """One guarded push of one device. ``req`` holds ids and encrypted scripts only.

    Whatever goes wrong inside, the operation ends with an outcome: an unexpected error
    after arming still waits for the router's timer and proves what happened.
    """
    spec = PushSpec.of(req)
    progress = Progress()
    forget_events(spec)
    try:
        return await _guarded_push(spec, progress)
    except Exception as exc:
        why = f"internal error: {type(exc).__name__}: {exc}"
        await emit(spec, "error", why, level="error")
        if progress.deadline is not None and progress.prep and progress.pre:
            try:
                return await _revert_and_prove(
                    spec, progress.prep, progress.pre, progress.deadline, why, fire=True
                )
            except Exception as again:
                why = f"{why}; then {type(again).__name__}: {again}"
        ev = Evidence(
            wrote_nothing=not progress.arming, applied=False if not progress.arming else None
        )
        return await _end(spec, classify(ev, failure=why), ev, progress.prep or Preflight())


async def _guarded_push(spec: PushSpec, progress: Progress) -> Ended:
    settings = current_settings()
    await emit(spec, "preflight", "reading the router (read-only)")
    prep = await step_preflight(spec)
    if not prep.ok:
        ev = Evidence(
            wrote_nothing=not prep.wrote,
            pre_hash=prep.running_hash,
            after_hash=prep.running_hash,
            applied=False,
            timer_present=prep.timer_present,
        )
        return await _end(spec, classify(ev, failure=prep.reason or ""), ev, prep)
    progress.prep = prep
    planned: dict[str, object] = {"plan": prep.plan, "drift": prep.drift}
    await emit(spec, "plan", "change planned", data=planned, defer=True)

    pre = await step_pre_push_backup(spec)
    if not pre.ok:
        ev = Evidence(wrote_nothing=True, applied=False)
        return await _end(spec, classify(ev, failure=pre.reason or ""), ev, prep)
    await emit(spec, "pre-push-backup", f"pre-push version {pre.version} stored")

    rp = await step_revert_point(spec, prep.on_flash)
    if not rp.ok:
        ev = Evidence(wrote_nothing=True, applied=False)
        return await _end(spec, classify(ev, failure=rp.reason or ""), ev, prep)
    await emit(spec, "revert-point", f"revert point {rp.file} saved ({rp.size} bytes)", defer=True)

    progress.pre, progress.arming = pre, True
    arm = await step_arm(spec, prep.on_flash)
    if not arm.ok:
        # nothing is applied: make sure no timer of ours is left (a router that lost
        # power while arming comes back with it), then prove the config is untouched
        until = await clock() + settings.seconds(settings.push_boot_wait)
        proof = await step_prove(spec, prep, until, disarm=True)
        await emit(spec, "disarm", proof.describe(), data=proof.to_json())
        ev = replace(
            build_evidence(settings, pre.pre_hash, pre.uptime, _read_back(proof)), applied=False
        )
        return await _end(spec, classify(ev, failure=arm.reason or ""), ev, prep)
    deadline = arm.deadline
    progress.deadline = deadline
    commit_by = deadline - settings.seconds(margin(settings, spec.window))
    await emit(
        spec,
        "armed",
        f"revert timer armed: fires in {spec.window:g} s (next-run {arm.next_run})",
        data={"deadline": deadline, "commit_by": commit_by, "next_run": arm.next_run},
    )

    applied = await step_apply(spec, prep, commit_by)
    if not applied.ok:
        why = applied.reason or applied.status.value
        await emit(spec, "apply", why, level="error")
        # an error, a lost session or a restart mid-import all leave an unknown partial
        # state: revert now rather than wait (too late to apply means nothing applied)
        fire = applied.status is not ApplyStatus.LATE
        return await _revert_and_prove(spec, prep, pre, deadline, why, fire=fire)
    await emit(spec, "apply", "change applied", data={"output": applied.output[-2000:]})

    settle = min(settings.seconds(settings.push_settle), commit_by - await clock())
    await durable_sleep(settle)
    # the reference for "the router stayed up": the pre-push read, or for a replace
    # (which reboots by design) the first read after that reboot
    stayed_up_since = pre.uptime
    if spec.mode == "replace":
        up = await step_wait_up(spec, commit_by)
        await emit(spec, "boot", up.reason or "")
        if up.uptime:
            stayed_up_since = up.uptime
    verify = await step_verify(spec, prep, stayed_up_since)
    if not verify.ok:
        why = f"verification failed: {verify.failure()}"
        await emit(spec, "verify", why, level="error", data=verify.to_json())
        return await _revert_and_prove(spec, prep, pre, deadline, why, fire=verify.reachable)
    await emit(
        spec, "verify", "fresh connection, checks and read-back passed", data=verify.to_json()
    )

    if spec.confirm == "manual":
        await emit(spec, "waiting-confirm", "waiting for `tikguard confirm` before the margin")
        got = await DBOS.recv_async(
            CONFIRM_TOPIC, timeout_seconds=max(0.001, commit_by - await clock())
        )
        if got is None:
            return await _revert_and_prove(
                spec, prep, pre, deadline, "no confirm before the margin", fire=True
            )
        if str(got).startswith(REVERT_MESSAGE):  # tikguard revert OP
            why = f"revert requested by {str(got).removeprefix(REVERT_MESSAGE)}"
            return await _revert_and_prove(spec, prep, pre, deadline, why, fire=True)
        await emit(spec, "confirmed", f"confirmed by {got}")

    commit = await step_commit(spec, prep, commit_by, stayed_up_since)
    if not commit.ok:
        resumed_gone = commit.already_gone and commit.resumed
        if resumed_gone:
            # An earlier run of this step was removing the timer when the controller
            # stopped. Gone without a reboot means our removal landed; a reboot means
            # the timer fired instead.
            read = ReadBack(uptime=commit.uptime)
            stayed = build_evidence(settings, None, stayed_up_since, read).rebooted() is False
            resumed_gone = stayed
        if not resumed_gone:
            why = commit.reason or "revert timer already gone: the router is reverting"
            await emit(spec, "commit", why, level="error")
            # a commit that lost its session may have removed the timer: the proof then
            # also compares the read-back config with the target
            lost = not (commit.already_gone or commit.late or commit.rebooted)
            return await _revert_and_prove(
                spec, prep, pre, deadline, why, fire=False, committing=verify if lost else None
            )
        commit = replace(commit, removed=True, timer_present=False)
    await emit(spec, "commit", "revert timer removed and read back gone", defer=True)
    post = await step_after_commit(spec, prep)
    # "stayed up" is judged up to the commit's own uptime read: once the timer is
    # removed (read back), a later reboot cannot revert anything
    read = ReadBack(commit.uptime, post.after_hash, commit.timer_present)
    ev = replace(
        build_evidence(settings, pre.pre_hash, stayed_up_since, read),
        applied=True,
        armed=True,
        timer_removed_by_us=commit.removed,
        reachable_fresh=True,
        converged=True,
        checks_ok=verify.checks_ok,
        import_ok=True,
    )
    if post.post_version:
        message = f"post-push version {post.post_version} stored"
        await emit(spec, "post-push-backup", message, defer=True)
    return await _end(spec, classify(ev), ev, prep, answers={"post": post, "verify": verify})


def _read_back(proof: Proof) -> ReadBack:
    return ReadBack(proof.uptime, proof.after_hash, proof.timer_present)


async def _revert_and_prove(
    spec: PushSpec,
    prep: Preflight,
    pre: PrePush,
    deadline: float,
    why: str,
    *,
    fire: bool,
    committing: Verified | None = None,
) -> Ended:
    """Wait for the revert (or fire it) and classify from what the router shows.

    ``committing``: the passed verification of a commit that lost its read-back; the
    proof then also judges the read-back config against the target, so a timer our
    removal took away (config == target, not pre-push, after the deadline) is proven
    committed rather than left uncertain.
    """
    settings = current_settings()
    fired = False
    if fire and await clock() < deadline:
        fired = (await step_fire_revert(spec, prep.on_flash)).ok
    if fired:
        await emit(spec, "revert", "revert point loaded by tikguard; the router reboots")
        start_proving = await clock() + settings.seconds(2.0)
    else:
        await emit(spec, "revert", "waiting for the router's revert timer")
        start_proving = deadline
    await durable_sleep(start_proving - await clock())
    until = max(deadline, start_proving) + settings.seconds(settings.push_boot_wait)
    fire_after = deadline + settings.seconds(settings.push_settle)
    proof = await step_prove(
        spec, prep, until, fire_after=fire_after, check_target=committing is not None
    )
    await emit(spec, "prove", proof.describe(), data=proof.to_json())
    by_us = fired or proof.fired_late
    ev = replace(
        build_evidence(settings, pre.pre_hash, pre.uptime, _read_back(proof)),
        applied=True,
        revert_fired_by_us=by_us,
    )
    if committing is not None:
        ev = replace(
            ev,
            commit_attempted=True,
            reachable_fresh=proof.reachable,
            converged=proof.converged,
            read_after_deadline=None if proof.read_at is None else proof.read_at > deadline,
            checks_ok=committing.checks_ok,
            import_ok=True,
        )
    return await _end(spec, classify(ev, failure=why), ev, prep, answers={"proof": proof})


async def _end(
    spec: PushSpec,
    outcome: Verdict,
    ev: Evidence,
    prep: Preflight,
    answers: Answers | None = None,
) -> Ended:
    # (a cast: mypy cannot tell that the evidence's JSON holds none of the extra keys)
    evidence = cast(
        PushEvidence,
        {
            **ev.as_dict(),
            "outcome_unknowns": list(outcome.unknowns),
            "plan": prep.plan,
            "preflight": prep.evidence(),
        },
    )
    for key, answer in (answers or {}).items():
        evidence[key] = answer.to_json()
    await finish(spec, outcome.kind, outcome.reason, evidence)
    await forget(spec)
    return Ended(outcome=outcome.kind, reason=outcome.reason)
