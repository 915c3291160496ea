"""The steps of a guarded push: each device interaction, recorded by DBOS.

Every step returns plain data (recorded, replayed after a crash), catches the device
errors it expects and says what happened; time guards (nothing applied or committed
after ``deadline - margin``) are checked inside the step, at the moment it acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec

from dbos import DBOS
from sqlalchemy import select

import tikguard.ops.push.unexported as unexported
from tikguard import healthcheck
from tikguard.device import guard as dev
from tikguard.device.errors import DeviceError
from tikguard.device.session import DeviceSession
from tikguard.ops import readings
from tikguard.ops.backup.snapshot import read_export
from tikguard.ops.push import boot
from tikguard.ops.push.context import (
    Prepared,
    connect_device,
    current_settings,
    database,
    decrypt_script,
    device_session,
    encrypt_script,
    forget_session,
    hash_of_export,
    keep_export,
    names_for,
    prepared_export,
    take_export,
    uptime_json,
)
from tikguard.ops.push.plan import (
    converged_to,
    merge_converged,
    parse_snippet,
)
from tikguard.ops.push.preflight import preflight
from tikguard.ops.push.revert_key import revert_password
from tikguard.routeros.secrets import redact_data
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.errors import StoreError
from tikguard.store.models import Operation, Trigger

_P = ParamSpec("_P")


def redacted_output(
    step: Callable[_P, Awaitable[dict[str, Any]]],
) -> Callable[_P, Awaitable[dict[str, Any]]]:
    """A step whose recorded output (DBOS keeps it in its system database) has every
    text redacted like stored configs: an import's verbose echo, a device error quoting
    a command. ``script_enc`` (ciphertext) is kept as it is."""

    @functools.wraps(step)
    async def run(*args: _P.args, **kwargs: _P.kwargs) -> dict[str, Any]:
        out = await step(*args, **kwargs)
        kept = {k: v for k, v in out.items() if k == "script_enc"}
        cleaned = redact_data({k: v for k, v in out.items() if k not in kept})
        assert isinstance(cleaned, dict)
        return {**cleaned, **kept}

    return run


# -- time inside the workflow ------------------------------------------------------
# Workflow code must take the same branches when DBOS replays it after a crash, so it
# never reads the clock itself: it asks a step (whose answer is recorded).


@DBOS.step(name="tikguard.push.clock")
async def clock() -> float:
    """The controller's wall clock, recorded (replays return the first answer)."""
    return time.time()


async def durable_sleep(seconds: float) -> None:
    """``DBOS.sleep_async`` that is always recorded: DBOS skips (and does not record) a
    sleep of zero, which would shift every later step on a replay."""
    await DBOS.sleep_async(max(seconds, 0.001))


# -- events and finishing --------------------------------------------------------


#: The operation state a stage's event moves the operation to.
_STATE_AFTER = {"preflight": "running", "waiting-confirm": "waiting", "confirmed": "running"}


#: Events a workflow has noted but not yet written, per operation: they are written
#: with the next event that is not deferred (or the outcome), in one step and one
#: transaction. Replay-safe: a resumed workflow notes the same events again, and a batch
#: already recorded is not written twice.
_pending: dict[str, list[dict[str, Any]]] = {}


async def emit(
    req: dict[str, Any],
    stage: str,
    message: str,
    level: str = "info",
    data: Any = None,
    *,
    defer: bool = False,
) -> None:
    """A durable event row; ``defer``: written with the next one (fewer writes, the
    same rows, each with the time it was noted)."""
    pending = _pending.setdefault(req["op_id"], [])
    pending.append(
        {"stage": stage, "message": message, "level": level, "data": data or {}, "at": time.time()}
    )
    if defer:
        return
    batch = list(pending)
    pending.clear()
    await write_events(req, batch)


def forget_events(req: dict[str, Any]) -> None:
    """Drop what an earlier, abandoned run of this workflow noted in this process."""
    _pending.pop(req["op_id"], None)


#: Event data key naming the workflow step that wrote the event (see :func:`_append`).
STEP_KEY = "_step"


