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

Step results never contain credentials or scripts in clear: steps load the
device's password from the vault themselves, and scripts travel encrypted.
"""

from __future__ import annotations

from typing import Any

from dbos import DBOS

from tikguard.device import guard as dev
from tikguard.ops.push.context import current_settings, forget_session, margin
from tikguard.ops.push.evidence import Evidence, Verdict, classify
from tikguard.ops.push.steps import (
    clock,
    durable_sleep,
    emit,
    finish,
    forget_events,
    step_after_commit,
    step_apply,
    step_arm,
    step_commit,
    step_fire_revert,
    step_pre_push_backup,
    step_preflight,
    step_prove,
    step_revert_point,
    step_verify,
    step_wait_up,
)
from tikguard.settings import Settings

CONFIRM_TOPIC = "confirm"
#: A message on the confirm topic that asks a waiting push to revert instead.
REVERT_MESSAGE = "revert:"
#: The push workflow's durable name (recovery and enqueueing find it by this name).
WORKFLOW_NAME = "tikguard.push.push_workflow"


# -- the workflow ----------------------------------------------------------------


def _boot(up: dict[str, float] | None, scale: float) -> tuple[float | None, float]:
    if not up:
        return None, 0.0
    return dev.Uptime(**up).boot(scale)


def build_evidence(
    settings: Settings,
    pre: dict[str, Any],
    after: dict[str, Any],
    **fields: Any,
) -> Evidence:
    boot_b, half_b = _boot(pre.get("uptime"), settings.time_scale)
    boot_a, half_a = _boot(after.get("uptime"), settings.time_scale)
    return Evidence(
        pre_hash=pre.get("pre_hash"),
        after_hash=after.get("after_hash"),
        uptime_before=(pre.get("uptime") or {}).get("uptime"),
        uptime_after=(after.get("uptime") or {}).get("uptime"),
        boot_before=boot_b,
        boot_after=boot_a,
        boot_slack=half_a + half_b + 2.0,
        timer_present=after.get("timer_present"),
        **fields,
    )


@DBOS.workflow(name="tikguard.push.push_workflow")
async def push_workflow(req: dict[str, Any]) -> dict[str, Any]:
    """One guarded push of one device. ``req`` holds ids and encrypted scripts only.

    Whatever goes wrong inside, the operation ends with an outcome: an unexpected error
    after arming still waits for the router's timer and proves what happened.
    """
    state: dict[str, Any] = {}
    forget_events(req)
    try:
        return await _guarded_push(req, state)
    except Exception as exc:
        why = f"internal error: {type(exc).__name__}: {exc}"
        await emit(req, "error", why, level="error")
        if "deadline" in state:
            try:
                return await _revert_and_prove(
                    req, state["prep"], state["pre"], state["deadline"], why, fire=True
                )
            except Exception as again:
                why = f"{why}; then {type(again).__name__}: {again}"
        ev = Evidence(
            wrote_nothing="arming" not in state, applied=False if "arming" not in state else None
        )
        return await _end(req, classify(ev, failure=why), ev, state.get("prep", {}))


async def _guarded_push(req: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    settings = current_settings()
    window = float(req["window"])
    await emit(req, "preflight", "reading the router (read-only)")
    prep = await step_preflight(req)
    if not prep["ok"]:
        ev = Evidence(
            wrote_nothing=not prep.get("wrote", False),
            pre_hash=prep.get("running_hash"),
            after_hash=prep.get("running_hash"),
            applied=False,
            timer_present=prep.get("timer_present"),
        )
        return await _end(req, classify(ev, failure=prep["reason"]), ev, prep)
    planned = {"plan": prep["plan"], "drift": prep["drift"]}
    await emit(req, "plan", "change planned", data=planned, defer=True)

    pre = await step_pre_push_backup(req)
    if not pre["ok"]:
        ev = Evidence(wrote_nothing=True, applied=False)
        return await _end(req, classify(ev, failure=pre["reason"]), ev, prep)
    await emit(req, "pre-push-backup", f"pre-push version {pre['version']} stored")

    rp = await step_revert_point(req, prep["on_flash"])
    if not rp["ok"]:
        ev = Evidence(wrote_nothing=True, applied=False)
        return await _end(req, classify(ev, failure=rp["reason"]), ev, prep)
    await emit(
        req, "revert-point", f"revert point {rp['file']} saved ({rp['size']} bytes)", defer=True
    )

    state.update(prep=prep, pre=pre, arming=True)
    arm = await step_arm(req, prep["on_flash"])
    if not arm["ok"]:
        # nothing is applied: make sure no timer of ours is left (a router that lost
        # power while arming comes back with it), then prove the config is untouched
        until = await clock() + settings.seconds(settings.push_boot_wait)
        proof = await step_prove(req, prep, until, disarm=True)
        await emit(req, "disarm", _proof_text(proof), data=proof)
        ev = build_evidence(settings, pre, proof, applied=False)
        return await _end(req, classify(ev, failure=arm["reason"]), ev, prep)
    deadline = float(arm["deadline"])
    state["deadline"] = deadline
    commit_by = deadline - settings.seconds(margin(settings, window))
    await emit(
        req,
        "armed",
        f"revert timer armed: fires in {window:g} s (next-run {arm['next_run']})",
        data={"deadline": deadline, "commit_by": commit_by, "next_run": arm["next_run"]},
    )

    applied = await step_apply(req, prep, commit_by)
    if applied["status"] != "ok":
        await emit(req, "apply", applied["reason"], level="error")
        # an error, a lost session or a restart mid-import all leave an unknown partial
        # state: revert now rather than wait (too late to apply means nothing applied)
        fire = applied["status"] != "late"
        return await _revert_and_prove(req, prep, pre, deadline, applied["reason"], fire=fire)
    await emit(req, "apply", "change applied", data={"output": applied.get("output", "")[-2000:]})

    settle = min(settings.seconds(settings.push_settle), commit_by - await clock())
    await durable_sleep(settle)
    # the reference for "the router stayed up": the pre-push read, or for a replace
    # (which reboots by design) the first read after that reboot
    stayed_up_since = pre
    if req["mode"] == "replace":
        up = await step_wait_up(req, commit_by)
        await emit(req, "boot", up["note"])
        if up.get("uptime"):
            stayed_up_since = {**pre, "uptime": up["uptime"]}
    verify = await step_verify(req, prep, stayed_up_since.get("uptime"))
    if not verify["reachable"] or not verify["converged"] or verify.get("checks_ok") is False:
        why = verify.get("reason") or (
            "health check failed: " + "; ".join(verify.get("checks", []))
            if verify.get("checks_ok") is False
            else verify.get("convergence", "")
        )
        await emit(req, "verify", f"verification failed: {why}", level="error", data=verify)
        return await _revert_and_prove(
            req, prep, pre, deadline, f"verification failed: {why}", fire=verify["reachable"]
        )
    await emit(req, "verify", "fresh connection, checks and read-back passed", data=verify)

    if req.get("confirm") == "manual":
        await emit(req, "waiting-confirm", "waiting for `tikguard confirm` before the margin")
        got = await DBOS.recv_async(
            CONFIRM_TOPIC, timeout_seconds=max(0.001, commit_by - await clock())
        )
        if got is None:
            return await _revert_and_prove(
                req, prep, pre, deadline, "no confirm before the margin", fire=True
            )
        if str(got).startswith(REVERT_MESSAGE):  # tikguard revert OP
            why = f"revert requested by {str(got).removeprefix(REVERT_MESSAGE)}"
            return await _revert_and_prove(req, prep, pre, deadline, why, fire=True)
        await emit(req, "confirmed", f"confirmed by {got}")

    commit = await step_commit(req, prep, commit_by, stayed_up_since.get("uptime"))
    if not commit.get("committed"):
        resumed_gone = bool(commit.get("already_gone") and commit.get("resumed"))
        if resumed_gone:
            # An earlier run of this step was removing the timer when the controller
            # stopped. Gone without a reboot means our removal landed; a reboot means
            # the timer fired instead.
            resumed_gone = build_evidence(settings, stayed_up_since, commit).rebooted() is False
        if not resumed_gone:
            why = commit.get("reason") or "revert timer already gone: the router is reverting"
            await emit(req, "commit", why, level="error")
            # a commit that lost its session may have removed the timer: the proof then
            # also compares the read-back config with the target
            lost = not (commit.get("already_gone") or commit.get("late") or commit.get("rebooted"))
            return await _revert_and_prove(
                req, prep, pre, deadline, why, fire=False, committing=verify if lost else None
            )
        commit = {**commit, "removed": True, "timer_present": False}
    await emit(req, "commit", "revert timer removed and read back gone", defer=True)
    post = await step_after_commit(req, prep)
    # "stayed up" is judged up to the commit's own uptime read: once the timer is
    # removed (read back), a later reboot cannot revert anything
    ev = build_evidence(
        settings,
        stayed_up_since,
        {**post, "uptime": commit.get("uptime"), "timer_present": commit.get("timer_present")},
        applied=True,
        armed=True,
        timer_removed_by_us=bool(commit.get("removed")),
        reachable_fresh=True,
        converged=True,
        checks_ok=verify.get("checks_ok"),
        import_ok=True,
    )
    if post.get("post_version"):
        await emit(
            req, "post-push-backup", f"post-push version {post['post_version']} stored", defer=True
        )
    return await _end(req, classify(ev), ev, prep, extra={"post": post, "verify": verify})


async def _revert_and_prove(
    req: dict[str, Any],
    prep: dict[str, Any],
    pre: dict[str, Any],
    deadline: float,
    why: str,
    *,
    fire: bool,
    committing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Wait for the revert (or fire it) and classify from what the router shows.

    ``committing``: the passed verification of a commit that lost its read-back; the
    proof then also judges the read-back config against the target, so a timer our
    removal took away (config == target, not pre-push, after the deadline) is proven
    committed rather than left uncertain.
    """
    settings = current_settings()
    fired: dict[str, Any] = {"fired": False}
    if fire and await clock() < deadline:
        fired = await step_fire_revert(req, prep["on_flash"])
    if fired["fired"]:
        await emit(req, "revert", "revert point loaded by tikguard; the router reboots")
        start_proving = await clock() + settings.seconds(2.0)
    else:
        await emit(req, "revert", "waiting for the router's revert timer")
        start_proving = deadline
    await durable_sleep(start_proving - await clock())
    until = max(deadline, start_proving) + settings.seconds(settings.push_boot_wait)
    fire_after = deadline + settings.seconds(settings.push_settle)
    proof = await step_prove(
        req, prep, until, fire_after=fire_after, check_target=committing is not None
    )
    await emit(req, "prove", _proof_text(proof), data=proof)
    by_us = bool(fired["fired"] or proof.get("fired_late"))
    extra_fields: dict[str, Any] = {}
    if committing is not None:
        read_at = proof.get("read_at")
        extra_fields = {
            "commit_attempted": True,
            "reachable_fresh": bool(proof.get("reachable")),
            "converged": proof.get("converged"),
            "read_after_deadline": None if read_at is None else float(read_at) > deadline,
            "checks_ok": committing.get("checks_ok"),
            "import_ok": True,
        }
    ev = build_evidence(
        settings, pre, proof, applied=True, revert_fired_by_us=by_us, **extra_fields
    )
    return await _end(req, classify(ev, failure=why), ev, prep, extra={"proof": proof})


def _proof_text(proof: dict[str, Any]) -> str:
    if not proof.get("reachable"):
        return f"the router did not answer: {proof.get('last_error', 'no connection')}"
    timer = "still armed" if proof.get("timer_present") else "gone"
    uptime = (proof.get("uptime") or {}).get("uptime")
    return f"router answers: uptime {uptime} s, revert timer {timer}, config read back"


async def _end(
    req: dict[str, Any],
    outcome: Verdict,
    ev: Evidence,
    prep: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    evidence = {
        **ev.as_dict(),
        "outcome_unknowns": list(outcome.unknowns),
        "plan": prep.get("plan"),
        "preflight": {
            k: prep.get(k)
            for k in ("version", "free_bytes", "clock", "clock_source", "drift", "problems")
        },
        **(extra or {}),
    }
    await finish(req, outcome.kind, outcome.reason, evidence)
    await forget_session(req)
    return {"outcome": outcome.kind, "reason": outcome.reason}
