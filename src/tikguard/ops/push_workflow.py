"""The guarded push as a durable DBOS workflow (DESIGN.md, "The guarded push protocol").

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
* ``committed`` is only recorded by :func:`tikguard.ops.evidence.classify` from
  read-backs; every other path ends in "revert and prove".

Step results never contain credentials or scripts in clear: steps load the
device's password from the vault themselves, and scripts travel encrypted.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import time
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from dbos import DBOS

from tikguard.device.errors import DeviceError
from tikguard.device.probe import probe
from tikguard.device.session import DeviceSession, Target, connect
from tikguard.ops import push_device as dev
from tikguard.ops.engine import current
from tikguard.ops.evidence import Evidence, Outcome, classify
from tikguard.ops.push_plan import (
    converged_to,
    merge_converged,
    plan_merge,
    plan_replace,
    plan_restore,
)
from tikguard.ops.snapshot import prepare, read_export
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.models import Trigger

SCRIPT_PURPOSE = "push-script"
CONFIRM_TOPIC = "confirm"
#: The push workflow's durable name (recovery and enqueueing find it by this name).
WORKFLOW_NAME = "tikguard.push.push_workflow"
_databases: dict[str, Database] = {}


# -- context -------------------------------------------------------------------


def _settings() -> Settings:
    return current().settings


def _db() -> Database:
    settings = _settings()
    url = settings.app_database_url()
    db = _databases.get(url)
    if db is None:
        db = _databases[url] = Database(settings)
    return db


def margin(settings: Settings, window: float) -> float:
    """Device seconds before the deadline after which nothing is applied or committed."""
    return max(settings.push_margin_min, settings.push_margin_fraction * window)


def _target(req: dict[str, Any]) -> Target:
    def load(session: Any) -> Target:
        device = store_devices.get_device(session, req["tenant_id"], req["device_id"])
        password = store_devices.get_password(session, req["tenant_id"], req["device_id"])
        return Target(
            name=device.name,
            host=device.host,
            port=device.port,
            username=device.username,
            password=password or "",
            host_key=device.host_key,
        )

    with _db().session() as session:
        return load(session)


async def _connect(req: dict[str, Any]) -> DeviceSession:
    target = await asyncio.to_thread(_target, req)
    if not target.host_key:
        raise DeviceError(
            target.name,
            f"{target.name} has no pinned host key",
            hint=f"back it up first (tikguard backup {target.name}) to pin its key",
        )
    return await connect(target, _settings())


#: One open session per running push in this process, reused across its steps: a
#: guarded push is about ten device interactions, and an SSH handshake costs more
#: controller CPU than everything else a step does. Verification always opens a fresh
#: connection (that is part of the proof); after a crash the cache is simply empty.
_sessions: dict[str, DeviceSession] = {}


@contextlib.asynccontextmanager
async def _session(req: dict[str, Any], *, fresh: bool = False) -> AsyncIterator[DeviceSession]:
    """The push's cached session (``fresh``: a new TCP + SSH connection replacing it).

    A device error inside the block drops the session, so the next step reconnects.
    """
    op_id = req["op_id"]
    session = None if fresh else _sessions.get(op_id)
    if session is None:
        old = _sessions.pop(op_id, None)
        if old is not None:
            await old.close()
        session = await _connect(req)
        _sessions[op_id] = session
    try:
        yield session
    except DeviceError:
        if _sessions.get(op_id) is session:
            del _sessions[op_id]
        await session.close()
        raise


async def _forget_session(req: dict[str, Any]) -> None:
    session = _sessions.pop(req["op_id"], None)
    if session is not None:
        await session.close()


def decrypt_script(req: dict[str, Any], blob: str) -> str:
    def run(session: Any) -> bytes:
        raw = base64.b64decode(blob)
        data: bytes = _db().vault.decrypt(
            session, req["tenant_id"], SCRIPT_PURPOSE, req["op_id"], raw
        )
        return data

    with _db().session() as session:
        return run(session).decode("utf-8")


def encrypt_script(db: Database, tenant_id: int, op_id: str, script: str) -> str:
    with db.session() as session:
        blob = db.vault.encrypt(session, tenant_id, SCRIPT_PURPOSE, op_id, script.encode())
    return base64.b64encode(blob).decode("ascii")


def _names(req: dict[str, Any], on_flash: bool) -> dev.Names:
    return dev.Names(req["op_id"], on_flash)


def _uptime_json(up: dev.Uptime) -> dict[str, float]:
    return asdict(up)


def _hash_of_export(raw: str) -> tuple[str, str]:
    redacted, _secrets, _version, _model = prepare(raw)
    return store_versions.hash_text(redacted), redacted


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


@DBOS.step(name="tikguard.push.emit")
async def emit(
    req: dict[str, Any], stage: str, message: str, level: str = "info", data: Any = None
) -> None:
    """A durable event row (a step, so a resumed workflow does not write it twice)."""

    def write(session: Any) -> None:
        store_ops.append_event(
            session,
            req["tenant_id"],
            req["op_id"],
            stage=stage,
            message=message,
            level=level,
            data=data or {},
        )
        if stage in ("preflight", "waiting-confirm"):
            state = "waiting" if stage == "waiting-confirm" else "running"
            with contextlib.suppress(Exception):
                store_ops.set_state(session, req["tenant_id"], req["op_id"], state)

    await _db().run_async(write)


@DBOS.step(name="tikguard.push.finish")
async def finish(req: dict[str, Any], outcome: str, reason: str, evidence: dict[str, Any]) -> None:
    def write(session: Any) -> None:
        store_ops.append_event(
            session,
            req["tenant_id"],
            req["op_id"],
            stage="outcome",
            message=f"{outcome}: {reason}",
            level="info" if outcome in ("committed", "reverted") else "warning",
            data={"outcome": outcome},
        )
        store_ops.finish_operation(
            session,
            req["tenant_id"],
            req["op_id"],
            outcome,
            evidence={**evidence, "reason": reason},
            error=None if outcome == "committed" else reason,
        )

    await _db().run_async(write)


# -- steps ---------------------------------------------------------------------


@DBOS.step(name="tikguard.push.step_preflight")
async def step_preflight(req: dict[str, Any]) -> dict[str, Any]:
    """Read-only: key, version, flash, clock, policies, device-mode, plan, dry-run, drift."""
    settings = _settings()
    try:
        async with _session(req) as session:
            facts = await probe(session)
            raw = await read_export(session, settings, facts.version)
            running_hash, redacted = _hash_of_export(raw)
            names = _names(req, bool(facts.has_flash))
            timer = await dev.scheduler_state(session, names)
            plan, script = await asyncio.to_thread(_plan, req, raw, redacted)
            problems = _preflight_problems(req, facts, plan, timer)
            dry: dict[str, Any] | None = None
            if (
                not problems
                and facts.resource.version_tuple >= (7, 16)
                and req["mode"] != "replace"
            ):
                dry = await _dry_run(session, names, script)
                if not dry["ok"]:
                    problems.append(f"/import dry-run rejects the script: {dry['error']}")
    except DeviceError as exc:
        return {"ok": False, "reason": f"preflight: {exc}", "wrote": False}
    drift = await asyncio.to_thread(_drift, req, running_hash)
    return {
        "ok": not problems,
        "reason": "; ".join(problems) if problems else "preflight passed",
        "wrote": False,  # the dry-run file is removed again; no config was touched
        "on_flash": bool(facts.has_flash),
        "version": facts.version,
        "running_hash": running_hash,
        "timer_present": timer.present,
        "drift": drift,
        "plan": plan.as_json(),
        "script_enc": encrypt_script(_db(), req["tenant_id"], req["op_id"], script),
        "free_bytes": facts.resource.free_bytes,
        "clock": facts.clock.isoformat() if facts.clock else None,
        "dry_run": dry,
    }


def _plan(req: dict[str, Any], raw: str, redacted: str) -> tuple[Any, str]:
    from tikguard.ops.history import merge_secrets
    from tikguard.routeros.normalise import normalise

    running_full = normalise(raw)
    mode = req["mode"]
    if mode == "restore":
        with _db().session() as session:
            version = store_versions.get_version(session, req["tenant_id"], req["version_id"])
            text = store_versions.version_text(version)
            secrets = store_versions.get_secrets(session, req["tenant_id"], version)
        plan = plan_restore(running_full, merge_secrets(text, secrets))
        return plan, plan.script
    user_script = decrypt_script(req, req["script_enc"])
    if mode == "merge":
        plan = plan_merge(running_full, user_script)
    else:
        plan = plan_replace(running_full, normalise(user_script))
    return plan, plan.script


def _preflight_problems(
    req: dict[str, Any], facts: Any, plan: Any, timer: dev.SchedulerState
) -> list[str]:
    problems: list[str] = []
    missing = [p for p in dev.REQUIRED_POLICIES if facts.policies is not None]
    missing = [p for p in missing if p not in facts.policies]
    if facts.policies is None:
        problems.append("the login user's policies could not be read")
    elif missing:
        problems.append(f"the login user lacks policies: {', '.join(missing)}")
    if facts.scheduler_allowed is False:
        problems.append("device-mode forbids the scheduler: refusing to push unguarded")
    elif facts.scheduler_allowed is None:
        problems.append("device-mode could not be read: cannot prove the scheduler will run")
    free = facts.resource.free_bytes
    if free is not None and free < 64 * 1024:
        problems.append(f"only {free} bytes free: no room for the revert point")
    if plan.unsupported:
        problems.append(
            "the patch cannot express: " + "; ".join(plan.unsupported[:3]) + " (use replace)"
        )
    if timer.present:
        problems.append("a scheduler of this operation already exists")
    return problems


async def _dry_run(session: DeviceSession, names: dev.Names, script: str) -> dict[str, Any]:
    dry_file = f"{names.stem}-dry.rsc"
    await session.upload(dry_file, script.encode("utf-8"))
    try:
        result = await dev.dry_run_import(session, dry_file)
    finally:
        await dev.remove_file(session, dry_file)
    return {"ok": result.ok, "error": result.error, "line": result.line}


def _drift(req: dict[str, Any], running_hash: str) -> bool | None:
    with _db().session() as session:
        newest = store_versions.latest_version(session, req["tenant_id"], req["device_id"])
    return None if newest is None else newest.sha256 != running_hash


@DBOS.step(name="tikguard.push.step_pre_push_backup")
async def step_pre_push_backup(req: dict[str, Any]) -> dict[str, Any]:
    """Store the running config as a version (trigger pre-push) and read the uptime."""
    from tikguard.ops.backup import backup_device

    settings = _settings()
    result = await backup_device(
        _db(),
        settings,
        req["tenant_id"],
        req["device_id"],
        trigger=Trigger.PRE_PUSH.value,
        operation_id=req["op_id"],
    )
    if not result.ok or result.version_id is None:
        return {"ok": False, "reason": f"pre-push backup failed: {result.message}"}
    with _db().session() as session:
        version = store_versions.get_version(session, req["tenant_id"], result.version_id)
        pre_hash = version.sha256
    try:
        async with _session(req) as session:
            up = await dev.read_uptime(session)
    except DeviceError as exc:
        return {"ok": False, "reason": f"reading uptime: {exc}"}
    return {
        "ok": True,
        "version": result.version,
        "version_id": result.version_id,
        "pre_hash": pre_hash,
        "uptime": _uptime_json(up),
    }


@DBOS.step(name="tikguard.push.step_revert_point")
async def step_revert_point(req: dict[str, Any], on_flash: bool) -> dict[str, Any]:
    names = _names(req, on_flash)
    settings = _settings()
    try:
        async with _session(req) as session:
            size = await dev.save_revert_point(session, names, settings.backup_timeout)
    except DeviceError as exc:
        return {"ok": False, "reason": f"revert point: {exc}", "file": names.backup_file}
    return {"ok": True, "file": names.backup_file, "size": size}


@DBOS.step(name="tikguard.push.step_arm")
async def step_arm(req: dict[str, Any], on_flash: bool) -> dict[str, Any]:
    """Add the revert timer and read it back; on a bad read-back, disarm and say so."""
    settings = _settings()
    names = _names(req, on_flash)
    window = float(req["window"])
    started = time.time()
    deadline = started + settings.seconds(window)
    try:
        async with _session(req) as session:
            if (await dev.scheduler_state(session, names)).present:
                # an earlier run of this step added it, then the controller stopped
                # before recording: nothing is applied yet, so start the window afresh
                await dev.remove_scheduler(session, names)
            await dev.arm(session, names, window)
            state = await dev.scheduler_state(session, names)
            problem = _arm_problem(state, window)
            if problem is None:
                return {
                    "ok": True,
                    "deadline": deadline,
                    "next_run": state.next_run,
                    "interval": state.interval,
                }
            await dev.remove_scheduler(session, names)
            gone = not (await dev.scheduler_state(session, names)).present
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
async def step_apply(req: dict[str, Any], prep: dict[str, Any], commit_by: float) -> dict[str, Any]:
    """Upload and import the script (or reset-configuration for replace), at most once."""
    if time.time() > commit_by:
        return {"status": "late", "reason": "past deadline minus margin before applying"}
    if await _db().run_async(lambda s: _claim_apply(s, req)) is False:
        return {"status": "interrupted", "reason": "the controller stopped during the apply"}
    settings = _settings()
    names = _names(req, prep["on_flash"])
    script = decrypt_script(req, prep["script_enc"])
    try:
        async with _session(req) as session:
            if req["mode"] == "replace":
                body = dev.reset_script(names, float(req["window"]), script)
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
async def step_fire_revert(req: dict[str, Any], on_flash: bool) -> dict[str, Any]:
    """Load the revert point now (do not wait for the timer)."""
    await _forget_session(req)  # the session that applied the change may be dead
    try:
        session = await _connect(req)
    except DeviceError as exc:
        return {"fired": False, "note": f"could not connect to fire the revert: {exc}"}
    try:
        await dev.load_revert_point(session, _names(req, on_flash))
    except DeviceError as exc:
        # the load reboots the router, which often drops the session mid-command
        return {"fired": True, "note": str(exc)}
    finally:
        await session.close()
    return {"fired": True}


@DBOS.step(name="tikguard.push.step_wait_up")
async def step_wait_up(req: dict[str, Any], commit_by: float) -> dict[str, Any]:
    """After a reset-configuration: wait until the router answers again (or the margin)."""
    settings = _settings()
    last = "not tried"
    while time.time() < commit_by:
        try:
            async with _session(req, fresh=True) as session:
                up = await dev.read_uptime(session)
            return {
                "up": True,
                "uptime": _uptime_json(up),
                "note": f"router back after the reset (uptime {up.uptime:g} s)",
            }
        except DeviceError as exc:
            last = str(exc)
        await asyncio.sleep(settings.seconds(2.0))
    return {"up": False, "note": f"router not back before the margin: {last}"}


@DBOS.step(name="tikguard.push.step_verify")
async def step_verify(req: dict[str, Any], prep: dict[str, Any]) -> dict[str, Any]:
    """Fresh connection, health checks, convergence (read back and compare)."""
    settings = _settings()
    try:
        async with _session(req, fresh=True) as session:
            checks_ok, check_notes = await _checks(session, req.get("checks") or [])
            raw = await read_export(session, settings, prep.get("version"))
    except DeviceError as exc:
        return {"reachable": False, "reason": f"fresh connection failed: {exc}"}
    try:
        after_hash, redacted = _hash_of_export(raw)
        converged, why = await asyncio.to_thread(_converged, req, prep, redacted)
    except ValueError as exc:  # an export or a target that cannot be read
        return {"reachable": True, "converged": False, "convergence": f"cannot compare: {exc}"}
    return {
        "reachable": True,
        "checks_ok": checks_ok,
        "checks": check_notes,
        "converged": converged,
        "convergence": why[:4000],
        "after_hash": after_hash,
    }


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
        if re.search(pattern, out):
            notes.append(f"{command}: matched {pattern!r}")
        else:
            ok = False
            notes.append(f"{command}: no match for {pattern!r}")
    return ok, notes


def _converged(req: dict[str, Any], prep: dict[str, Any], after_redacted: str) -> tuple[bool, str]:
    from tikguard.ops.snapshot import split_secrets
    from tikguard.routeros.normalise import normalise

    ours = _names(req, prep["on_flash"]).scheduler
    if req["mode"] == "restore":
        with _db().session() as session:
            version = store_versions.get_version(session, req["tenant_id"], req["version_id"])
            target = store_versions.version_text(version)
        return converged_to(after_redacted, target, ignore_scheduler=ours)
    script = decrypt_script(req, prep["script_enc"])
    if req["mode"] == "replace":
        target, _ = split_secrets(normalise(script))
        return converged_to(after_redacted, target, ignore_scheduler=ours)
    return merge_converged(after_redacted, split_secrets(normalise(script))[0])


@DBOS.step(name="tikguard.push.step_commit")
async def step_commit(
    req: dict[str, Any], prep: dict[str, Any], commit_by: float
) -> dict[str, Any]:
    """Remove the timer (name + marker) and read back that it is gone, before the margin."""
    names = _names(req, prep["on_flash"])
    if time.time() > commit_by:
        return {"committed": False, "late": True, "reason": "past deadline minus margin"}
    claimed = await _db().run_async(lambda s: _claim(s, req, "commit_started_at"))
    try:
        async with _session(req) as session:
            state = await dev.scheduler_state(session, names)
            up = await dev.read_uptime(session)
            if not state.present:
                # gone before we removed it: the router is reverting, unless an earlier
                # run of this very step removed it (and the router has not rebooted)
                return {
                    "committed": False,
                    "already_gone": True,
                    "resumed": not claimed,
                    "uptime": _uptime_json(up),
                }
            if time.time() > commit_by:
                return {"committed": False, "late": True, "reason": "past deadline minus margin"}
            await dev.remove_scheduler(session, names)
            after = await dev.scheduler_state(session, names)
            return {
                "committed": not after.present,
                "removed": not after.present,
                "timer_present": after.present,
                "uptime": _uptime_json(up),
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
async def step_after_commit(req: dict[str, Any], prep: dict[str, Any]) -> dict[str, Any]:
    """Remove the revert and script files, read uptime, store the post-push version."""
    from tikguard.ops.backup import backup_device

    names = _names(req, prep["on_flash"])
    out: dict[str, Any] = {}
    try:
        async with _session(req) as session:
            await dev.remove_file(session, names.backup_file)
            await dev.remove_file(session, names.script_file)
            out["uptime"] = _uptime_json(await dev.read_uptime(session))
            out["timer_present"] = (await dev.scheduler_state(session, names)).present
    except DeviceError as exc:
        out["reason"] = f"after commit: {exc}"
    result = await backup_device(
        _db(),
        _settings(),
        req["tenant_id"],
        req["device_id"],
        trigger=Trigger.POST_PUSH.value,
        operation_id=req["op_id"],
    )
    if result.ok and result.version_id is not None:
        with _db().session() as session:
            version = store_versions.get_version(session, req["tenant_id"], result.version_id)
            out.update(post_version=version.seq, after_hash=version.sha256)
    else:
        out["post_push_error"] = result.message
    return out


@DBOS.step(name="tikguard.push.step_prove")
async def step_prove(req: dict[str, Any], prep: dict[str, Any], until: float) -> dict[str, Any]:
    """Reconnect until the router answers with our timer gone (or ``until`` passes).

    Called after the deadline (or after firing the revert ourselves): a router still
    booting refuses connections, one whose timer has not fired yet still shows it.
    """
    settings = _settings()
    names = _names(req, prep["on_flash"])
    last: dict[str, Any] = {"reachable": False}
    while True:
        try:
            async with _session(req, fresh=True) as session:
                up = await dev.read_uptime(session)
                state = await dev.scheduler_state(session, names)
                last = {
                    "reachable": True,
                    "uptime": _uptime_json(up),
                    "timer_present": state.present,
                }
                if not state.present or time.time() > until:
                    raw = await read_export(session, settings, prep.get("version"))
                    try:
                        last["after_hash"] = _hash_of_export(raw)[0]
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
    settings = _settings()
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
    await emit(req, "plan", "change planned", data={"plan": prep["plan"], "drift": prep["drift"]})

    pre = await step_pre_push_backup(req)
    if not pre["ok"]:
        ev = Evidence(wrote_nothing=True, applied=False)
        return await _end(req, classify(ev, failure=pre["reason"]), ev, prep)
    await emit(req, "pre-push-backup", f"pre-push version {pre['version']} stored")

    rp = await step_revert_point(req, prep["on_flash"])
    if not rp["ok"]:
        ev = Evidence(wrote_nothing=True, applied=False)
        return await _end(req, classify(ev, failure=rp["reason"]), ev, prep)
    await emit(req, "revert-point", f"revert point {rp['file']} saved ({rp['size']} bytes)")

    state.update(prep=prep, pre=pre, arming=True)
    arm = await step_arm(req, prep["on_flash"])
    if not arm["ok"]:
        proof = await step_prove(req, prep, await clock())
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
    verify = await step_verify(req, prep)
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
        await emit(req, "confirmed", f"confirmed by {got}")

    commit = await step_commit(req, prep, commit_by)
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
            return await _revert_and_prove(req, prep, pre, deadline, why, fire=False)
        commit = {**commit, "removed": True, "timer_present": False}
    await emit(req, "commit", "revert timer removed and read back gone")
    post = await step_after_commit(req, prep)
    ev = build_evidence(
        settings,
        stayed_up_since,
        {**post, "timer_present": post.get("timer_present", commit.get("timer_present"))},
        applied=True,
        armed=True,
        timer_removed_by_us=bool(commit.get("removed")),
        reachable_fresh=True,
        converged=True,
        checks_ok=verify.get("checks_ok"),
        import_ok=True,
    )
    if post.get("post_version"):
        await emit(req, "post-push-backup", f"post-push version {post['post_version']} stored")
    return await _end(req, classify(ev), ev, prep, extra={"post": post, "verify": verify})


async def _revert_and_prove(
    req: dict[str, Any],
    prep: dict[str, Any],
    pre: dict[str, Any],
    deadline: float,
    why: str,
    *,
    fire: bool,
) -> dict[str, Any]:
    settings = _settings()
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
    proof = await step_prove(req, prep, until)
    await emit(req, "prove", _proof_text(proof), data=proof)
    ev = build_evidence(settings, pre, proof, applied=True, revert_fired_by_us=fired["fired"])
    return await _end(req, classify(ev, failure=why), ev, prep, extra={"proof": proof})


def _proof_text(proof: dict[str, Any]) -> str:
    if not proof.get("reachable"):
        return f"the router did not answer: {proof.get('last_error', 'no connection')}"
    timer = "still armed" if proof.get("timer_present") else "gone"
    uptime = (proof.get("uptime") or {}).get("uptime")
    return f"router answers: uptime {uptime} s, revert timer {timer}, config read back"


async def _end(
    req: dict[str, Any],
    outcome: Outcome,
    ev: Evidence,
    prep: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    evidence = {
        **ev.as_dict(),
        "outcome_unknowns": list(outcome.unknowns),
        "plan": prep.get("plan"),
        "preflight": {k: prep.get(k) for k in ("version", "free_bytes", "clock", "drift")},
        **(extra or {}),
    }
    await finish(req, outcome.kind, outcome.reason, evidence)
    await _forget_session(req)
    return {"outcome": outcome.kind, "reason": outcome.reason}