def _already_written(session: Any, req: dict[str, Any], step: int) -> bool:
    """Whether this step's events are stored already: a process killed after the step's
    transaction committed, but before DBOS recorded the step, runs it again on resume
    (in this or another worker) and must not write its events twice."""
    last = session.scalar(
        select(Operation.last_event_seq).where(
            Operation.tenant_id == req["tenant_id"], Operation.id == req["op_id"]
        )
    )
    recent = store_ops.list_events(
        session, req["tenant_id"], req["op_id"], after_seq=max(0, int(last or 0) - 50)
    )
    return any(e.data.get(STEP_KEY) == step for e in recent)


def _append(
    session: Any, req: dict[str, Any], events: list[dict[str, Any]], step: int | None = None
) -> bool:
    """Write ``events`` (once per workflow step: False when they were already there)."""
    if step is not None and _already_written(session, req, step):
        return False
    _write(session, req, events, step)
    return True


def _write(
    session: Any, req: dict[str, Any], events: list[dict[str, Any]], step: int | None
) -> None:
    for event in events:
        data = event["data"] if step is None else {**event["data"], STEP_KEY: step}
        store_ops.append_event(
            session,
            req["tenant_id"],
            req["op_id"],
            stage=event["stage"],
            message=event["message"],
            level=event["level"],
            data=data,
            at=datetime.fromtimestamp(event["at"], UTC),
        )
        state = _STATE_AFTER.get(event["stage"])
        if state is not None:
            with contextlib.suppress(StoreError):  # a finished operation keeps its state
                store_ops.set_state(session, req["tenant_id"], req["op_id"], state)


