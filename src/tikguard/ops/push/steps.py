"""The steps of a guarded push up to the apply: each device interaction, recorded.

Every step answers with a typed result (:mod:`tikguard.ops.push.results`, recorded as
JSON by :func:`tikguard.ops.push.recorded.step`), catches the device errors it expects
and says what happened; time guards (nothing applied after ``deadline - margin``) are
checked inside the step, at the moment it acts. The steps after the apply (verify,
commit, prove) are in :mod:`tikguard.ops.push.verify`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from sqlalchemy.orm import Session

from tikguard.device import guard as dev
from tikguard.device.errors import DeviceError
from tikguard.ops import readings
from tikguard.ops.backup.snapshot import read_export
from tikguard.ops.push import boot
from tikguard.ops.push.context import (
    connect_device,
    current_settings,
    database,
    decrypt_script,
    device_session,
    drop_session,
    encrypt_script,
    names_for,
    prepared_export,
)
from tikguard.ops.push.live import Prepared, live
from tikguard.ops.push.preflight import preflight
from tikguard.ops.push.recorded import step
from tikguard.ops.push.results import (
    Applied,
    ApplyStatus,
    Armed,
    BackUp,
    Fired,
    Preflight,
    PrePush,
    PushSpec,
    RevertPoint,
    uptime_json,
)
from tikguard.ops.push.revert_key import revert_password
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.errors import StoreError
from tikguard.store.models import Trigger


@step("tikguard.push.step_preflight", Preflight)
async def step_preflight(spec: PushSpec) -> Preflight:
    """Read-only: key, version, flash, clock, policies, device-mode, plan, dry-run, drift
    (:func:`tikguard.ops.push.preflight.preflight`, which the dry run uses too)."""
    settings = current_settings()
    target = await asyncio.to_thread(_target, spec)
    try:
        async with device_session(spec) as session:
            found = await preflight(
                session,
                settings,
                op_id=spec.op_id,
                mode=spec.mode,
                target=target,
                window=spec.window,
            )
    except DeviceError as exc:  # a router never verified: the tenant's uniform words
        return Preflight(reason=f"preflight: {exc.for_tenant()[1]}")
    live(spec.op_id).export = found.prepared
    drift = await asyncio.to_thread(_drift, spec, found.running_hash)
    facts = found.facts
    script_enc = await asyncio.to_thread(
        encrypt_script, database(), spec.tenant_id, spec.op_id, found.plan.script
    )
    return Preflight(
        passed=found.ok,
        reason=found.reason,
        problems=found.problems,
        wrote=False,  # the dry-run file is removed again; no config was touched
        on_flash=found.on_flash,
        version=facts.version,
        running_hash=found.running_hash,
        timer_present=found.timer_present,
        drift=drift,
        plan=found.plan.as_json(),
        script_enc=script_enc,
        free_bytes=facts.resource.free_bytes,
        clock=facts.clock.isoformat() if facts.clock else None,
        clock_source=found.clock_source,
        dry_run=None if found.dry_run is None else found.dry_run.as_json(),
    )


def _target(spec: PushSpec) -> str:
    """What the push goes to: the restore's version with its secrets, or the script."""
    from tikguard.routeros.secrets import merge_text_secrets

    if spec.mode != "restore":
        return decrypt_script(spec, spec.script_enc or "")
    assert spec.version_id is not None
    with database().session() as session:
        version = store_versions.get_version(session, spec.tenant_id, spec.version_id)
        text = store_versions.version_text(version)
        secrets = store_versions.get_secrets(session, spec.tenant_id, version)
    return merge_text_secrets(text, secrets)


def _drift(spec: PushSpec, running_hash: str) -> bool | None:
    with database().session() as session:
        newest = store_versions.latest_version(session, spec.tenant_id, spec.device_id)
    return None if newest is None else newest.sha256 != running_hash


@step("tikguard.push.step_pre_push_backup", PrePush)
async def step_pre_push_backup(spec: PushSpec) -> PrePush:
    """Store the running config as a version (trigger pre-push) and read the uptime.

    The config is the one the preflight just read (nothing was written since); after a
    controller restart it is read again. Both over the push's session.
    """
    settings = current_settings()
    entry = live(spec.op_id)
    prepared, entry.export = entry.export, None
    try:
        async with device_session(spec) as session:
            if prepared is None:
                raw = await read_export(session, settings, None)
                prepared = (await asyncio.to_thread(prepared_export, raw))[1]
            up = await dev.read_uptime(session)
            host_key = session.host_key
    except DeviceError as exc:
        return PrePush(reason=f"pre-push backup: {exc}")
    except ValueError as exc:
        return PrePush(reason=f"pre-push backup: the export cannot be read: {exc}")
    try:
        seq, version_id, pre_hash = await store_version(spec, prepared, host_key, Trigger.PRE_PUSH)
    except StoreError as exc:
        return PrePush(reason=f"pre-push backup failed: {exc}")
    return PrePush(
        stored=True, version=seq, version_id=version_id, pre_hash=pre_hash, uptime=uptime_json(up)
    )


async def store_version(
    spec: PushSpec, prepared: Prepared, host_key: str, trigger: Trigger
) -> tuple[int, int, str]:
    """Record a config read over the push's session (pinned key) as a version, through
    the one write path a backup uses too: ``(seq, id, hash)``."""
    redacted, secrets, ros_version, model = prepared
    reading = readings.Reading(spec.device_id, redacted, secrets, ros_version, model, host_key)
    rec = await readings.record(
        database(), spec.tenant_id, reading, trigger=trigger.value, operation_id=spec.op_id
    )
    if rec.error is not None:
        raise StoreError(str(rec.error))
    if rec.gone or rec.version is None or rec.version_id is None or rec.sha256 is None:
        raise StoreError(f"device {spec.device_id} was removed during the push")
    return rec.version, rec.version_id, rec.sha256


