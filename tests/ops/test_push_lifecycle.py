"""No dead ends: ``recheck``, ``revert`` and ``disarm`` on the simulator, for each
operation state where they apply, and refused with a clear message where they do not.
Also: a push that adds a user (whose password no export shows) commits, with the
password recorded as not verifiable."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tikguard.device import guard as push_device
from tikguard.ops import push as push_ops
from tikguard.ops.push import lifecycle as life
from tikguard.sim.fleet import SimDevice
from tikguard.store.audit import list_audit
from tikguard.store.errors import StateError

from .pushkit import COMMIT_WINDOW, Env, environment, push_settings, until, wall

pytestmark = [pytest.mark.timeout(180), pytest.mark.slow]

CHANGE = "/ip address add address=10.95.0.1/24 interface=ether2 comment=life\n"


async def leftovers(dev: SimDevice) -> tuple[str, list[str]]:
    sched = await dev.router.execute("/system scheduler print detail", user=dev.username)
    return sched, [f.name for f in dev.router.files.list() if "tikguard" in f.name]


def waiting(env: Env, op_id: str) -> bool:
    return any(e.stage == "waiting-confirm" for e in env.events(op_id))


async def test_a_push_waiting_for_confirm_reverts_on_request(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        dev = env.fleet[0]
        before = dev.router.config_text()
        req = push_ops.PushRequest([dev.name], script=CHANGE, confirm="manual")
        [sub] = await push_ops.submit(env.db, env.settings, env.tenant_id, req)
        await until(lambda: waiting(env, sub.op_id), within=60)
        # a live push is its own authority: recheck and disarm refuse it
        with pytest.raises(StateError, match="still running"):
            await life.recheck(env.db, env.settings, env.tenant_id, sub.op_id, actor="t")
        with pytest.raises(StateError, match="running"):
            await life.disarm(
                env.db,
                env.settings,
                env.tenant_id,
                dev.name,
                f"tikguard-{sub.op_id[:24]}-revert",
                actor="t",
                apply=True,
            )
        done = await life.revert_now(env.db, env.settings, env.tenant_id, sub.op_id, actor="t")
        assert done.outcome is None and "revert" in done.reason
        [op] = await push_ops.wait(env.db, env.tenant_id, [sub.op_id])
        assert op.outcome == "reverted", op.evidence.get("reason")
        assert "revert requested by t" in op.evidence["reason"]
        await dev.wait_up(within=30)
        assert dev.router.config_text() == before
        sched, files = await leftovers(dev)
        assert "tikguard" not in sched and not files
        # an ended push: every command refuses it, saying why
        for call in (life.recheck, life.revert_now):
            with pytest.raises(StateError, match="ended reverted"):
                await call(env.db, env.settings, env.tenant_id, op.id, actor="t")


async def uncertain_after_the_import(
    env: Env, monkeypatch: pytest.MonkeyPatch, *, stop_scheduler: bool
) -> Any:
    """A push whose router loses power right after the import and stays dark past the
    proof's patience (``push_boot_wait``): it ends uncertain; then the power returns.
    ``stop_scheduler``: the router's scheduler stops after arming (its timers stay)."""
    dev = env.fleet[0]
    real = push_device.run_import

    async def import_then_cut(*args: Any, **kwargs: Any) -> Any:
        result = await real(*args, **kwargs)
        if stop_scheduler:
            dev.router.scheduler.enabled = False
            dev.router.scheduler.stop()
        await dev.power_loss()
        return result

    monkeypatch.setattr(push_device, "run_import", import_then_cut)
    [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE, window=240.0))
    assert op.outcome == "uncertain", op.evidence.get("reason")
    await dev.power_on()
    await dev.wait_up(within=30)
    return op


