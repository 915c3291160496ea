"""Restore to each older version of a router whose history has bridge/VLAN changes,
firewall reordering, address lists and user changes; and a guarded full replace.

After each restore the router's own running config is compared (semantically) with
the stored version, secrets put back.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tikguard.ops import push as push_ops
from tikguard.ops.backup import backup
from tikguard.routeros.diff import diff
from tikguard.routeros.normalise import normalise
from tikguard.routeros.parse import parse
from tikguard.routeros.quoting import quote
from tikguard.routeros.secrets import merge_text_secrets
from tikguard.store import versions as store_versions

from .pushkit import Env, environment

pytestmark = pytest.mark.timeout(240)

HISTORY = [
    [  # v2: a bridge with ports and a VLAN
        "/interface bridge add name=br1",
        "/interface bridge port add bridge=br1 interface=ether3",
        "/interface bridge port add bridge=br1 interface=ether4",
        "/interface vlan add name=vlan10 interface=br1 vlan-id=10",
        "/interface bridge vlan add bridge=br1 vlan-ids=10 tagged=br1,ether3",
    ],
    [  # v3: firewall rules and address lists, with awkward comments
        "/ip firewall filter add chain=forward action=accept comment=first",
        "/ip firewall filter add chain=forward action=drop comment=second",
        f"/ip firewall filter add chain=forward action=accept comment={quote('third; $x [y]')}",
        f"/ip firewall address-list add list=blocked address=198.51.100.7 comment={quote('ünï')}",
        "/ip firewall address-list add list=blocked address=198.51.100.8",
    ],
    [  # v4: reorder the firewall, drop a list entry, add a user
        "/ip firewall filter move [ find comment=second ] destination=0",
        "/ip firewall address-list remove [ find address=198.51.100.8 ]",
        "/user add name=ops group=read password=" + quote('S3cr$t "q"'),
    ],
    [  # v5: the VLAN goes, the bridge gets a new port, the user changes group
        "/interface bridge vlan remove [ find vlan-ids=10 ]",
        "/interface vlan remove [ find name=vlan10 ]",
        "/interface bridge port add bridge=br1 interface=ether5",
        "/user set [ find name=ops ] group=write",
    ],
]


async def _build_history(env: Env) -> list[int]:
    dev = env.fleet[0]
    seqs = []
    for change in HISTORY:
        for line in change:
            out = await dev.router.execute(line, user=dev.username)
            assert "failure" not in out and "error" not in out, (line, out)
        [result] = await backup(env.db, env.settings, env.tenant_id)
        assert result.ok and result.version is not None
        seqs.append(result.version)
    return seqs


def _matches_version(env: Env, seq: int) -> str:
    """Empty when the router's running config equals version ``seq`` (else the diff)."""
    with env.db.session() as s:
        device_id = _device_id(env)
        version = store_versions.get_version_by_seq(s, env.tenant_id, device_id, seq)
        text = merge_text_secrets(
            store_versions.version_text(version),
            store_versions.get_secrets(s, env.tenant_id, version),
        )
    running = normalise(env.fleet[0].router.config_text())
    change = diff(parse(running), parse(text))
    return "" if change.empty else change.to_text()


def _device_id(env: Env) -> int:
    from tikguard.store import devices as store_devices

    with env.db.session() as s:
        return store_devices.get_device_by_name(s, env.tenant_id, env.fleet[0].name).id


async def test_restore_each_older_version(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        newest = (await _build_history(env))[-1]
        for seq in [1, 3, 2, 4, newest]:
            req = push_ops.PushRequest([env.fleet[0].name], mode="restore", version=seq)
            [op] = await env.push(req)
            assert op.outcome == "committed", (seq, op.evidence.get("reason"))
            assert _matches_version(env, seq) == "", f"after restoring v{seq}"


async def test_replace_whole_config(tmp_path: Path) -> None:
    async with environment(tmp_path) as env:
        await _build_history(env)
        with env.db.session() as s:
            version = store_versions.get_version_by_seq(s, env.tenant_id, _device_id(env), 1)
            target = merge_text_secrets(
                store_versions.version_text(version),
                store_versions.get_secrets(s, env.tenant_id, version),
            )
        req = push_ops.PushRequest([env.fleet[0].name], mode="replace", script=target)
        [op] = await env.push(req)
        assert op.outcome == "committed", op.evidence.get("reason")
        assert _matches_version(env, 1) == ""
