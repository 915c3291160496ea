"""The device inventory: validation, encrypted passwords, host-key pinning, isolation."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tikguard.store.db import Database
from tikguard.store.devices import (
    HostKeyCheck,
    accept_host_key,
    add_device,
    check_host_key,
    get_device,
    get_device_by_name,
    get_password,
    list_access,
    list_devices,
    record_backup_result,
    record_probe,
    remove_device,
    set_password,
    update_device,
)
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound
from tikguard.store.models import Tenant

PASSWORD = "Sup3r-Secret!pw"


def test_add_get_list_filter(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        add_device(
            s,
            tenant.id,
            name="core1",
            host="10.0.0.1",
            username="admin",
            password=PASSWORD,
            tags=["core", "pop-a"],
            site="pop-a",
        )
        add_device(
            s,
            tenant.id,
            name="edge1",
            host="10.0.0.2",
            username="admin",
            tags=["edge"],
            site="pop-a",
            port=2222,
        )
        add_device(s, tenant.id, name="edge2", host="10.0.0.3", username="admin", tags=["edge"])
    with db.session() as s:
        assert [d.name for d in list_devices(s, tenant.id)] == ["core1", "edge1", "edge2"]
        assert [d.name for d in list_devices(s, tenant.id, tag="edge")] == ["edge1", "edge2"]
        assert [d.name for d in list_devices(s, tenant.id, site="pop-a")] == ["core1", "edge1"]
        assert [d.name for d in list_devices(s, tenant.id, names=["edge2"])] == ["edge2"]
        core = get_device_by_name(s, tenant.id, "core1")
        assert core.tags == ["core", "pop-a"]
        assert get_password(s, tenant.id, core.id) == PASSWORD
        assert get_password(s, tenant.id, get_device_by_name(s, tenant.id, "edge1").id) is None
        assert PASSWORD not in repr(core)


def test_password_is_encrypted_at_rest(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        d = add_device(s, tenant.id, name="r1", host="h", username="u", password=PASSWORD)
    with db.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT password_enc FROM devices WHERE id = :i"), {"i": d.id}
        ).scalar_one()
    assert PASSWORD.encode() not in bytes(raw)


def test_duplicate_and_bad_input(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    with db.transaction() as s:
        add_device(s, tenant.id, name="r1", host="h", username="u")
        with pytest.raises(AlreadyExists):
            add_device(s, tenant.id, name="r1", host="h2", username="u")
        add_device(s, other_tenant.id, name="r1", host="h", username="u")  # fine elsewhere
        for bad in ["", "a/b", "../x", ".hidden", "x\ny", " pad", "r\udce9"]:
            with pytest.raises(InvalidInput):
                add_device(s, tenant.id, name=bad, host="h", username="u")
        with pytest.raises(InvalidInput, match="port"):
            add_device(s, tenant.id, name="p", host="h", username="u", port=70000)


def test_update_rename_and_tags(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        d = add_device(s, tenant.id, name="r1", host="h", username="u", tags=["a"])
        add_device(s, tenant.id, name="r2", host="h", username="u")
        update_device(s, tenant.id, d.id, name="r1-new", port=8022, tags=["b", "c"])
        with pytest.raises(AlreadyExists):
            update_device(s, tenant.id, d.id, name="r2")
        with pytest.raises(InvalidInput):
            update_device(s, tenant.id, d.id, password_enc=b"x")
    with db.session() as s:
        got = get_device(s, tenant.id, d.id)
        assert (got.name, got.port, got.tags) == ("r1-new", 8022, ["b", "c"])


def test_host_key_trust_on_first_use(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        d = add_device(s, tenant.id, name="r1", host="h", username="u")
        assert check_host_key(s, tenant.id, d.id, "ssh-ed25519 AAAA1") is HostKeyCheck.PINNED_NOW
        assert check_host_key(s, tenant.id, d.id, "ssh-ed25519 AAAA1") is HostKeyCheck.MATCH
        assert check_host_key(s, tenant.id, d.id, "ssh-ed25519 BBBB2") is HostKeyCheck.MISMATCH
        got = get_device(s, tenant.id, d.id)
        assert (got.host_key, got.host_key_pending) == ("ssh-ed25519 AAAA1", "ssh-ed25519 BBBB2")
        accept_host_key(s, tenant.id, d.id)
        assert check_host_key(s, tenant.id, d.id, "ssh-ed25519 BBBB2") is HostKeyCheck.MATCH
        assert get_device(s, tenant.id, d.id).host_key_pending is None


def test_probe_and_backup_results(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        d = add_device(s, tenant.id, name="r1", host="h", username="u")
        record_probe(
            s,
            tenant.id,
            d.id,
            ros_version="7.16.2",
            model="RB5009",
            board="RB5009UG+S+",
            architecture="arm64",
            details={"free_hdd": 1000},
        )
        record_backup_result(s, tenant.id, d.id, status="failed", error="timeout after 120 s")
    with db.session() as s:
        got = get_device(s, tenant.id, d.id)
        assert (got.ros_version, got.architecture, got.last_probe) == (
            "7.16.2",
            "arm64",
            {"free_hdd": 1000},
        )
        assert (got.last_backup_status, got.last_backup_error) == ("failed", "timeout after 120 s")


def test_every_device_helper_is_tenant_isolated(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    with db.transaction() as s:
        d = add_device(
            s, tenant.id, name="r1", host="h", username="u", password=PASSWORD, tags=["t"]
        )
    other = other_tenant.id
    with db.transaction() as s:
        with pytest.raises(NotFound):
            get_device(s, other, d.id)
        with pytest.raises(NotFound):
            get_device_by_name(s, other, "r1")
        assert list_devices(s, other) == [] and list_devices(s, other, tag="t") == []
        for call in (
            lambda: get_password(s, other, d.id),
            lambda: set_password(s, other, d.id, "x"),
            lambda: update_device(s, other, d.id, host="evil"),
            lambda: check_host_key(s, other, d.id, "ssh-ed25519 X"),
            lambda: accept_host_key(s, other, d.id, "ssh-ed25519 X"),
            lambda: record_probe(s, other, d.id, ros_version="1"),
            lambda: record_backup_result(s, other, d.id, status="ok"),
            lambda: remove_device(s, other, d.id),
        ):
            with pytest.raises(NotFound):
                call()
    with db.session() as s:
        got = get_device(s, tenant.id, d.id)
        assert got.host == "h" and got.host_key is None
        assert get_password(s, tenant.id, d.id) == PASSWORD


def test_password_blob_cannot_be_moved_to_another_device(db: Database, tenant: Tenant) -> None:
    from tikguard.store.errors import VaultError

    with db.transaction() as s:
        a = add_device(s, tenant.id, name="a", host="h", username="u", password=PASSWORD)
        b = add_device(s, tenant.id, name="b", host="h", username="u")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE devices SET password_enc ="
                " (SELECT password_enc FROM devices WHERE id = :a) WHERE id = :b"
            ),
            {"a": a.id, "b": b.id},
        )
    with db.session() as s, pytest.raises(VaultError) as err:
        get_password(s, tenant.id, b.id)
    assert PASSWORD not in str(err.value)


def test_remove_device_removes_its_versions(db: Database, tenant: Tenant) -> None:
    from tikguard.store.versions import list_versions, record_backup

    with db.transaction() as s:
        d = add_device(s, tenant.id, name="r1", host="h", username="u")
        record_backup(
            s,
            tenant.id,
            d.id,
            normalised_redacted_text="x\n",
            secrets={"k": "v"},
            ros_version="7.16",
            trigger="manual",
        )
    with db.transaction() as s:
        remove_device(s, tenant.id, d.id)
    with db.session() as s:
        assert list_versions(s, tenant.id, d.id) == []
        with pytest.raises(NotFound):
            get_device(s, tenant.id, d.id)


def test_list_access_is_list_devices_with_passwords(db: Database, tenant: Tenant) -> None:
    with db.transaction() as s:
        a = add_device(
            s, tenant.id, name="a", host="10.0.0.1", username="u", password="pä$$", tags=["x"]
        )
        b = add_device(s, tenant.id, name="b", host="10.0.0.2", username="u", port=2222)
        add_device(s, tenant.id, name="c", host="10.0.0.3", username="u", tags=["x"])
    with db.session() as s:
        assert [d.name for d in list_access(s, tenant.id)] == ["a", "b", "c"]
        assert [d.name for d in list_access(s, tenant.id, tag="x")] == ["a", "c"]
        assert [d.name for d in list_access(s, tenant.id, names=["b", "zz"])] == ["b"]
        (only,) = list_access(s, tenant.id, ids=[a.id])
        assert (only.id, only.host, only.username, only.password) == (a.id, "10.0.0.1", "u", "pä$$")
        assert "pä$$" not in repr(only)
        (other,) = list_access(s, tenant.id, ids=[b.id])
        assert (other.port, other.password, other.host_key) == (2222, None, None)
