"""A dry run refuses exactly what the real push refuses, in the same words.

``push --dry-run`` (``push_ops.preview``) and the push's first step run one preflight
function; what needs no router (the request, the script's syntax with line and column)
is refused by both before anything reaches a router. Each refusal the preflight has is
provoked on its own router of one fleet, then asked of the dry run and of the real push.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from tikguard.device.errors import DeviceError
from tikguard.ops import push as push_ops
from tikguard.store import devices as store_devices
from tikguard.store import operations as store_ops
from tikguard.store import versions as store_versions
from tikguard.store.errors import InvalidInput

from .pushkit import WINDOW, Env, environment

pytestmark = pytest.mark.timeout(180)

NOTHING_SENT = "no write command was sent to the device"
ADD = "/ip address add address=10.91.0.1/24 interface=ether2\n"


def _words(problems: Sequence[str]) -> list[str]:
    return [re.sub(r"\d+", "N", p) for p in problems]


def _files(env: Env, index: int) -> list[str]:
    return [f.name for f in env.fleet[index].router.files.list() if "tikguard" in f.name]


async def _refusal_cases(env: Env) -> list[tuple[str, push_ops.PushRequest]]:
    """One router per refusal: (the words the refusal must contain, the request)."""
    r = [dev.name for dev in env.fleet]
    fleet = env.fleet
    await fleet[0].router.execute(
        "/user group set [ find name=full ] "
        "policy=read,write,ssh,ftp,test,sensitive,!reboot,!policy",
        user=fleet[0].username,
    )
    fleet[1].router.device_mode["scheduler"] = "no"
    fleet[2].inject("full-flash")
    # a version whose restore the patch cannot express (a reference by internal id)
    with env.db.transaction() as s:
        device = store_devices.get_device_by_name(s, env.tenant_id, r[5])
        newest = store_versions.latest_version(s, env.tenant_id, device.id)
        assert newest is not None
        text = store_versions.version_text(newest)
        odd, _ = store_versions.record_backup(
            s,
            env.tenant_id,
            device.id,
            normalised_redacted_text=text
            + "/interface bridge port\nadd bridge=*1A interface=ether2\n",
            secrets=store_versions.get_secrets(s, env.tenant_id, newest),
            ros_version=newest.ros_version,
            trigger="manual",
        )
        odd_seq = odd.seq
    return [
        ("the login user lacks policies: policy, reboot", push_ops.PushRequest([r[0]], script=ADD)),
        ("device-mode forbids the scheduler", push_ops.PushRequest([r[1]], script=ADD)),
        ("bytes free: no room for the revert point", push_ops.PushRequest([r[2]], script=ADD)),
        ("/import dry-run rejects the script", push_ops.PushRequest([r[3]], script=ADD + ADD)),
        (
            "window is too short",
            push_ops.PushRequest([r[4]], script=ADD + ":delay 90s\n", window=WINDOW),
        ),
        (
            "the patch cannot express",
            push_ops.PushRequest([r[5]], mode="restore", version=odd_seq),
        ),
    ]


async def test_every_preflight_refusal_is_the_dry_runs_too(tmp_path: Path) -> None:
    async with environment(tmp_path, 6, version="7.18") as env:
        cases = await _refusal_cases(env)
        before = [dev.router.config_text() for dev in env.fleet]
        previews = [
            await push_ops.preview(env.db, env.settings, env.tenant_id, req, req.devices[0])
            for _, req in cases
        ]
        # the dry run writes no configuration and leaves no file behind
        assert [dev.router.config_text() for dev in env.fleet] == before
        assert not any(_files(env, i) for i in range(len(cases)))
        subs = [
            sub
            for _, req in cases
            for sub in await push_ops.submit(env.db, env.settings, env.tenant_id, req)
        ]
        ops = await push_ops.wait(env.db, env.tenant_id, [s.op_id for s in subs], poll=0.05)
        for (words, _), preview, op in zip(cases, previews, ops, strict=True):
            assert preview.refused is not None and words in preview.refused, preview.refused
            assert preview.preflight["refused"] == preview.refused
            assert op.outcome == "failed", op.evidence.get("reason")
            # the same words; only what is measured (the dry-run import's seconds) may vary
            assert _words(op.evidence["preflight"]["problems"]) == _words(preview.problems)
            reason = op.evidence["reason"]
            assert _words([reason]) == _words([f"{preview.refused}; {NOTHING_SENT}"])
        assert [dev.router.config_text() for dev in env.fleet] == before


@pytest.mark.parametrize(
    ("script", "words"),
    [
        (
            '/ip dns set servers=9.9.9.9\n/system identity set name="edge\n',
            'script:2:27: unterminated quoted string (every " must be closed',
        ),
        (
            "/ip dns set servers=9.9.9.9\n/ip adress add address=10.9.0.1/24 interface=ether2\n",
            "script:2:5: bad command name adress",
        ),
        (":if (true) do={\n  /ip dns set servers=9.9.9.9\n", "script:1:15: { is never closed"),
    ],
    ids=["unterminated-quote", "unknown-menu", "open-block"],
)
async def test_a_syntax_error_is_refused_alike_before_any_router(
    tmp_path: Path, script: str, words: str
) -> None:
    """Refused by the dry run and by the push with one message naming line and column;
    no operation is created and nothing reaches the router."""
    async with environment(tmp_path, launch=False) as env:
        before = env.fleet[0].router.config_text()
        req = push_ops.PushRequest([env.fleet[0].name], script=script)
        with pytest.raises(InvalidInput) as dry:
            await push_ops.preview(env.db, env.settings, env.tenant_id, req, req.devices[0])
        with pytest.raises(InvalidInput) as real:
            await push_ops.submit(env.db, env.settings, env.tenant_id, req)
        assert str(dry.value) == str(real.value)
        assert words in str(real.value) and "nothing was sent" in str(real.value)
        with env.db.session() as s:
            assert store_ops.list_operations(s, env.tenant_id, limit=10) == []
        assert env.fleet[0].router.config_text() == before


async def test_a_router_that_does_not_answer_is_refused_alike(tmp_path: Path) -> None:
    """The dry run cannot read the router: it says why; the push ends ``failed`` with
    the same words, nothing written."""
    async with environment(tmp_path) as env:
        name = env.fleet[0].name
        with env.db.transaction() as s:
            device = store_devices.get_device_by_name(s, env.tenant_id, name)
            store_devices.update_device(s, env.tenant_id, device.id, port=9)  # nothing listens
        req = push_ops.PushRequest([name], script=ADD)
        with pytest.raises(DeviceError) as dry:
            await push_ops.preview(env.db, env.settings, env.tenant_id, req, name)
        [op] = await env.push(req)
        assert op.outcome == "failed", op.evidence.get("reason")
        assert op.evidence["reason"] == f"preflight: {dry.value.message}; {NOTHING_SENT}"