@DBOS.step(name="tikguard.push.emit")
async def write_events(req: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """Event rows in one transaction (a step, so a resumed workflow does not write them
    twice)."""
    step = DBOS.step_id
    await database().run_async(lambda session: _append(session, req, events, step))


@DBOS.step(name="tikguard.push.finish")
async def _finish(
    req: dict[str, Any],
    outcome: str,
    reason: str,
    evidence: dict[str, Any],
    events: list[dict[str, Any]],
) -> None:
    step = DBOS.step_id

    def write(session: Any) -> None:
        if step is not None and _already_written(session, req, step):
            return  # an earlier run of this step recorded the outcome already
        _write(session, req, events, step)
        store_ops.append_event(
            session,
            req["tenant_id"],
            req["op_id"],
            stage="outcome",
            message=f"{outcome}: {reason}",
            level="info" if outcome in ("committed", "reverted") else "warning",
            data={"outcome": outcome, STEP_KEY: step},
        )
        store_ops.finish_operation(
            session,
            req["tenant_id"],
            req["op_id"],
            outcome,
            evidence={**evidence, "reason": reason},
            error=None if outcome == "committed" else reason,
        )

    await database().run_async(write)


async def finish(req: dict[str, Any], outcome: str, reason: str, evidence: dict[str, Any]) -> None:
    """The outcome (and any deferred events before it) in one transaction."""
    events = _pending.pop(req["op_id"], [])
    await _finish(req, outcome, reason, evidence, events)


# -- steps ---------------------------------------------------------------------


@DBOS.step(name="tikguard.push.step_preflight")
@redacted_output
async def step_preflight(req: dict[str, Any]) -> dict[str, Any]:
    """Read-only: key, version, flash, clock, policies, device-mode, plan, dry-run, drift
    (:func:`tikguard.ops.push.preflight.preflight`, which the dry run uses too)."""
    settings = current_settings()
    target = await asyncio.to_thread(_target, req)
    try:
        async with device_session(req) as session:
            found = await preflight(
                session,
                settings,
                op_id=req["op_id"],
                mode=req["mode"],
                target=target,
                window=float(req["window"]),
            )
    except DeviceError as exc:  # a router never verified: the tenant's uniform words
        return {"ok": False, "reason": f"preflight: {exc.for_tenant()[1]}", "wrote": False}
    keep_export(req, found.prepared)
    drift = await asyncio.to_thread(_drift, req, found.running_hash)
    facts = found.facts
    return {
        "ok": found.ok,
        "reason": found.reason,
        "problems": list(found.problems),
        "wrote": False,  # the dry-run file is removed again; no config was touched
        "on_flash": found.on_flash,
        "version": facts.version,
        "running_hash": found.running_hash,
        "timer_present": found.timer_present,
        "drift": drift,
        "plan": found.plan.as_json(),
        "script_enc": encrypt_script(database(), req["tenant_id"], req["op_id"], found.plan.script),
        "free_bytes": facts.resource.free_bytes,
        "clock": facts.clock.isoformat() if facts.clock else None,
        "clock_source": found.clock_source,
        "dry_run": None if found.dry_run is None else found.dry_run.as_json(),
    }


def _target(req: dict[str, Any]) -> str:
    """What the push goes to: the restore's version with its secrets, or the script."""
    from tikguard.routeros.secrets import merge_text_secrets

    if req["mode"] != "restore":
        return decrypt_script(req, req["script_enc"])
    with database().session() as session:
        version = store_versions.get_version(session, req["tenant_id"], req["version_id"])
        text = store_versions.version_text(version)
        secrets = store_versions.get_secrets(session, req["tenant_id"], version)
    return merge_text_secrets(text, secrets)


def _drift(req: dict[str, Any], running_hash: str) -> bool | None:
    with database().session() as session:
        newest = store_versions.latest_version(session, req["tenant_id"], req["device_id"])
    return None if newest is None else newest.sha256 != running_hash


@DBOS.step(name="tikguard.push.step_pre_push_backup")
@redacted_output
async def step_pre_push_backup(req: dict[str, Any]) -> dict[str, Any]:
    """Store the running config as a version (trigger pre-push) and read the uptime.

    The config is the one the preflight just read (nothing was written since); after a
    controller restart it is read again. Both over the push's session.
    """
    settings = current_settings()
    prepared = take_export(req)
    try:
        async with device_session(req) as session:
            if prepared is None:
                raw = await read_export(session, settings, None)
                prepared = (await asyncio.to_thread(prepared_export, raw))[1]
            up = await dev.read_uptime(session)
            host_key = session.host_key
    except DeviceError as exc:
        return {"ok": False, "reason": f"pre-push backup: {exc}"}
    except ValueError as exc:
        return {"ok": False, "reason": f"pre-push backup: the export cannot be read: {exc}"}
    try:
        seq, version_id, pre_hash = await _store_version(req, prepared, host_key, Trigger.PRE_PUSH)
    except StoreError as exc:
        return {"ok": False, "reason": f"pre-push backup failed: {exc}"}
    return {
        "ok": True,
        "version": seq,
        "version_id": version_id,
        "pre_hash": pre_hash,
        "uptime": uptime_json(up),
    }


async def _store_version(
    req: dict[str, Any], prepared: Prepared, host_key: str, trigger: Trigger
) -> tuple[int, int, str]:
    """Record a config read over the push's session (pinned key) as a version, through
    the one write path a backup uses too: ``(seq, id, hash)``."""
    redacted, secrets, ros_version, model = prepared
    reading = readings.Reading(req["device_id"], redacted, secrets, ros_version, model, host_key)
    rec = await readings.record(
        database(), req["tenant_id"], reading, trigger=trigger.value, operation_id=req["op_id"]
    )
    if rec.error is not None:
        raise StoreError(str(rec.error))
    if rec.gone or rec.version is None or rec.version_id is None or rec.sha256 is None:
        raise StoreError(f"device {req['device_id']} was removed during the push")
    return rec.version, rec.version_id, rec.sha256


@DBOS.step(name="tikguard.push.step_revert_point")
@redacted_output
async def step_revert_point(req: dict[str, Any], on_flash: bool) -> dict[str, Any]:
    names = names_for(req, on_flash)
    settings = current_settings()
    try:
        async with device_session(req) as session:
            size = await dev.save_revert_point(
                session, names, settings.backup_timeout, revert_password(req)
            )
    except DeviceError as exc:
        # a partial or refused revert point serves nothing: leave no file behind (if the
        # router is gone, the next backup removes it: tikguard.ops.leftovers)
        with contextlib.suppress(DeviceError):
            async with device_session(req) as session:
                await dev.remove_file(session, names.backup_file)
        return {"ok": False, "reason": f"revert point: {exc}", "file": names.backup_file}
    return {"ok": True, "file": names.backup_file, "size": size}


@DBOS.step(name="tikguard.push.step_arm")
@redacted_output
async def step_arm(req: dict[str, Any], on_flash: bool) -> dict[str, Any]:
    """Add the revert timer and read it back; on a bad read-back, disarm and say so."""
    settings = current_settings()
    names = names_for(req, on_flash)
    window = float(req["window"])
    started = time.time()
    deadline = started + settings.seconds(window)
    password = revert_password(req)
    try:
        async with device_session(req) as session:
            if (await boot.timers(session, names)).present:
                # an earlier run of this step added them, then the controller stopped
                # before recording: nothing is applied yet, so start the window afresh
                await boot.remove_timers(session, names)
            await dev.arm(session, names, window, password)
            await boot.arm_boot(session, names, password)
            state = await dev.scheduler_state(session, names)
            problem = _arm_problem(state, window) or boot.boot_problem(
                await boot.boot_state(session, names)
            )
            if problem is None:
                return {
                    "ok": True,
                    "deadline": deadline,
                    "next_run": state.next_run,
                    "interval": state.interval,
                }
            gone = not (await boot.remove_timers(session, names)).present
            return {"ok": False, "reason": problem, "disarmed": gone, "deadline": deadline}
    except DeviceError as exc:
        return {"ok": False, "reason": f"arming: {exc}", "disarmed": None, "deadline": deadline}


def _arm_problem(state: dev.SchedulerState, window: float) -> str | None:
    if not state.present:
        return "the revert scheduler is not there after adding it"
    if state.disabled:
        return "the revert scheduler is disabled"
    if state.interval is None or abs(state.interval - window) > 1:
        return f"the revert scheduler's interval reads back as {state.interval}, not {window:g}"
    if not state.next_run:
        return "the revert scheduler has no next-run"
    return None


@DBOS.step(name="tikguard.push.step_apply")
@redacted_output
async def step_apply(req: dict[str, Any], prep: dict[str, Any], commit_by: float) -> dict[str, Any]:
    """Upload and import the script (or reset-configuration for replace), at most once."""
    if time.time() > commit_by:
        return {"status": "late", "reason": "past deadline minus margin before applying"}
    if await database().run_async(lambda s: _claim_apply(s, req)) is False:
        return {"status": "interrupted", "reason": "the controller stopped during the apply"}
    settings = current_settings()
    names = names_for(req, prep["on_flash"])
    script = decrypt_script(req, prep["script_enc"])
    try:
        async with device_session(req) as session:
            if req["mode"] == "replace":
                password = revert_password(req)
                body = dev.reset_script(names, float(req["window"]), script, password)
                body += "\n" + boot.boot_rearm_script(names, password)
                await session.upload(names.script_file, body.encode("utf-8"))
                with contextlib.suppress(DeviceError):  # the reset reboots: the session ends
                    await dev.reset_configuration(session, names.script_file)
                return {"status": "ok", "output": "reset-configuration issued; rebooting"}
            await session.upload(names.script_file, script.encode("utf-8"))
            result = await dev.run_import(session, names, settings.command_timeout * 5)
    except DeviceError as exc:
        return {"status": "lost", "reason": f"during apply: {exc}"}
    if result.ok:
        return {"status": "ok", "output": result.output[-4000:]}
    return {
        "status": "import-error",
        "reason": f"import error at line {result.line}: {result.error}",
        "output": result.output[-4000:],
        "line": result.line,
    }


def _claim_apply(session: Any, req: dict[str, Any]) -> bool:
    op = store_ops.get_operation(session, req["tenant_id"], req["op_id"])
    if op.evidence.get("apply_started_at"):
        return False
    store_ops.merge_evidence(
        session, req["tenant_id"], req["op_id"], {"apply_started_at": time.time()}
    )
    return True


@DBOS.step(name="tikguard.push.step_fire_revert")
@redacted_output
async def step_fire_revert(req: dict[str, Any], on_flash: bool) -> dict[str, Any]:
    """Load the revert point now (do not wait for the timer)."""
    await forget_session(req)  # the session that applied the change may be dead
    try:
        session = await connect_device(req)
    except DeviceError as exc:
        return {"fired": False, "note": f"could not connect to fire the revert: {exc}"}
    try:
        await dev.load_revert_point(session, names_for(req, on_flash), revert_password(req))
    except DeviceError as exc:
        # the load reboots the router, which often drops the session mid-command
        return {"fired": True, "note": str(exc)}
    finally:
        await session.close()
    return {"fired": True}


@DBOS.step(name="tikguard.push.step_wait_up")
@redacted_output
async def step_wait_up(req: dict[str, Any], commit_by: float) -> dict[str, Any]:
    """After a reset-configuration: wait until the router answers again (or the margin)."""
    settings = current_settings()
    last = "not tried"
    while time.time() < commit_by:
        try:
            async with device_session(req, fresh=True) as session:
                up = await dev.read_uptime(session)
            return {
                "up": True,
                "uptime": uptime_json(up),
                "note": f"router back after the reset (uptime {up.uptime:g} s)",
            }
        except DeviceError as exc:
            last = str(exc)
        await asyncio.sleep(settings.seconds(2.0))
    return {"up": False, "note": f"router not back before the margin: {last}"}


@DBOS.step(name="tikguard.push.step_verify")
@redacted_output
async def step_verify(
    req: dict[str, Any], prep: dict[str, Any], since: dict[str, float] | None = None
) -> dict[str, Any]:
    """Fresh connection, the router stayed up since ``since`` (a boot inside the window
    means it is reverting at boot), health checks, convergence (read back and compare)."""
    settings = current_settings()
    try:
        async with device_session(req, fresh=True) as session:
            up = uptime_json(await dev.read_uptime(session))
            if since and not boot.stayed_up(since, up, settings.time_scale):
                return {
                    "reachable": True,
                    "converged": False,
                    "rebooted": True,
                    "uptime": up,
                    "convergence": "the router rebooted inside the window: it reverts at boot",
                }
            checks_ok, check_notes = await _checks(session, req.get("checks") or [])
            raw = await read_export(session, settings, prep.get("version"))
            extra = await _unexported(session, req, prep)
    except DeviceError as exc:
        return {"reachable": False, "reason": f"fresh connection failed: {exc}"}
    try:
        after_hash, redacted = hash_of_export(raw)
        converged, why = await asyncio.to_thread(_converged, req, prep, redacted)
    except ValueError as exc:  # an export or a target that cannot be read
        return {"reachable": True, "converged": False, "convergence": f"cannot compare: {exc}"}
    if not extra.ok:
        converged, why = False, "; ".join(extra.missing) + f"; {why}"
    return {
        "reachable": True,
        "checks_ok": checks_ok,
        "checks": check_notes,
        "converged": converged,
        "convergence": why[:4000],
        "after_hash": after_hash,
        "unexported": extra.as_json(),
    }


async def _unexported(
    session: DeviceSession, req: dict[str, Any], prep: dict[str, Any]
) -> unexported.Unexported:
    """What the script puts into menus an export never has, read back with a print."""
    if req["mode"] == "restore":  # a stored version holds only what an export holds
        return unexported.Unexported()
    script = decrypt_script(req, prep["script_enc"])
    return await unexported.verify_unexported(session, parse_snippet(script)[0])


async def _checks(session: DeviceSession, checks: list[list[str]]) -> tuple[bool | None, list[str]]:
    if not checks:
        return None, []
    notes: list[str] = []
    ok = True
    for command, pattern in checks:
        try:
            out = await session.run(command, check=False)
        except DeviceError as exc:
            ok = False
            notes.append(f"{command}: {exc}")
            continue
        found = await healthcheck.matches(pattern, out)
        if found:
            notes.append(f"{command}: matched {pattern!r}")
        elif found is None:
            ok = False
            notes.append(
                f"{command}: gave up matching {pattern!r} after "
                f"{healthcheck.MATCH_SECONDS:g} s (the pattern backtracks too much)"
            )
        else:
            ok = False
            notes.append(f"{command}: no match for {pattern!r}; it printed: {_tail(out)}")
    return ok, notes


#: How much of a failed health check's output its note keeps (the end: the summary
#: lines of a print usually close it).
CHECK_OUTPUT_CHARS = 600


def _tail(output: str) -> str:
    """The end of a command's output for a note: the operator sees what did not match."""
    text = output.strip()
    if not text:
        return "(nothing)"
    return text if len(text) <= CHECK_OUTPUT_CHARS else "..." + text[-CHECK_OUTPUT_CHARS:]


def _converged(req: dict[str, Any], prep: dict[str, Any], after_redacted: str) -> tuple[bool, str]:
    from tikguard.routeros.normalise import normalise
    from tikguard.routeros.secrets import split_text_secrets

    names = names_for(req, prep["on_flash"])
    ours = (names.scheduler, boot.boot_names(names).scheduler)
    if req["mode"] == "restore":
        with database().session() as session:
            version = store_versions.get_version(session, req["tenant_id"], req["version_id"])
            target = store_versions.version_text(version)
        return converged_to(after_redacted, target, ignore_scheduler=ours)
    script = decrypt_script(req, prep["script_enc"])
    if req["mode"] == "replace":
        target, _ = split_text_secrets(normalise(script))
        return converged_to(after_redacted, target, ignore_scheduler=ours)
    return merge_converged(after_redacted, split_text_secrets(normalise(script))[0])


@DBOS.step(name="tikguard.push.step_commit")
@redacted_output
async def step_commit(
    req: dict[str, Any],
    prep: dict[str, Any],
    commit_by: float,
    since: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Remove both timers (name + marker) and read back that they are gone, before the
    margin. ``since``: the uptime read the router must have stayed up from."""
    names = names_for(req, prep["on_flash"])
    if time.time() > commit_by:
        return {"committed": False, "late": True, "reason": "past deadline minus margin"}
    claimed = await database().run_async(lambda s: _claim(s, req, "commit_started_at"))
    try:
        async with device_session(req) as session:
            timers = await boot.timers(session, names)
            state = timers.interval
            up = await dev.read_uptime(session)
            rebooted = since is not None and not boot.stayed_up(
                since, uptime_json(up), current_settings().time_scale
            )
            if rebooted and timers.present:
                # a boot inside the window: the boot item is reverting the router
                return {
                    "committed": False,
                    "rebooted": True,
                    "reason": "the router rebooted inside the window: it reverts at boot",
                    "uptime": uptime_json(up),
                }
            if not state.present and timers.boot.present and not claimed and since:
                # an earlier run of this step removed the interval timer, then stopped
                # before the boot item: if the router stayed up since verification, the
                # removal was ours, so finish it
                stayed = boot.stayed_up(since, uptime_json(up), current_settings().time_scale)
                if stayed and time.time() <= commit_by:
                    after = await boot.remove_timers(session, names)
                    return {
                        "committed": not after.present,
                        "removed": not after.present,
                        "timer_present": after.present,
                        "uptime": uptime_json(up),
                    }
            if not state.present:
                # gone before we removed it: the router is reverting, unless an earlier
                # run of this very step removed it (and the router has not rebooted)
                return {
                    "committed": False,
                    "already_gone": True,
                    "resumed": not claimed,
                    "uptime": uptime_json(up),
                }
            if time.time() > commit_by:
                return {"committed": False, "late": True, "reason": "past deadline minus margin"}
            after = await boot.remove_timers(session, names)
            return {
                "committed": not after.present,
                "removed": not after.present,
                "timer_present": after.present,
                "uptime": uptime_json(up),
            }
    except DeviceError as exc:
        return {"committed": False, "reason": f"commit: {exc}"}


def _claim(session: Any, req: dict[str, Any], key: str) -> bool:
    op = store_ops.get_operation(session, req["tenant_id"], req["op_id"])
    if op.evidence.get(key):
        return False
    store_ops.merge_evidence(session, req["tenant_id"], req["op_id"], {key: time.time()})
    return True


@DBOS.step(name="tikguard.push.step_after_commit")
@redacted_output
async def step_after_commit(req: dict[str, Any], prep: dict[str, Any]) -> dict[str, Any]:
    """Remove the revert and script files, read uptime, store the post-push version
    (read over the commit's session)."""
    settings = current_settings()
    names = names_for(req, prep["on_flash"])
    out: dict[str, Any] = {}
    prepared: Prepared | None = None
    try:
        async with device_session(req) as session:
            await dev.remove_file(session, names.backup_file)
            await dev.remove_file(session, names.script_file)
            out["uptime"] = uptime_json(await dev.read_uptime(session))
            out["timer_present"] = (await boot.timers(session, names)).present
            raw = await read_export(session, settings, prep.get("version"))
            host_key = session.host_key
        prepared = (await asyncio.to_thread(prepared_export, raw))[1]
    except DeviceError as exc:
        out["reason"] = f"after commit: {exc}"
        out["post_push_error"] = str(exc)
    except ValueError as exc:
        out["post_push_error"] = f"the export cannot be read: {exc}"
    if prepared is not None:
        try:
            seq, _version_id, sha = await _store_version(req, prepared, host_key, Trigger.POST_PUSH)
            out.update(post_version=seq, after_hash=sha)
        except StoreError as exc:
            out["post_push_error"] = str(exc)
    return out


@DBOS.step(name="tikguard.push.step_prove")
@redacted_output
async def step_prove(
    req: dict[str, Any],
    prep: dict[str, Any],
    until: float,
    *,
    fire_after: float | None = None,
    disarm: bool = False,
    check_target: bool = False,
) -> dict[str, Any]:
    """Reconnect until the router answers with our timer gone (or ``until`` passes).

    Called after the deadline (or after firing the revert ourselves): a router still
    booting refuses connections, one whose timer has not fired yet still shows it.
    Past ``fire_after`` a timer still armed means the router restarted its interval
    (a reboot restarts it): we load the revert point ourselves, as the timer would.
    With ``disarm`` (arming failed, nothing applied) our scheduler is removed instead.
    With ``check_target`` the read-back config is also compared with the target
    (``converged``), and ``read_at`` says when it was read.
    """
    settings = current_settings()
    names = names_for(req, prep["on_flash"])
    last: dict[str, Any] = {"reachable": False}
    fired = False
    while True:
        try:
            async with device_session(req, fresh=True) as session:
                read_at = time.time()  # no read of this proof is older
                up = await dev.read_uptime(session)
                state = await boot.timers(session, names)
                if state.present and disarm:
                    state = await boot.remove_timers(session, names)
                elif state.present and not fired and time.time() > (fire_after or until + 1):
                    fired = True
                    last = {**last, "fired_late": True}
                    await dev.load_revert_point(session, names, revert_password(req))
                    continue
                last = {
                    **last,
                    "reachable": True,
                    "uptime": uptime_json(up),
                    "timer_present": state.present,
                }
                if not state.present or time.time() > until:
                    raw = await read_export(session, settings, prep.get("version"))
                    last["read_at"] = read_at
                    try:
                        last["after_hash"], redacted = hash_of_export(raw)
                        if check_target:
                            last["converged"], why = await asyncio.to_thread(
                                _converged, req, prep, redacted
                            )
                            last["convergence"] = why[:2000]
                    except ValueError as exc:
                        last["export_error"] = str(exc)
                    if not state.present:
                        with contextlib.suppress(DeviceError):
                            await dev.remove_file(session, names.backup_file)
                            await dev.remove_file(session, names.script_file)
                    return last
        except DeviceError as exc:
            last = {**last, "last_error": str(exc)}
        if time.time() > until:
            return last
        await asyncio.sleep(min(settings.seconds(2.0), max(0.0, until - time.time())))
