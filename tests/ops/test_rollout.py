"""Fleet rollouts on simulated routers: canary, waves, halts, abort, templates, targets.

Every outcome is also read from the routers themselves (the simulator's config), not
only from what tikguard reports.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tikguard.ops import push as push_ops
from tikguard.ops import workers as fleet_workers
from tikguard.ops.rollout import service as rollouts
from tikguard.ops.rollout.records import RolloutView
from tikguard.ops.rollout.targets import Selector
from tikguard.store import devices as store_devices
from tikguard.store.errors import InvalidInput

from .pushkit import WINDOW, Env, environment, until

pytestmark = pytest.mark.timeout(180)

#: A change that commits: one address per router.
GOOD = "/ip address add address=10.66.0.1/24 interface=ether2 comment=rollout\n"
#: Cuts the router off (the address the controller reaches it on is removed): reverted.
CUT = '/ip address\nremove [ find address~"^{host}/" ]\n'


def _request(source: str, **kw: Any) -> rollouts.RolloutRequest:
    kw.setdefault("selector", Selector(all=True))
    return rollouts.RolloutRequest(source=source, requested_by="test", **kw)


async def _run(env: Env, req: rollouts.RolloutRequest, until_state: set[str]) -> RolloutView:
    rollout_id = await rollouts.start(env.db, env.settings, env.tenant_id, req)
    return await _wait(env, rollout_id, until_state)


async def _wait(env: Env, rollout_id: str, states: set[str], within: float = 120) -> RolloutView:
    view = rollouts.get(env.db, env.tenant_id, rollout_id)
    async with asyncio.timeout(within):
        while view.state not in states:
            await asyncio.sleep(0.05)
            view = await asyncio.to_thread(rollouts.get, env.db, env.tenant_id, rollout_id)
    return view


def _has(env: Env, index: int, text: str) -> bool:
    return text in env.fleet[index].router.config_text()


def _tag(env: Env, names_tags: dict[str, dict[str, Any]]) -> None:
    with env.db.transaction() as s:
        for name, changes in names_tags.items():
            device = store_devices.get_device_by_name(s, env.tenant_id, name)
            store_devices.update_device(s, env.tenant_id, device.id, **changes)


async def test_canary_then_waves_all_committed(tmp_path: Path) -> None:
    async with environment(tmp_path, 3) as env:
        view = await _run(env, _request(GOOD, waves=["50%", "100%"]), {"completed"})
        assert view.waves == [1, 1, 1]
        assert [t.outcome for t in view.targets] == ["committed"] * 3
        assert all(_has(env, i, "10.66.0.1/24") for i in range(3))
        # each push, and so each mirror commit, names who asked for the rollout
        ops = await push_ops.wait(env.db, env.tenant_id, [str(t.op_id) for t in view.targets])
        assert {op.requested_by for op in ops} == {f"test (rollout {view.id[:12]})"}


async def test_canary_failure_halts_before_wave_1(tmp_path: Path) -> None:
    async with environment(tmp_path, 3) as env:
        host = env.fleet[0].host
        # the canary (first by name) is cut off by this change; the others would not be
        source = "{% if device.name == '" + env.fleet[0].name + "' %}" + CUT.format(host=host)
        source += "{% else %}" + GOOD + "{% endif %}\n"
        view = await _run(
            env, _request(source, template=True, window=WINDOW), {"halted", "completed"}
        )
        assert view.state == "halted"
        canary, *rest = view.targets
        assert canary.outcome == "reverted" and "1 router(s)" in (view.reason or "")
        assert all(t.status == "pending" and t.op_id is None for t in rest)
        assert not _has(env, 1, "10.66.0.1/24") and not _has(env, 2, "10.66.0.1/24")
        # abort at the halt: the rest are never started
        await rollouts.abort(env.db, env.settings, env.tenant_id, view.id, "test")
        view = await _wait(env, view.id, {"aborted"})
        assert [t.status for t in view.targets[1:]] == ["not-started", "not-started"]


async def test_max_failures_tolerates_two(tmp_path: Path) -> None:
    async with environment(tmp_path, 4, version="7.16") as env:
        # 7.16 checks the script with /import dry-run: r001/r002 fail before any write
        bad = "/ip address add address=10.67.0.1/24 interface=nonexistent-port\n"
        pair = f"['{env.fleet[0].name}', '{env.fleet[1].name}']"
        source = "{% if device.name in " + pair + " %}" + bad + "{% else %}" + GOOD + "{% endif %}"
        req = _request(source, template=True, canary=1, waves=["2", "100%"], max_failures=2)
        view = await _run(env, req, {"completed", "halted"})
        assert view.state == "completed", view.reason
        outcomes = [t.outcome for t in view.targets]
        assert outcomes[2:] == ["committed", "committed"]
        assert outcomes[:2] == ["failed", "failed"]


async def test_template_errors_reported_per_router_before_anything(tmp_path: Path) -> None:
    async with environment(tmp_path, 3, launch=False) as env:
        _tag(env, {env.fleet[0].name: {"site": "north"}})
        source = "/system identity set name={{ device.site }}\n"
        with pytest.raises(InvalidInput) as err:
            await rollouts.start(
                env.db, env.settings, env.tenant_id, _request(source, template=True)
            )
        message = str(err.value)
        assert "2 of 3" in message
        for dev in env.fleet[1:]:
            assert f"{dev.name}: template: template line 1: device.site is not defined" in message
        assert rollouts.list_all(env.db, env.tenant_id) == []


async def test_a_rendered_change_that_does_not_parse_is_refused_per_router(
    tmp_path: Path,
) -> None:
    """What each router's push would refuse before reaching it, the rollout refuses for
    that router before anything starts, with the line and column."""
    async with environment(tmp_path, 2, launch=False) as env:
        source = (
            "{% if device.name == '" + env.fleet[0].name + "' %}/ip dns set servers=9.9.9.9\n"
            '{% else %}/system identity set name="{{ device.name }}\n{% endif %}'
        )
        with pytest.raises(InvalidInput) as err:
            await rollouts.start(
                env.db, env.settings, env.tenant_id, _request(source, template=True)
            )
        message = str(err.value)
        assert "1 of 2" in message, message
        assert f"{env.fleet[1].name}: the script does not parse" in message
        assert "script:1:27: unterminated quoted string" in message
        assert rollouts.list_all(env.db, env.tenant_id) == []


async def test_empty_change_is_skipped(tmp_path: Path) -> None:
    async with environment(tmp_path, 2) as env:
        source = "{% if device.name == '" + env.fleet[1].name + "' %}" + GOOD + "{% endif %}"
        view = await _run(env, _request(source, template=True), {"completed"})
        first, second = view.targets
        assert first.status == "skipped" and "nothing to do" in (first.reason or "")
        assert second.outcome == "committed"
        assert not _has(env, 0, "10.66.0.1/24") and _has(env, 1, "10.66.0.1/24")


async def test_targets_by_tag_site_regex_and_all(tmp_path: Path) -> None:
    async with environment(tmp_path, 4, launch=False) as env:
        names = [d.name for d in env.fleet]
        _tag(
            env,
            {
                names[0]: {"tags": ["edge"], "site": "north"},
                names[1]: {"tags": ["edge", "core"], "site": "south"},
                names[2]: {"site": "north"},
            },
        )
        await env.fleet[3].router.execute(
            "/ip dns set servers=192.0.2.53", user=env.fleet[3].username
        )
        from tikguard.ops.backup import backup

        await backup(env.db, env.settings, env.tenant_id)

        async def chosen(selector: Selector) -> list[str]:
            plan = await rollouts.plan(
                env.db, env.settings, env.tenant_id, _request(GOOD, selector=selector)
            )
            return sorted(r for g in plan.groups for r in g.routers)

        assert await chosen(Selector(tag="edge")) == names[:2]
        assert await chosen(Selector(site="north")) == [names[0], names[2]]
        assert await chosen(Selector(match=r"servers=192\.0\.2\.53")) == [names[3]]
        assert await chosen(Selector(all=True)) == names
        assert await chosen(Selector(names=[names[1]], site="north")) == [
            names[0],
            names[1],
            names[2],
        ]
        with pytest.raises(InvalidInput, match="longer than"):
            await chosen(Selector(match="(x+x+)+y" + "a" * 300))


async def test_abort_mid_wave_lets_in_flight_finish(tmp_path: Path) -> None:
    async with environment(tmp_path, 3) as env:
        slow = ":delay 30s\n" + GOOD
        req = _request(slow, canary=0, waves=["100%"])
        rollout_id = await rollouts.start(env.db, env.settings, env.tenant_id, req)

        def submitted() -> bool:
            view = rollouts.get(env.db, env.tenant_id, rollout_id)
            return any(t.op_id for t in view.targets)

        await until(submitted, within=60)
        await rollouts.abort(env.db, env.settings, env.tenant_id, rollout_id, "test")
        view = await _wait(env, rollout_id, {"aborted", "completed"})
        assert view.state == "aborted"
        started = [t for t in view.targets if t.op_id]
        assert started and all(t.outcome == "committed" for t in started)
        assert all(t.status == "not-started" for t in view.targets if not t.op_id)


async def test_health_check_failure_in_wave_2_halts_before_wave_3(tmp_path: Path) -> None:
    async with environment(tmp_path, 4) as env:
        names = [d.name for d in env.fleet]
        # every router but the third answers the check (its identity is its name)
        check = ("/system identity print", "name: (" + "|".join(names[:2] + names[3:]) + ")")
        # a failed check reverts at once (tikguard loads the revert point): no short window
        req = _request(GOOD, canary=1, waves=["2", "3", "100%"], checks=[check])
        view = await _run(env, req, {"halted", "completed"})
        assert view.state == "halted" and view.current_wave == 2
        outcomes = [t.outcome for t in view.targets]
        assert outcomes[:2] == ["committed", "committed"]
        assert outcomes[2] == "reverted" and "health check" in (view.targets[2].reason or "")
        assert view.targets[3].status == "pending" and view.targets[3].op_id is None
        assert not _has(env, 2, "10.66.0.1/24") and not _has(env, 3, "10.66.0.1/24")
        # continue past the failure: the last wave runs
        await rollouts.continue_(env.db, env.settings, env.tenant_id, view.id, "test")
        view = await _wait(env, view.id, {"completed"})
        assert view.targets[3].outcome == "committed" and _has(env, 3, "10.66.0.1/24")


async def test_vars_from_device_set_and_csv_quoted_in_templates(tmp_path: Path) -> None:
    from tikguard.ops import devices as devices_ops

    async with environment(tmp_path, 3, launch=False) as env:
        a, b, c = (d for d in env.fleet)
        csv_text = "name,host,port,dns,note\n" + "".join(
            f"{d.name},{d.host},{d.port},{dns},{note}\n"
            for d, dns, note in ((a, "9.9.9.9", "plain"), (b, "1.1.1.1", 'say "hi"; $x'))
        )
        rows = devices_ops.parse_inventory(csv_text)
        devices_ops.import_rows(env.db, env.tenant_id, rows, actor="test", update=True)
        c_id = devices_ops.id_of(env.db, env.tenant_id, c.name)
        devices_ops.update(
            env.db,
            env.tenant_id,
            c_id,
            set_vars={"dns": "8.8.8.8", "note": "n"},
            site="x",
            actor="test",
        )
        view = devices_ops.update(env.db, env.tenant_id, c_id, unset_vars=["note"], actor="test")
        assert view.vars == {"dns": "8.8.8.8"} and view.site == "x"
        source = (
            "/ip dns set servers={{ vars.dns }}\n"
            "/system note set note={{ vars.note | default('none') }} "
            "show-at-login={{ 'yes' | raw }}\n"
        )
        plan = await rollouts.plan(
            env.db, env.settings, env.tenant_id, _request(source, template=True)
        )
        diffs = {r: g.diff for g in plan.groups for r in g.routers}
        assert "9.9.9.9" in diffs[a.name] and "1.1.1.1" in diffs[b.name]
        assert "8.8.8.8" in diffs[c.name] and "none" in diffs[c.name]
        # the quoting function quoted the value: it stays one argument
        assert 'say \\"hi\\"; \\$x' in diffs[b.name]


async def test_a_router_removed_after_the_start_counts_as_failed(tmp_path: Path) -> None:
    async with environment(tmp_path, 2) as env:
        req = _request(GOOD, approve=True)
        rollout_id = await rollouts.start(env.db, env.settings, env.tenant_id, req)
        view = await _wait(env, rollout_id, {"waiting"})
        with env.db.transaction() as s:
            gone = store_devices.get_device_by_name(s, env.tenant_id, env.fleet[1].name)
            store_devices.remove_device(s, env.tenant_id, gone.id)
        await rollouts.continue_(env.db, env.settings, env.tenant_id, rollout_id, "test")
        view = await _wait(env, rollout_id, {"halted", "completed"})
        assert view.state == "halted"
        assert view.targets[1].outcome == "failed"
        assert "removed" in (view.targets[1].reason or "")
        await rollouts.abort(env.db, env.settings, env.tenant_id, rollout_id, "test")
        await _wait(env, rollout_id, {"aborted"})


async def test_pushes_outside_the_rollout_count_but_never_stall_it(tmp_path: Path) -> None:
    async with environment(tmp_path, 3) as env:
        names = [d.name for d in env.fleet]
        manual = push_ops.PushRequest([names[0]], script=GOOD, confirm="manual")
        [sub] = await push_ops.submit(env.db, env.settings, env.tenant_id, manual)
        await until(
            lambda: any(e.stage == "waiting-confirm" for e in env.events(sub.op_id)), within=60
        )
        assert await fleet_workers.push_load(env.settings, env.db) == 1
        view = await _run(
            env, _request(GOOD, selector=Selector(names=names[1:]), waves=["100%"]), {"completed"}
        )
        assert [t.outcome for t in view.targets] == ["committed", "committed"]
        await push_ops.confirm(env.settings, sub.op_id)
        [op] = await push_ops.wait(env.db, env.tenant_id, [sub.op_id])
        assert op.outcome == "committed"
        assert await fleet_workers.push_load(env.settings, env.db) == 0
