"""The one write path for what a router said (``ops.readings``): trust on first use of
the host key, versions only on change, the device row, and the one place where "a
version is stored" is heard -- by backups and pushes alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tikguard.device.errors import HostKeyChanged, Unreachable
from tikguard.device.session import fingerprint
from tikguard.ops import push as push_ops
from tikguard.ops import readings
from tikguard.ops.readings import BackupStatus, Reading, Recorded, Unread
from tikguard.process import STATE
from tikguard.settings import Settings
from tikguard.store import devices as store_devices
from tikguard.store import versions as store_versions
from tikguard.store.db import Database
from tikguard.store.tenants import ensure_tenant

from .pushkit import environment

KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHsdDNHfKaXwuiLjEO1Ro6zgRo7DN8IxWpEXQYjoFsJN"
KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcFxUgvz5cAZB25NsXDqJqYdDoZXsvFHjnuR0qkDl1m"
CONFIG = "/ip dns\nset servers=9.9.9.9\n"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(Settings(data_dir=tmp_path))
    yield database
    database.dispose()


def _devices(db: Database, count: int) -> tuple[int, list[int]]:
    with db.transaction() as s:
        tenant = ensure_tenant(s)
        ids = [
            store_devices.add_device(
                s, tenant.id, name=f"r{i}", host=f"10.0.0.{i + 1}", username="admin"
            ).id
            for i in range(count)
        ]
        return tenant.id, ids


def _record(db: Database, tenant_id: int, items: Sequence[Reading | Unread]) -> list[Recorded]:
    with db.transaction() as s:
        return readings.record_many(s, tenant_id, items, trigger="manual")


def _reading(device_id: int, key: str, text: str = CONFIG) -> Reading:
    return Reading(device_id, text, {}, "7.16", "CHR", key)


def test_first_use_pins_a_changed_key_keeps_nothing_and_waits_for_an_operator(
    db: Database,
) -> None:
    tenant_id, (first, second, third) = _devices(db, 3)
    pinned = _record(db, tenant_id, [_reading(first, KEY_A), _reading(second, KEY_A)])
    assert [r.status for r in pinned] == [BackupStatus.CHANGED, BackupStatus.CHANGED]
    again = _record(
        db,
        tenant_id,
        [
            _reading(first, KEY_A),  # same key, same config: unchanged
            _reading(second, KEY_B, CONFIG + "/system identity\nset name=x\n"),  # key changed
            Unread(third, Unreachable("r2", "r2: no route")),
        ],
    )
    assert again[0].status is BackupStatus.UNCHANGED and again[0].version == 1
    assert again[0].sha256 == store_versions.hash_text(CONFIG)
    assert again[1].status is BackupStatus.FAILED
    assert isinstance(again[1].error, HostKeyChanged)
    assert again[2].status is BackupStatus.FAILED and again[2].version_id is None
    with db.session() as s:
        one = store_devices.get_device(s, tenant_id, first)
        two = store_devices.get_device(s, tenant_id, second)
        three = store_devices.get_device(s, tenant_id, third)
        assert one.host_key == KEY_A and one.host_key_last_verified is not None
        assert one.ros_version == "7.16" and one.model == "CHR"
        # the pin stays, the new key waits as pending, and nothing of the reading is kept
        assert two.host_key == KEY_A and two.host_key_pending == KEY_B
        assert two.last_backup_status == "failed" and "host-key-changed" in str(
            two.last_backup_error
        )
        assert len(store_versions.list_versions(s, tenant_id, second)) == 1
        assert three.host_key is None and three.last_backup_status == "failed"
    # a connection refused for a changed key records the key it saw, like a reading
    refused = HostKeyChanged("r2", fingerprint(KEY_A), fingerprint(KEY_B), KEY_B)
    _record(db, tenant_id, [Unread(first, refused)])
    with db.session() as s:
        assert store_devices.get_device(s, tenant_id, first).host_key_pending == KEY_B


def test_a_removed_device_is_answered_as_gone(db: Database) -> None:
    tenant_id, (only,) = _devices(db, 1)
    with db.transaction() as s:
        store_devices.remove_device(s, tenant_id, only)
    [rec] = _record(db, tenant_id, [_reading(only, KEY_A)])
    assert rec.gone and rec.status is BackupStatus.FAILED


async def test_backups_and_pushes_are_heard_in_one_place(tmp_path: Path) -> None:
    """A listener of stored versions hears the first backup, then the push's pre-push
    and post-push versions, each with its trigger's version number and hash."""
    heard: list[tuple[int, int | None, BackupStatus]] = []

    def listen(db: Database, tenant_id: int, recorded: Sequence[Recorded]) -> None:
        heard.extend((r.device_id, r.version, r.status) for r in recorded)

    readings.on_stored(listen)
    try:
        async with environment(tmp_path) as env:
            assert [(v, s) for _, v, s in heard] == [(1, BackupStatus.CHANGED)]
            req = push_ops.PushRequest(
                devices=[env.fleet[0].name], mode="merge", script="/ip dns set servers=9.9.9.9\n"
            )
            [op] = await env.push(req)
            assert op.outcome == "committed", op.evidence.get("reason")
            # pre-push: the same config as the backup (unchanged); post-push: version 2
            assert [(v, s) for _, v, s in heard[1:]] == [
                (1, BackupStatus.UNCHANGED),
                (2, BackupStatus.CHANGED),
            ]
            with env.db.session() as s:
                newest = store_versions.latest_version(s, env.tenant_id, heard[0][0])
                assert newest is not None and newest.trigger == "post-push"
                assert op.evidence.get("after_hash") == newest.sha256
    finally:
        STATE.of(readings.StoredListeners).listeners.remove(listen)
