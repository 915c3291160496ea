"""The guarded push against simulated routers over real SSH/SFTP, accelerated clock.

Each test proves its outcome from the router's own state (read directly from the
simulator), not only from what tikguard reports.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from tikguard.ops import push as push_ops
from tikguard.store import versions as store_versions

from .pushkit import SCALE, WINDOW, Env, environment, until

pytestmark = pytest.mark.timeout(120)

TRICKY = 'he said "hi"; cost $5 [x] \\ ünïcødé\nsecond line'


async def _console(env: Env, text: str, index: int = 0) -> str:
    dev = env.fleet[index]
    return await dev.router.execute(text, user=dev.username)


def _config(env: Env, index: int = 0) -> str:
    return env.fleet[index].router.config_text()


async def _leftovers(env: Env, index: int = 0) -> tuple[str, str]:
    sched = await _console(env, "/system scheduler print detail", index)
    files = await _console(env, "/file print detail", index)
    return sched, files


def _merge(env: Env, script: str, **kw: Any) -> push_ops.PushRequest:
    return push_ops.PushRequest(devices=[env.fleet[0].name], mode="merge", script=script, **kw)


async def test_good_push_is_committed(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        script = (
            "/ip address add address=10.77.0.1/24 interface=ether2 comment=" + _quote(TRICKY) + "\n"
        )
        [op] = await env.push(_merge(env, script))
        assert op.outcome == "committed", op.evidence.get("reason")
        assert "10.77.0.1/24" in _config(env)
        sched, files = await _leftovers(env)
        assert "tikguard" not in sched  # the timer is gone (read from the router itself)
        assert "tikguard" not in files  # revert point and script removed
        assert op.device_id is not None
        with env.db.session() as s:
            versions = store_versions.list_versions(s, env.tenant_id, op.device_id)
            triggers = [v.trigger for v in versions]
        assert "pre-push" in triggers or "manual" in triggers
        assert triggers[0] == "post-push"
        stages = [e.stage for e in env.events(op.id)]
        for stage in (
            "preflight",
            "plan",
            "pre-push-backup",
            "revert-point",
            "armed",
            "apply",
            "verify",
            "commit",
            "outcome",
        ):
            assert stage in stages
        # the tricky comment passed every step unchanged
        out = await _console(env, '/ip address print detail where address="10.77.0.1/24"')
        assert "ünïcødé" in out or "\\C3" in out


def _quote(value: str) -> str:
    from tikguard.routeros.quoting import quote

    return quote(value)


CUTS = {
    "address-removed": '/ip address\nremove [ find address~"^{host}/" ]\n',
    "ssh-disabled": "/ip service\nset ssh disabled=yes\n",
    "firewall-drop": "/ip firewall filter\nadd chain=input action=drop src-address={host}\n",
    "interface-disabled": "/interface ethernet\nset [ find default-name=ether1 ] disabled=yes\n",
}


@pytest.mark.parametrize(
    ("cut", "version"), [(cut, "7.16") for cut in sorted(CUTS)] + [("address-removed", "7.12")]
)
async def test_management_cut_reverts_by_itself(tmp_path: Path, cut: str, version: str) -> None:
    # 7.16 checks the script with /import dry-run first (which must not cut anything)
    async with environment(tmp_path, version=version) as env:
        before = _config(env)
        script = CUTS[cut].format(host=env.fleet[0].host)
        [op] = await env.push(_merge(env, script, window=WINDOW))
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert op.evidence["rebooted"] is True
        assert op.evidence["pre_hash"] == op.evidence["after_hash"]
        assert _config(env) == before
        sched, _ = await _leftovers(env)
        assert "tikguard" not in sched


async def test_import_error_reverts_at_once(tmp_path: Path) -> None:
    # 7.12 has no /import dry-run: the error surfaces only in the real import
    async with environment(tmp_path, version="7.12") as env:
        before = _config(env)
        script = (
            "/ip address add address=10.78.0.1/24 interface=ether2\n"
            "/ip address add address=10.78.0.1/24 interface=ether2\n"  # already have such entry
            "/ip address add address=10.79.0.1/24 interface=ether2\n"
        )
        started = time.monotonic()
        [op] = await env.push(_merge(env, script))
        took = time.monotonic() - started
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert op.evidence["revert_fired_by_us"] is True
        assert "line" in op.evidence["reason"]
        assert _config(env) == before
        # fired by tikguard right away, not after the window
        assert took < env.settings.push_window / SCALE + 2.0


async def test_dry_run_refuses_a_failing_script_before_any_write(tmp_path: Path) -> None:
    async with environment(tmp_path, version="7.16") as env:
        before = _config(env)
        script = (
            "/ip address add address=10.78.0.1/24 interface=ether2\n"
            "/ip address add address=10.78.0.1/24 interface=ether2\n"
        )
        [op] = await env.push(_merge(env, script))
        assert op.outcome == "failed", op.evidence.get("reason")
        assert "dry-run" in op.evidence["reason"]
        assert _config(env) == before
        sched, files = await _leftovers(env)
        assert "tikguard" not in sched and "tikguard" not in files


async def test_failed_health_check_reverts(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        before = _config(env)
        script = "/ip address add address=10.80.0.1/24 interface=ether2\n"
        req = _merge(env, script, checks=[("/system identity print", "name: no-such-router")])
        [op] = await env.push(req)
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert "health check" in op.evidence["reason"]
        assert _config(env) == before
        # the operator sees what the router printed instead of the expected text
        [verify] = [e for e in env.events(op.id) if e.stage == "verify"]
        [note] = verify.data["checks"]
        assert "no match for 'name: no-such-router'; it printed: name: " in note, note


async def test_same_request_runs_once(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        req = _merge(
            env,
            "/ip address add address=10.81.0.1/24 interface=ether2\n",
            idempotency_key="change-4711",
        )
        first = await push_ops.submit(env.db, env.settings, env.tenant_id, req)
        second = await push_ops.submit(env.db, env.settings, env.tenant_id, req)
        assert first[0].op_id == second[0].op_id and not second[0].created
        [op] = await push_ops.wait(env.db, env.tenant_id, [first[0].op_id])
        assert op.outcome == "committed"


async def test_two_pushes_to_one_router_are_serialised(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        name = env.fleet[0].name
        a = push_ops.PushRequest(
            [name], script="/ip address add address=10.82.0.1/24 interface=ether2\n"
        )
        b = push_ops.PushRequest(
            [name], script="/ip address add address=10.83.0.1/24 interface=ether2\n"
        )
        subs = await asyncio.gather(
            push_ops.submit(env.db, env.settings, env.tenant_id, a),
            push_ops.submit(env.db, env.settings, env.tenant_id, b),
        )
        ids = [s[0].op_id for s in subs]
        ops = await push_ops.wait(env.db, env.tenant_id, ids)
        assert [o.outcome for o in ops] == ["committed", "committed"]
        spans = sorted(
            (min(e.at for e in env.events(i)), max(e.at for e in env.events(i))) for i in ids
        )
        assert spans[0][1] <= spans[1][0], "the two pushes overlapped on one router"


async def test_manual_confirm_commits_and_missing_confirm_reverts(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        req = _merge(
            env, "/ip address add address=10.84.0.1/24 interface=ether2\n", confirm="manual"
        )
        [sub] = await push_ops.submit(env.db, env.settings, env.tenant_id, req)
        await until(lambda: any(e.stage == "waiting-confirm" for e in env.events(sub.op_id)))
        await push_ops.confirm(env.settings, sub.op_id)
        [op] = await push_ops.wait(env.db, env.tenant_id, [sub.op_id])
        assert op.outcome == "committed", op.evidence.get("reason")

        before = _config(env)
        req = _merge(
            env,
            "/ip address add address=10.85.0.1/24 interface=ether2\n",
            confirm="manual",
            window=WINDOW,
        )
        [op] = await env.push(req)
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert _config(env) == before


async def test_full_flash_fails_cleanly(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        before = _config(env)
        env.fleet[0].inject("full-flash")
        [op] = await env.push(
            _merge(env, "/ip address add address=10.86.0.1/24 interface=ether2\n")
        )
        assert op.outcome == "failed", op.evidence.get("reason")
        assert "revert point" in op.evidence["reason"]
        assert _config(env) == before
        assert not [f for f in env.fleet[0].router.files.list() if "tikguard" in f.name]


async def test_scheduler_forbidden_by_device_mode_is_refused(tmp_path: Path) -> None:
    async with environment(tmp_path, version="7.18") as env:
        env.fleet[0].router.device_mode["scheduler"] = "no"
        [op] = await env.push(
            _merge(env, "/ip address add address=10.87.0.1/24 interface=ether2\n")
        )
        assert op.outcome == "failed"
        assert "device-mode" in op.evidence["reason"]


async def test_missing_policy_is_refused(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        await _console(
            env,
            "/user group set [ find name=full ] "
            "policy=read,write,ssh,ftp,test,sensitive,!reboot,!policy",
        )
        [op] = await env.push(
            _merge(env, "/ip address add address=10.88.0.1/24 interface=ether2\n")
        )
        assert op.outcome == "failed", op.evidence.get("reason")
        assert "policies" in op.evidence["reason"]


async def test_router_that_never_comes_back_is_uncertain(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        # power is cut a moment after the import starts and never comes back
        env.fleet[0].inject("drop-after-import-line", line=1)
        dev = env.fleet[0]

        async def cut_when_applied() -> None:
            await until(lambda: "10.89.0.1" in dev.router.config_text())
            await dev.power_loss()

        task = asyncio.create_task(cut_when_applied())
        [op] = await env.push(
            _merge(env, "/ip address add address=10.89.0.1/24 interface=ether2\n", window=WINDOW)
        )
        await task
        assert op.outcome == "uncertain", op.evidence.get("reason")
        assert op.evidence["outcome_unknowns"]


async def test_power_loss_after_apply_router_reverts_on_its_own(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        before = _config(env)
        dev = env.fleet[0]

        async def blink() -> None:
            await until(lambda: "10.90.0.1" in dev.router.config_text())
            await dev.power_cycle(off_seconds=5.0)

        task = asyncio.create_task(blink())
        [op] = await env.push(
            _merge(env, "/ip address add address=10.90.0.1/24 interface=ether2\n", window=WINDOW)
        )
        await task
        # a power cycle during verification wipes nothing (the change was saved) but the
        # push must not claim more than the evidence shows
        assert op.outcome in ("reverted", "uncertain", "committed"), op.evidence
        if op.outcome == "committed":
            assert "10.90.0.1" in dev.router.config_text()
        if op.outcome == "reverted":
            assert _config(env) == before


async def test_connection_dropped_during_import_reverts(tmp_path: Path) -> None:
    async with environment(tmp_path, version="7.12") as env:
        before = _config(env)
        env.fleet[0].inject("drop-after-import-line", line=1)
        script = (
            "/ip address add address=10.91.0.1/24 interface=ether2\n"
            "/ip address add address=10.91.1.1/24 interface=ether2\n"
        )
        [op] = await env.push(_merge(env, script, window=WINDOW))
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert "during apply" in op.evidence["reason"]
        assert _config(env) == before


async def test_power_loss_while_saving_the_revert_point(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        dev = env.fleet[0]
        dev.inject("slow-flash", seconds=30.0)

        async def cut_during_save() -> None:
            await until(lambda: dev.router.faults.slow_flash_seconds > 0 and _saving(env))
            await dev.power_cycle(off_seconds=1.0, wait=False)

        task = asyncio.create_task(cut_during_save())
        [op] = await env.push(
            _merge(env, "/ip address add address=10.92.0.1/24 interface=ether2\n")
        )
        await task
        # nothing was applied: no config write was sent, whatever the router did
        assert op.outcome == "failed", op.evidence.get("reason")
        assert "revert point" in op.evidence["reason"]
        assert "10.92.0.1" not in _config(env)


def _saving(env: Env) -> bool:
    return any(e.stage == "pre-push-backup" for e in _all_events(env))


def _all_events(env: Env) -> list[Any]:
    from tikguard.store import operations as store_ops

    with env.db.session() as s:
        ops = store_ops.list_operations(s, env.tenant_id)
        return [e for op in ops for e in store_ops.list_events(s, env.tenant_id, op.id)]


async def test_read_back_differing_from_the_target_reverts(tmp_path: Path) -> None:
    from tikguard.ops.backup import backup

    async with environment(tmp_path) as env:
        dev = env.fleet[0]
        await _console(env, "/ip dns set servers=9.9.9.9")
        [result] = await backup(env.db, env.settings, env.tenant_id)
        assert result.version == 2
        before = _config(env)

        async def meddle() -> None:  # someone else changes the router mid-push
            await until(lambda: any(e.stage == "apply" for e in _all_events(env)))
            await dev.router.execute(
                "/ip address add address=10.94.0.1/24 interface=ether3", user=dev.username
            )

        task = asyncio.create_task(meddle())
        req = push_ops.PushRequest([dev.name], mode="restore", version=1)
        [op] = await env.push(req)
        await task
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert "differs from the target" in op.evidence["reason"]
        assert _config(env) == before


async def test_window_shorter_than_the_measured_import_is_refused(tmp_path: Path) -> None:
    async with environment(tmp_path, version="7.16") as env:
        script = "/ip dns set servers=9.9.9.9\n:delay 90s\n"  # the dry-run takes 90 s too
        [op] = await env.push(_merge(env, script, window=WINDOW))
        assert op.outcome == "failed", op.evidence.get("reason")
        assert "window is too short" in op.evidence["reason"]
        assert "9.9.9.9" not in _config(env)


async def test_operation_created_but_never_queued_is_started_or_closed(tmp_path: Path) -> None:
    """The controller stopped between writing the operation row and queueing its
    workflow: the same request starts it; an orphan without a request is closed."""
    from tikguard.store import devices as store_devices
    from tikguard.store import operations as store_ops

    async with environment(tmp_path) as env:
        req = _merge(
            env, "/ip address add address=10.97.0.1/24 interface=ether2\n", idempotency_key="k-97"
        )

        def orphan(session: Session, key: str | None) -> str:
            dev = store_devices.get_device_by_name(session, env.tenant_id, env.fleet[0].name)
            op, _ = store_ops.create_operation(
                session,
                env.tenant_id,
                kind="push",
                device_id=dev.id,
                idempotency_key=key,
            )
            return op.id

        first = await env.db.run_async(lambda s: orphan(s, req.key_for(env.fleet[0].name)))
        [op] = await env.push(req)  # same key: the existing operation runs now
        assert op.id == first and op.outcome == "committed", op.evidence.get("reason")

        lost = await env.db.run_async(lambda s: orphan(s, None))
        assert await push_ops.close_orphans(env.db, env.tenant_id, [lost, first]) == [lost]
        with env.db.session() as s:
            closed = store_ops.get_operation(s, env.tenant_id, lost)
        assert closed.outcome == "failed" and "never started" in closed.evidence["reason"]
