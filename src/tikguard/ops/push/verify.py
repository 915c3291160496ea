"""The steps of a guarded push after the apply: verify, commit, store, prove.

Each reads the router back before it says anything (docs/push.md, "The protocol"): a
fresh connection and convergence to verify, the timers read back gone to commit, the
uptime, timers and config after the deadline to prove a revert. Recorded like every
push step (:func:`tikguard.ops.push.recorded.step`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace

from tikguard import healthcheck
from tikguard.device import guard as dev
from tikguard.device.errors import DeviceError
from tikguard.device.session import DeviceSession
from tikguard.ops.backup.snapshot import read_export
from tikguard.ops.push import boot, unexported
from tikguard.ops.push.context import (
    current_settings,
    database,
    decrypt_script,
    device_session,
    hash_of_export,
    names_for,
    prepared_export,
)
from tikguard.ops.push.live import Prepared
from tikguard.ops.push.plan import converged_to, merge_converged, parse_snippet
from tikguard.ops.push.recorded import step
from tikguard.ops.push.results import (
    AfterCommit,
    Committed,
    Preflight,
    Proof,
    PushSpec,
    UptimeJson,
    Verified,
    uptime_json,
)
from tikguard.ops.push.revert_key import revert_password
from tikguard.ops.push.steps import claim, store_version
from tikguard.store import versions as store_versions
from tikguard.store.errors import StoreError
from tikguard.store.models import Trigger


@step("tikguard.push.step_verify", Verified)
async def step_verify(spec: PushSpec, prep: Preflight, since: UptimeJson | None = None) -> Verified:
    """Fresh connection, the router stayed up since ``since`` (a boot inside the window
    means it is reverting at boot), health checks, convergence (read back and compare)."""
    settings = current_settings()
    try:
        async with device_session(spec, fresh=True) as session:
            up = uptime_json(await dev.read_uptime(session))
            if since and not boot.stayed_up(since, up, settings.time_scale):
                return Verified(
                    reachable=True,
                    rebooted=True,
                    uptime=up,
                    convergence="the router rebooted inside the window: it reverts at boot",
                )
            checks_ok, check_notes = await _checks(session, spec.checks)
            raw = await read_export(session, settings, prep.version)
            extra = await _unexported(session, spec, prep)
    except DeviceError as exc:
        return Verified(reason=f"fresh connection failed: {exc}")
    try:
        after_hash, redacted = hash_of_export(raw)
        converged, why = await asyncio.to_thread(_converged, spec, prep, redacted)
    except ValueError as exc:  # an export or a target that cannot be read
        return Verified(reachable=True, convergence=f"cannot compare: {exc}")
    if not extra.ok:
        converged, why = False, "; ".join(extra.missing) + f"; {why}"
    return Verified(
        reachable=True,
        checks_ok=checks_ok,
        checks=tuple(check_notes),
        converged=converged,
        convergence=why[:4000],
        after_hash=after_hash,
        unexported=extra.as_json(),
    )


async def _unexported(
    session: DeviceSession, spec: PushSpec, prep: Preflight
) -> unexported.Unexported:
    """What the script puts into menus an export never has, read back with a print."""
    if spec.mode == "restore":  # a stored version holds only what an export holds
        return unexported.Unexported()
    script = decrypt_script(spec, prep.script_enc or "")
    return await unexported.verify_unexported(session, parse_snippet(script)[0])


async def _checks(
    session: DeviceSession, checks: tuple[tuple[str, str], ...]
) -> tuple[bool | None, list[str]]:
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


def _converged(spec: PushSpec, prep: Preflight, after_redacted: str) -> tuple[bool, str]:
    from tikguard.routeros.normalise import normalise
    from tikguard.routeros.secrets import split_text_secrets

    names = names_for(spec, prep.on_flash)
    ours = (names.scheduler, boot.boot_names(names).scheduler)
    if spec.mode == "restore":
        assert spec.version_id is not None
        with database().session() as session:
            version = store_versions.get_version(session, spec.tenant_id, spec.version_id)
            target = store_versions.version_text(version)
        return converged_to(after_redacted, target, ignore_scheduler=ours)
    script = decrypt_script(spec, prep.script_enc or "")
    if spec.mode == "replace":
        target, _ = split_text_secrets(normalise(script))
        return converged_to(after_redacted, target, ignore_scheduler=ours)
    return merge_converged(after_redacted, split_text_secrets(normalise(script))[0])


@step("tikguard.push.step_commit", Committed)
async def step_commit(
    spec: PushSpec, prep: Preflight, commit_by: float, since: UptimeJson | None = None
) -> Committed:
    """Remove both timers (name + marker) and read back that they are gone, before the
    margin. ``since``: the uptime read the router must have stayed up from."""
    names = names_for(spec, prep.on_flash)
    late = Committed(late=True, reason="past deadline minus margin")
    if time.time() > commit_by:
        return late
    claimed = await database().run_async(lambda s: claim(s, spec, "commit_started_at"))
    scale = current_settings().time_scale
    try:
        async with device_session(spec) as session:
            timers = await boot.timers(session, names)
            state = timers.interval
            up = uptime_json(await dev.read_uptime(session))
            stayed = since is not None and boot.stayed_up(since, up, scale)
            if since is not None and not stayed and timers.present:
                # a boot inside the window: the boot item is reverting the router
                reason = "the router rebooted inside the window: it reverts at boot"
                return Committed(rebooted=True, reason=reason, uptime=up)
            finishing = not state.present and timers.boot.present and not claimed and stayed
            if finishing and time.time() <= commit_by:
                # an earlier run of this step removed the interval timer, then stopped
                # before the boot item: the router stayed up since verification, so the
                # removal was ours: finish it
                return await _remove(session, names, up)
            if not state.present:
                # gone before we removed it: the router is reverting, unless an earlier
                # run of this very step removed it (and the router has not rebooted)
                return Committed(already_gone=True, resumed=not claimed, uptime=up)
            if time.time() > commit_by:
                return late
            return await _remove(session, names, up)
    except DeviceError as exc:
        return Committed(reason=f"commit: {exc}")


async def _remove(session: DeviceSession, names: dev.Names, up: UptimeJson) -> Committed:
    after = await boot.remove_timers(session, names)
    gone = not after.present
    return Committed(committed=gone, removed=gone, timer_present=after.present, uptime=up)


@step("tikguard.push.step_after_commit", AfterCommit)
async def step_after_commit(spec: PushSpec, prep: Preflight) -> AfterCommit:
    """Remove the revert and script files, read uptime, store the post-push version
    (read over the commit's session)."""
    settings = current_settings()
    names = names_for(spec, prep.on_flash)
    uptime: UptimeJson | None = None
    timer_present: bool | None = None
    prepared: Prepared | None = None
    try:
        async with device_session(spec) as session:
            await dev.remove_file(session, names.backup_file)
            await dev.remove_file(session, names.script_file)
            uptime = uptime_json(await dev.read_uptime(session))
            timer_present = (await boot.timers(session, names)).present
            raw = await read_export(session, settings, prep.version)
            host_key = session.host_key
        prepared = (await asyncio.to_thread(prepared_export, raw))[1]
    except DeviceError as exc:
        return AfterCommit(
            reason=f"after commit: {exc}",
            post_push_error=str(exc),
            uptime=uptime,
            timer_present=timer_present,
        )
    except ValueError as exc:
        error = f"the export cannot be read: {exc}"
        return AfterCommit(post_push_error=error, uptime=uptime, timer_present=timer_present)
    try:
        seq, _version_id, sha = await store_version(spec, prepared, host_key, Trigger.POST_PUSH)
    except StoreError as exc:
        return AfterCommit(post_push_error=str(exc), uptime=uptime, timer_present=timer_present)
    return AfterCommit(uptime=uptime, timer_present=timer_present, post_version=seq, after_hash=sha)


@step("tikguard.push.step_prove", Proof)
async def step_prove(
    spec: PushSpec,
    prep: Preflight,
    until: float,
    *,
    fire_after: float | None = None,
    disarm: bool = False,
    check_target: bool = False,
) -> Proof:
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
    names = names_for(spec, prep.on_flash)
    last = Proof()
    fired = False
    while True:
        try:
            async with device_session(spec, fresh=True) as session:
                read_at = time.time()  # no read of this proof is older
                up = await dev.read_uptime(session)
                state = await boot.timers(session, names)
                if state.present and disarm:
                    state = await boot.remove_timers(session, names)
                elif state.present and not fired and time.time() > (fire_after or until + 1):
                    fired = True
                    last = replace(last, fired_late=True)
                    await dev.load_revert_point(session, names, revert_password(spec))
                    continue
                last = replace(
                    last, reachable=True, uptime=uptime_json(up), timer_present=state.present
                )
                if not state.present or time.time() > until:
                    raw = await read_export(session, settings, prep.version)
                    last = await _read_back(spec, prep, last, raw, read_at, check_target)
                    if not state.present:
                        with contextlib.suppress(DeviceError):
                            await dev.remove_file(session, names.backup_file)
                            await dev.remove_file(session, names.script_file)
                    return last
        except DeviceError as exc:
            last = replace(last, last_error=str(exc))
        if time.time() > until:
            return last
        await asyncio.sleep(min(settings.seconds(2.0), max(0.0, until - time.time())))


async def _read_back(
    spec: PushSpec, prep: Preflight, proof: Proof, raw: str, read_at: float, check_target: bool
) -> Proof:
    """The proof with the config read back: its hash (and with ``check_target``, whether
    it is the target)."""
    proof = replace(proof, read_at=read_at)
    try:
        after_hash, redacted = hash_of_export(raw)
        proof = replace(proof, after_hash=after_hash)
        if check_target:
            converged, why = await asyncio.to_thread(_converged, spec, prep, redacted)
            proof = replace(proof, converged=converged, convergence=why[:2000])
    except ValueError as exc:
        proof = replace(proof, export_error=str(exc))
    return proof