@step("tikguard.push.step_revert_point", RevertPoint)
async def step_revert_point(spec: PushSpec, on_flash: bool) -> RevertPoint:
    names = names_for(spec, on_flash)
    settings = current_settings()
    try:
        async with device_session(spec) as session:
            size = await dev.save_revert_point(
                session, names, settings.backup_timeout, revert_password(spec)
            )
    except DeviceError as exc:
        # a partial or refused revert point serves nothing: leave no file behind (if the
        # router is gone, the next backup removes it: tikguard.ops.leftovers)
        with contextlib.suppress(DeviceError):
            async with device_session(spec) as session:
                await dev.remove_file(session, names.backup_file)
        return RevertPoint(reason=f"revert point: {exc}", file=names.backup_file)
    return RevertPoint(saved=True, file=names.backup_file, size=size)


@step("tikguard.push.step_arm", Armed)
async def step_arm(spec: PushSpec, on_flash: bool) -> Armed:
    """Add the revert timer and read it back; on a bad read-back, disarm and say so."""
    settings = current_settings()
    names = names_for(spec, on_flash)
    window = spec.window
    deadline = time.time() + settings.seconds(window)
    password = revert_password(spec)
    try:
        async with device_session(spec) as session:
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
                return Armed(
                    armed=True, deadline=deadline, next_run=state.next_run, interval=state.interval
                )
            gone = not (await boot.remove_timers(session, names)).present
            return Armed(reason=problem, disarmed=gone, deadline=deadline)
    except DeviceError as exc:
        return Armed(reason=f"arming: {exc}", deadline=deadline)


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


@step("tikguard.push.step_apply", Applied)
async def step_apply(spec: PushSpec, prep: Preflight, commit_by: float) -> Applied:
    """Upload and import the script (or reset-configuration for replace), at most once."""
    if time.time() > commit_by:
        return Applied(ApplyStatus.LATE, "past deadline minus margin before applying")
    if await database().run_async(lambda s: _claim_apply(s, spec)) is False:
        return Applied(ApplyStatus.INTERRUPTED, "the controller stopped during the apply")
    settings = current_settings()
    names = names_for(spec, prep.on_flash)
    script = decrypt_script(spec, prep.script_enc or "")
    try:
        async with device_session(spec) as session:
            if spec.mode == "replace":
                password = revert_password(spec)
                body = dev.reset_script(names, spec.window, script, password)
                body += "\n" + boot.boot_rearm_script(names, password)
                await session.upload(names.script_file, body.encode("utf-8"))
                with contextlib.suppress(DeviceError):  # the reset reboots: the session ends
                    await dev.reset_configuration(session, names.script_file)
                return Applied(ApplyStatus.OK, output="reset-configuration issued; rebooting")
            await session.upload(names.script_file, script.encode("utf-8"))
            result = await dev.run_import(session, names, settings.command_timeout * 5)
    except DeviceError as exc:
        return Applied(ApplyStatus.LOST, f"during apply: {exc}")
    if result.ok:
        return Applied(ApplyStatus.OK, output=result.output[-4000:])
    return Applied(
        ApplyStatus.IMPORT_ERROR,
        f"import error at line {result.line}: {result.error}",
        output=result.output[-4000:],
        line=result.line,
    )


def _claim_apply(session: Session, spec: PushSpec) -> bool:
    return claim(session, spec, "apply_started_at")


def claim(session: Session, spec: PushSpec, key: str) -> bool:
    """Mark ``key`` in the operation's evidence; False when an earlier run marked it
    (the step started before, and may have acted)."""
    op = store_ops.get_operation(session, spec.tenant_id, spec.op_id)
    if op.evidence.get(key):
        return False
    store_ops.merge_evidence(session, spec.tenant_id, spec.op_id, {key: time.time()})
    return True


@step("tikguard.push.step_fire_revert", Fired)
async def step_fire_revert(spec: PushSpec, on_flash: bool) -> Fired:
    """Load the revert point now (do not wait for the timer)."""
    await drop_session(spec)  # the session that applied the change may be dead
    try:
        session = await connect_device(spec)
    except DeviceError as exc:
        return Fired(reason=f"could not connect to fire the revert: {exc}")
    try:
        await dev.load_revert_point(session, names_for(spec, on_flash), revert_password(spec))
    except DeviceError as exc:
        # the load reboots the router, which often drops the session mid-command
        return Fired(fired=True, reason=str(exc))
    finally:
        await session.close()
    return Fired(fired=True)


@step("tikguard.push.step_wait_up", BackUp)
async def step_wait_up(spec: PushSpec, commit_by: float) -> BackUp:
    """After a reset-configuration: wait until the router answers again (or the margin)."""
    settings = current_settings()
    last = "not tried"
    while time.time() < commit_by:
        try:
            async with device_session(spec, fresh=True) as session:
                up = await dev.read_uptime(session)
            return BackUp(
                up=True,
                uptime=uptime_json(up),
                reason=f"router back after the reset (uptime {up.uptime:g} s)",
            )
        except DeviceError as exc:
            last = str(exc)
        await asyncio.sleep(settings.seconds(2.0))
    return BackUp(reason=f"router not back before the margin: {last}")