async def test_recheck_proves_an_uncertain_push_reverted_after_the_router_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Power lost after the import, the router dark past the proof's patience: the push
    ends uncertain. Back on, the router reverts at boot; recheck proves it."""
    settings = push_settings(tmp_path / "data", push_boot_wait=wall(2), connect_timeout=wall(10))
    async with environment(tmp_path, settings=settings) as env:
        dev = env.fleet[0]
        before = dev.router.config_text()
        op = await uncertain_after_the_import(env, monkeypatch, stop_scheduler=False)
        await until(lambda: dev.router.config_text() == before, within=30)  # reverted at boot
        await dev.wait_up(within=30)
        done = await life.recheck(env.db, env.settings, env.tenant_id, op.id, actor="t")
        assert done.outcome == "reverted" and done.changed, done.reason
        [again] = await push_ops.wait(env.db, env.tenant_id, [op.id])
        assert again.outcome == "reverted"
        assert again.evidence["previously"]["outcome"] == "uncertain"
        assert any(e.stage == "recheck" for e in env.events(op.id))
        sched, files = await leftovers(dev)
        assert "tikguard" not in sched and not files


async def test_disarm_removes_a_leftover_timer_after_showing_it(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        dev = env.fleet[0]
        [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE))
        assert op.outcome == "committed", op.evidence.get("reason")
        names = push_device.Names(op.id, False)
        # a timer of that (ended) push left on the router, as an interrupted commit would
        await dev.router.execute(
            f'/system scheduler add name={names.scheduler} comment="{names.marker}" '
            'interval=1d on-event=":log info x"',
            user=dev.username,
        )
        with pytest.raises(StateError, match="ended committed"):
            await life.revert_now(env.db, env.settings, env.tenant_id, op.id, actor="t")
        plan = await life.disarm(
            env.db, env.settings, env.tenant_id, dev.name, names.scheduler, actor="t", apply=False
        )
        assert plan.operation == op.id and plan.operation_state == "ended committed"
        assert not plan.removed and names.scheduler in (await leftovers(dev))[0]
        done = await life.disarm(
            env.db, env.settings, env.tenant_id, dev.name, names.scheduler, actor="t", apply=True
        )
        assert done.removed and names.scheduler not in (await leftovers(dev))[0]
        with env.db.session() as s:
            actions = [a.action for a in list_audit(s, env.tenant_id)]
        assert "device.disarm" in actions
        # not ours: refused, left alone
        await dev.router.execute(
            '/system scheduler add name=tikguard-x interval=1d on-event=":log info x"',
            user=dev.username,
        )
        with pytest.raises(Exception, match="no tikguard marker"):
            await life.disarm(
                env.db, env.settings, env.tenant_id, dev.name, "tikguard-x", actor="t", apply=True
            )


async def test_a_user_with_a_password_commits_and_the_password_is_not_verifiable(
    tmp_path: Path,
) -> None:
    async with environment(tmp_path) as env:
        dev = env.fleet[0]
        script = (
            "/user add name=ops1 group=read password=first-one\n"
            "/user set [ find name=ops1 ] group=write password=Sup3r-secret\n"
        )
        [op] = await env.push(push_ops.PushRequest([dev.name], script=script, window=COMMIT_WINDOW))
        assert op.outcome == "committed", op.evidence.get("reason")
        unexported = op.evidence["verify"]["unexported"]
        assert unexported["checked"] == ["/user ops1"]
        assert any("password" in n for n in unexported["not_verifiable"])
        assert "Sup3r-secret" not in str(op.evidence) and "first-one" not in str(op.evidence)
        assert "group=write" in await dev.router.execute(
            "/user print detail where name=ops1", user=dev.username
        )
        assert await asyncio.to_thread(dev.router.authenticate, "ops1", "Sup3r-secret")


async def test_every_backup_reports_leftovers_and_removes_files_of_ended_pushes(
    tmp_path: Path,
) -> None:
    from tikguard.ops import fleet
    from tikguard.ops.backup import backup

    async with environment(tmp_path) as env:
        dev = env.fleet[0]
        [op] = await env.push(push_ops.PushRequest([dev.name], script=CHANGE))
        assert op.outcome == "committed", op.evidence.get("reason")
        names = push_device.Names(op.id, False)
        # what an interrupted push leaves: its timer, its revert point; and a file of a
        # push this controller does not know (left alone, reported)
        await dev.router.execute(
            f'/system scheduler add name={names.scheduler} comment="{names.marker}" '
            'interval=1d on-event=":log info x"',
            user=dev.username,
        )
        await dev.router.execute(f"/system backup save name={names.stem}", user=dev.username)
        await dev.router.execute(
            "/system backup save name=tikguard-0123456789abcdef01234567", user=dev.username
        )
        [result] = await backup(env.db, env.settings, env.tenant_id, names=[dev.name])
        assert result.ok
        assert result.removed == (f"{names.stem}.backup",)
        kinds = {(x["kind"], x["name"]) for x in result.leftovers}
        assert kinds == {
            ("timer", names.scheduler),
            ("file", "tikguard-0123456789abcdef01234567.backup"),
        }
        files = [f.name for f in dev.router.files.list()]
        assert f"{names.stem}.backup" not in files
        assert "tikguard-0123456789abcdef01234567.backup" in files
        [row] = fleet.fleet(env.db, env.tenant_id)
        assert {x["name"] for x in row.leftovers} == {n for _, n in kinds}
        # once disarmed, the next backup reports only the unknown file
        await life.disarm(
            env.db, env.settings, env.tenant_id, dev.name, names.scheduler, actor="t", apply=True
        )
        [result] = await backup(env.db, env.settings, env.tenant_id, names=[dev.name])
        assert [x["kind"] for x in result.leftovers] == ["file"]


@pytest.mark.parametrize("revision", ["1", "3"])
async def test_a_push_of_an_older_workflow_revision_is_refused_clearly_and_rechecked(
    tmp_path: Path, revision: str
) -> None:
    """A push recorded by another revision is not resumed: its operation says so and
    names the way out; recheck then proves it from the router. Revision 3 is the one
    before typed step results (its request and step answers were plain dicts): it is
    refused, never replayed through the typed steps."""
    from dbos import EnqueueOptions

    from tikguard import __version__
    from tikguard.ops import runtime
    from tikguard.ops.push.workflow import WORKFLOW_NAME
    from tikguard.store import devices as store_devices
    from tikguard.store import operations as store_ops

    async with environment(tmp_path, launch=False) as env:
        dev = env.fleet[0]
        with env.db.transaction() as s:
            device = store_devices.get_device_by_name(s, env.tenant_id, dev.name)
            op, _ = store_ops.create_operation(
                s, env.tenant_id, kind="push", device_id=device.id, parameters={"mode": "merge"}
            )
            op_id, device_id = op.id, device.id
        req = {"op_id": op_id, "tenant_id": env.tenant_id, "device_id": device_id}
        options = EnqueueOptions(
            workflow_name=WORKFLOW_NAME,
            queue_name="tikguard-old-revision",  # a queue this revision never polls
            workflow_id=op_id,
            app_version=f"{__version__ if revision == '3' else '0.0.1'}+wf{revision}",
        )
        async with runtime.running(env.settings):
            pass  # the system database exists from the first launch on
        async with runtime.submitter(env.settings) as client:
            await client.enqueue_async(options, req)
        async with runtime.running(env.settings):
            stale = [e for e in env.events(op_id) if e.stage == "stale-revision"]
            assert len(stale) == 1 and f"tikguard ops recheck {op_id}" in stale[0].message
            done = await life.recheck(env.db, env.settings, env.tenant_id, op_id, actor="t")
        assert done.outcome == "failed", done.reason
        assert "apply never started" in done.reason


async def test_revert_fires_the_revert_point_of_an_uncertain_push_still_armed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A router whose scheduler does not run (its timers stay), dark past the proof's
    patience after the import: uncertain, change running, both timers still there.
    recheck says so and names revert; revert loads the revert point and proves it."""
    settings = push_settings(tmp_path / "data", push_boot_wait=wall(2), connect_timeout=wall(10))
    async with environment(tmp_path, settings=settings) as env:
        dev = env.fleet[0]
        before = dev.router.config_text()
        op = await uncertain_after_the_import(env, monkeypatch, stop_scheduler=True)
        assert "10.95.0.1/24" in dev.router.config_text()
        checked = await life.recheck(env.db, env.settings, env.tenant_id, op.id, actor="t")
        assert checked.outcome == "uncertain" and f"tikguard revert {op.id}" in checked.reason
        done = await life.revert_now(env.db, env.settings, env.tenant_id, op.id, actor="t")
        assert done.outcome == "reverted" and done.changed, done.reason
        assert dev.router.config_text() == before
        sched, files = await leftovers(dev)
        assert "tikguard" not in sched and not files
