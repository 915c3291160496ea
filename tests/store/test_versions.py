"""Config versions: change-only history, secrets beside the text, line counts."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tikguard.store.db import Database
from tikguard.store.devices import add_device
from tikguard.store.errors import InvalidInput, NotFound
from tikguard.store.models import Device, Tenant
from tikguard.store.tenants import create_tenant
from tikguard.store.versions import (
    BackupInput,
    Recorded,
    count_changes,
    get_binary_backup,
    get_secrets,
    get_version,
    get_version_by_seq,
    hash_text,
    latest_version,
    list_versions,
    record_backup,
    record_backups,
    version_detail,
    version_text,
)

CONFIG_1 = """/interface bridge
add name=bridge1
/ip address
add address=192.168.88.1/24 interface=bridge1
/user
set admin password=***
"""
CONFIG_2 = CONFIG_1.replace("192.168.88.1/24", "10.0.0.1/24") + "/system identity\nset name=r1\n"
SECRETS = {"/user admin password": "s3cr3t-Pa$$", "/ppp secret vpn password": "päss\"'\\"}


@pytest.fixture
def device(db: Database, tenant: Tenant) -> Device:
    with db.transaction() as s:
        return add_device(s, tenant.id, name="r1", host="10.0.0.1", username="admin")


def _backup(
    db: Database, tenant: Tenant, device: Device, text: str, **kw: object
) -> tuple[int, bool]:
    args: dict[str, object] = {"secrets": SECRETS, "ros_version": "7.16", "trigger": "manual"}
    args.update(kw)
    with db.transaction() as s:
        version, created = record_backup(
            s,
            tenant.id,
            device.id,
            normalised_redacted_text=text,
            **args,  # type: ignore[arg-type]
        )
        return version.id, created


def test_same_text_twice_is_one_version(db: Database, tenant: Tenant, device: Device) -> None:
    vid1, created1 = _backup(db, tenant, device, CONFIG_1)
    vid2, created2 = _backup(db, tenant, device, CONFIG_1, trigger="scheduled")
    assert created1 and not created2
    assert vid1 == vid2
    with db.session() as s:
        versions = list_versions(s, tenant.id, device.id)
        assert len(versions) == 1
        assert versions[0].last_checked_at >= versions[0].created_at
        assert versions[0].sha256 == hash_text(CONFIG_1)


def test_change_makes_second_version_with_line_counts(
    db: Database, tenant: Tenant, device: Device
) -> None:
    _backup(db, tenant, device, CONFIG_1)
    vid, created = _backup(db, tenant, device, CONFIG_2, trigger="pre-push")
    assert created
    with db.session() as s:
        v = get_version(s, tenant.id, vid)
        assert (v.seq, v.lines_added, v.lines_removed, v.trigger) == (2, 3, 1, "pre-push")
        assert version_text(v) == CONFIG_2
        assert get_version_by_seq(s, tenant.id, device.id, 1).sha256 == hash_text(CONFIG_1)
        assert get_version_by_seq(s, tenant.id, device.id, -1).id == vid
        first = get_version_by_seq(s, tenant.id, device.id, 1)
        assert (first.lines_added, first.lines_removed) == (len(CONFIG_1.splitlines()), 0)


def test_going_back_to_an_older_config_is_a_new_version(
    db: Database, tenant: Tenant, device: Device
) -> None:
    for text in (CONFIG_1, CONFIG_2, CONFIG_1):
        _backup(db, tenant, device, text)
    with db.session() as s:
        assert [v.seq for v in list_versions(s, tenant.id, device.id)] == [3, 2, 1]


def test_secrets_round_trip_exactly(db: Database, tenant: Tenant, device: Device) -> None:
    vid, _ = _backup(db, tenant, device, CONFIG_1)
    with db.session() as s:
        detail = version_detail(s, tenant.id, vid)
        assert detail.secrets is None  # not decrypted unless asked
        assert "s3cr3t" not in repr(detail)
        detail = version_detail(s, tenant.id, vid, with_secrets=True)
        assert detail.secrets == SECRETS
        assert detail.text == CONFIG_1
        assert "s3cr3t" not in repr(detail) and "s3cr3t" not in repr(detail.version)


def test_only_secrets_changed_is_a_new_version(
    db: Database, tenant: Tenant, device: Device
) -> None:
    _backup(db, tenant, device, CONFIG_1)
    new_secrets = {**SECRETS, "/user admin password": "rotated"}
    vid, created = _backup(db, tenant, device, CONFIG_1, secrets=new_secrets)
    assert created
    with db.session() as s:
        v = get_version(s, tenant.id, vid)
        assert v.secrets_changed_only and (v.lines_added, v.lines_removed) == (0, 0)
        assert get_secrets(s, tenant.id, v) == new_secrets


def test_binary_backup_is_kept_encrypted(db: Database, tenant: Tenant, device: Device) -> None:
    blob = bytes(range(256)) * 40
    vid, _ = _backup(db, tenant, device, CONFIG_1, binary_backup=blob)
    with db.session() as s:
        v = get_version(s, tenant.id, vid)
        assert v.binary_backup_enc is not None and blob not in v.binary_backup_enc
        assert get_binary_backup(s, tenant.id, v) == blob
        assert v.binary_backup_size == len(blob)


def test_unknown_trigger_is_refused_and_nothing_stored(
    db: Database, tenant: Tenant, device: Device
) -> None:
    with pytest.raises(InvalidInput, match="unknown backup trigger"):
        _backup(db, tenant, device, CONFIG_1, trigger="hourly")
    with db.session() as s:
        assert latest_version(s, tenant.id, device.id) is None


def test_versions_are_invisible_to_other_tenants(
    db: Database, tenant: Tenant, other_tenant: Tenant, device: Device
) -> None:
    vid, _ = _backup(db, tenant, device, CONFIG_1)
    with db.session() as s:
        with pytest.raises(NotFound):
            get_version(s, other_tenant.id, vid)
        assert list_versions(s, other_tenant.id, device.id) == []
        assert latest_version(s, other_tenant.id, device.id) is None
        with pytest.raises(NotFound):
            get_version_by_seq(s, other_tenant.id, device.id, 1)
        v = get_version(s, tenant.id, vid)
        with pytest.raises(NotFound):
            get_secrets(s, other_tenant.id, v)
    with pytest.raises(NotFound), db.transaction() as s:
        record_backup(
            s,
            other_tenant.id,
            device.id,
            normalised_redacted_text=CONFIG_2,
            secrets={},
            ros_version=None,
            trigger="manual",
        )


lines = st.lists(st.sampled_from(["a", "b", "c", "/ip address", "add x=1", ""]), max_size=12)


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=lines, new=lines)
def test_count_changes_matches_line_multisets(old: list[str], new: list[str]) -> None:
    added, removed = count_changes("".join(f"{x}\n" for x in old), "".join(f"{x}\n" for x in new))
    assert added - removed == len(new) - len(old)
    assert added <= len(new) and removed <= len(old)
    if old == new:
        assert (added, removed) == (0, 0)


configs = st.sampled_from([CONFIG_1, CONFIG_2, "", "/x\nset a=b\n", "/ünï\ncode\r\n"])
secret_maps = st.sampled_from([{}, SECRETS, {"k": "v"}, {"k": "v2"}])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.tuples(configs, secret_maps), min_size=1, max_size=6))
def test_history_keeps_exactly_the_changes(
    db: Database, tenant: Tenant, steps: list[tuple[str, dict[str, str]]]
) -> None:
    with db.transaction() as s:
        from sqlalchemy import func, select

        from tikguard.store.models import Device as DeviceRow

        n = s.scalar(select(func.count()).select_from(DeviceRow)) or 0
        device = add_device(s, tenant.id, name=f"h{n}", host="h", username="u")
    expected: list[tuple[str, dict[str, str]]] = []
    for text, secrets in steps:
        with db.transaction() as s:
            _, created = record_backup(
                s,
                tenant.id,
                device.id,
                normalised_redacted_text=text,
                secrets=secrets,
                ros_version="7.16",
                trigger="scheduled",
            )
        changed = not expected or expected[-1] != (text, secrets)
        assert created == changed
        if changed:
            expected.append((text, secrets))
    with db.session() as s:
        versions = list(reversed(list_versions(s, tenant.id, device.id)))
        assert [v.seq for v in versions] == list(range(1, len(expected) + 1))
        for version, (text, secrets) in zip(versions, expected, strict=True):
            full = get_version(s, tenant.id, version.id)
            assert version_text(full) == text and get_secrets(s, tenant.id, full) == secrets
            assert full.sha256 == hash_text(text)


def test_router_bytes_that_are_not_utf8_survive_exactly(
    db: Database, tenant: Tenant, device: Device
) -> None:
    raw = b'/ip firewall filter\nadd comment="' + "Шлюз".encode("cp1251") + b'"\n'
    text = raw.decode("utf-8", "surrogateescape")  # how the RouterOS lexer hands it over
    secrets = {"/ppp secret пароль password": "p\udce9ss"}
    vid, _ = _backup(db, tenant, device, text, secrets=secrets)
    with db.session() as s:
        v = get_version(s, tenant.id, vid)
        assert version_text(v) == text and get_secrets(s, tenant.id, v) == secrets
        assert v.sha256 == hashlib.sha256(raw).hexdigest() == hash_text(text)
        assert v.size == len(raw)
    _, created = _backup(db, tenant, device, text, secrets=secrets)
    assert not created


def test_text_that_is_not_encodable_is_refused(
    db: Database, tenant: Tenant, device: Device
) -> None:
    with pytest.raises(InvalidInput, match="nothing was stored"):
        _backup(db, tenant, device, "bad \ud800 char\n")


def test_record_backups_follows_record_backup_rules(db: Database, tenant: Tenant) -> None:
    """The batch form: first versions, unchanged, a text change, a secrets-only change and
    a device of another tenant, in one call each, agree with the one-device form."""
    with db.transaction() as s:
        ids = [
            add_device(s, tenant.id, name=f"b{i}", host=f"10.0.1.{i}", username="admin").id
            for i in range(4)
        ]
    with db.transaction() as s:
        other = create_tenant(s, "other-bulk")
        outsider = add_device(s, other.id, name="x", host="10.9.9.9", username="admin").id

    def bulk(items: list[BackupInput], trigger: str = "scheduled") -> dict[int, Recorded]:
        with db.transaction() as s:
            return dict(record_backups(s, tenant.id, items, trigger=trigger))

    first = bulk([BackupInput(i, CONFIG_1, SECRETS, "7.16") for i in ids])
    assert all(first[i].created and first[i].seq == 1 for i in ids)
    new_secrets = dict(SECRETS, **{"/user admin password": "other"})
    second = bulk(
        [
            BackupInput(ids[0], CONFIG_1, SECRETS, "7.16"),
            BackupInput(ids[1], CONFIG_2, SECRETS, "7.17"),
            BackupInput(ids[2], CONFIG_1, new_secrets, "7.16"),
            BackupInput(ids[3], CONFIG_1, {}, "7.16"),
            BackupInput(outsider, CONFIG_1, SECRETS, "7.16"),
        ]
    )
    assert outsider not in second
    assert second[ids[0]] == replace(first[ids[0]], created=False)
    for i in ids[1:]:
        assert second[i].created and second[i].seq == 2
    with db.session() as s:
        unchanged = get_version(s, tenant.id, first[ids[0]].version_id)
        assert unchanged.last_checked_at > unchanged.created_at
        assert len(list_versions(s, tenant.id, ids[0])) == 1
        changed = latest_version(s, tenant.id, ids[1])
        assert changed is not None
        assert (changed.lines_added, changed.lines_removed) == count_changes(CONFIG_1, CONFIG_2)
        assert changed.ros_version == "7.17" and changed.trigger == "scheduled"
        assert version_text(get_version(s, tenant.id, changed.id)) == CONFIG_2
        assert get_secrets(s, tenant.id, changed) == SECRETS
        only = latest_version(s, tenant.id, ids[2])
        assert only is not None and only.secrets_changed_only
        assert (only.lines_added, only.lines_removed) == (0, 0)
        assert get_secrets(s, tenant.id, only) == new_secrets
        emptied = latest_version(s, tenant.id, ids[3])
        assert emptied is not None and emptied.secrets_enc is None
        assert get_secrets(s, tenant.id, emptied) == {}
    # The single-device form sees the batch's versions as its own.
    _, created = _backup_id(db, tenant, ids[1], CONFIG_2)
    assert not created


def _backup_id(db: Database, tenant: Tenant, device_id: int, text: str) -> tuple[int, bool]:
    with db.transaction() as s:
        version, created = record_backup(
            s,
            tenant.id,
            device_id,
            normalised_redacted_text=text,
            secrets=SECRETS,
            ros_version="7.17",
            trigger="manual",
        )
        return version.id, created


def test_record_backups_refuses_a_device_twice(
    db: Database, tenant: Tenant, device: Device
) -> None:
    with db.transaction() as s, pytest.raises(InvalidInput):
        record_backups(
            s,
            tenant.id,
            [
                BackupInput(device.id, CONFIG_1, {}, None),
                BackupInput(device.id, CONFIG_2, {}, None),
            ],
            trigger="manual",
        )
