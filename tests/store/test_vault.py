"""Secrets at rest: AES-256-GCM envelope, bound blobs, clear errors, rotation."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from tikguard.settings import Settings
from tikguard.store.db import Database
from tikguard.store.devices import add_device, get_password
from tikguard.store.errors import StateError, VaultError
from tikguard.store.models import Base, Rollout, RolloutTarget, Tenant
from tikguard.store.operations import create_operation, finish_operation, resolve_uncertain
from tikguard.store.rollouts import (
    ROLLOUT_SCRIPT_PURPOSE,
    ROLLOUT_SOURCE_PURPOSE,
    rollout_script_ref,
)
from tikguard.store.rotation import (
    ENCRYPTED_COLUMNS,
    check_all,
    finish_interrupted_rotation,
    next_key_path,
    rotate_data_key,
    rotate_master_key,
)
from tikguard.store.vault import MasterKey, Vault, load_master_key, read_key_file
from tikguard.store.versions import get_binary_backup, get_secrets, get_version, record_backup

PASSWORD = "Rtr-Pass-9f8e7d"
SECRETS = {"/ppp secret vpn1 password": "ppp-Secret-1", "/user admin password": "adm-Secret-2"}


def _fill(db: Database, tenant: Tenant) -> tuple[int, int]:
    with db.transaction() as s:
        d = add_device(s, tenant.id, name="r1", host="h", username="u", password=PASSWORD)
        v, _ = record_backup(
            s,
            tenant.id,
            d.id,
            normalised_redacted_text="/x\nset a=***\n",
            secrets=SECRETS,
            ros_version="7.16",
            trigger="manual",
            binary_backup=b"\x00binary-backup\xff",
        )
        return d.id, v.id


def _assert_readable(db: Database, tenant: Tenant, device_id: int, version_id: int) -> None:
    with db.session() as s:
        assert get_password(s, tenant.id, device_id) == PASSWORD
        v = get_version(s, tenant.id, version_id)
        assert get_secrets(s, tenant.id, v) == SECRETS
        assert get_binary_backup(s, tenant.id, v) == b"\x00binary-backup\xff"


def test_key_file_is_created_private_and_world_readable_is_refused(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    key = load_master_key(s)
    path = tmp_path / "master.key"
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_master_key(s).key_id == key.key_id  # read, not re-created
    path.chmod(0o644)
    with pytest.raises(VaultError, match="chmod 600"):
        load_master_key(s)


def test_configured_key_file_is_never_created(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, master_key_file=str(tmp_path / "typo.key"))
    with pytest.raises(VaultError, match="does not exist"):
        load_master_key(s)
    assert not (tmp_path / "typo.key").exists()


def test_bad_key_values_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match="not valid base64"):
        load_master_key(Settings(data_dir=tmp_path, master_key="not base64!!"))
    short = base64.b64encode(b"x" * 16).decode()
    with pytest.raises(VaultError, match="not 32 bytes"):
        load_master_key(Settings(data_dir=tmp_path, master_key=short))


def test_nothing_secret_in_repr_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    key = MasterKey.generate()
    encoded = key.encoded()
    s = Settings(data_dir=tmp_path, master_key=encoded)
    caplog.set_level(logging.DEBUG)
    vault = Vault.from_settings(s)
    for shown in (repr(key), repr(vault), repr(s), str(s)):
        assert encoded not in shown and key.key_id in repr(key)
    assert encoded not in caplog.text


def test_secrets_survive_and_are_bound(db: Database, tenant: Tenant, other_tenant: Tenant) -> None:
    device_id, version_id = _fill(db, tenant)
    _assert_readable(db, tenant, device_id, version_id)
    vault = db.vault
    with db.session() as s:
        blob = vault.encrypt(s, tenant.id, "device-password", device_id, b"x")
        assert vault.decrypt(s, tenant.id, "device-password", device_id, blob) == b"x"
        for tenant_id, purpose, ref in [
            (other_tenant.id, "device-password", device_id),  # another tenant
            (tenant.id, "config-secrets", device_id),  # another purpose
            (tenant.id, "device-password", device_id + 1),  # another record
        ]:
            with pytest.raises(VaultError, match="altered or belongs to another record"):
                vault.decrypt(s, tenant_id, purpose, ref, blob)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0, max_value=200), flip=st.integers(1, 255))
@example(position=0, flip=1)  # format byte
@example(position=1, flip=128)  # key version: a huge number must not reach the database
@example(position=4, flip=1)
def test_any_tampered_byte_is_an_error_never_garbage(
    db: Database, tenant: Tenant, position: int, flip: int
) -> None:
    with db.session() as s:
        blob = bytearray(db.vault.encrypt(s, tenant.id, "p", 1, b"secret value " * 8))
        blob[position % len(blob)] ^= flip
        with pytest.raises(VaultError) as err:
            db.vault.decrypt(s, tenant.id, "p", 1, bytes(blob))
        assert "secret value" not in str(err.value)


def test_tampered_database_blob_is_a_clear_error(db: Database, tenant: Tenant) -> None:
    _device_id, version_id = _fill(db, tenant)
    with db.engine.begin() as conn:
        raw = bytearray(
            conn.execute(
                text("SELECT secrets_enc FROM config_versions WHERE id = :i"), {"i": version_id}
            ).scalar_one()
        )
        raw[-1] ^= 1
        conn.execute(
            text("UPDATE config_versions SET secrets_enc = :b WHERE id = :i"),
            {"b": bytes(raw), "i": version_id},
        )
    with db.session() as s, pytest.raises(VaultError) as err:
        get_secrets(s, tenant.id, get_version(s, tenant.id, version_id))
    assert "altered" in str(err.value)
    assert not any(v in str(err.value) for v in SECRETS.values())


def test_wrong_master_key_is_named_not_guessed(db: Database, tenant: Tenant) -> None:
    device_id, _ = _fill(db, tenant)
    right = db.vault.master.key_id
    db.set_vault(Vault(MasterKey.generate("a test key")))
    with db.session() as s, pytest.raises(VaultError) as err:
        get_password(s, tenant.id, device_id)
    assert right in str(err.value) and "a test key" in str(err.value)
    assert PASSWORD not in str(err.value)


def test_master_key_rotation_keeps_everything(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    device_id, version_id = _fill(db, tenant)
    old_file = db.settings.master_key_path().read_text()
    result = rotate_master_key(db)
    assert result.tenant_keys == 2 and result.old_key_id != result.new_key_id
    assert db.settings.master_key_path().read_text() != old_file
    assert db.settings.master_key_path().stat().st_mode & 0o777 == 0o600
    assert not next_key_path(db.settings.master_key_path()).exists()
    db.set_vault(Vault.from_settings(db.settings))  # a fresh process reads the new file
    _assert_readable(db, tenant, device_id, version_id)
    assert check_all(db) == 3
    db.set_vault(Vault(MasterKey.from_base64(old_file, "old key")))
    with pytest.raises(VaultError, match="old key"):
        check_all(db)


def test_interrupted_master_rotation_is_finished(db: Database, tenant: Tenant) -> None:
    device_id, version_id = _fill(db, tenant)
    key_file = db.settings.master_key_path()
    new = MasterKey.generate()
    with db.transaction() as s:  # committed, but the process "died" before the rename
        db.vault.rewrap_all(s, new)
    pending = next_key_path(key_file)
    fd = os.open(pending, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, new.encoded().encode())
    os.close(fd)
    assert finish_interrupted_rotation(db)
    assert read_key_file(key_file).key_id == new.key_id and not pending.exists()
    db.set_vault(Vault.from_settings(db.settings))
    _assert_readable(db, tenant, device_id, version_id)


def test_master_key_from_environment_rotates_into_a_new_file(
    tmp_path: Path, tenant: Tenant, db: Database
) -> None:
    old = db.vault.master
    env_db = Database(db.settings.with_(master_key=old.encoded()), engine=db.engine)
    device_id, version_id = _fill(env_db, tenant)
    with pytest.raises(VaultError, match="TIKGUARD_MASTER_KEY"):
        rotate_master_key(env_db)
    new_file = tmp_path / "new.key"
    result = rotate_master_key(env_db, new_key_file=new_file)
    new_db = Database(db.settings.with_(master_key=new_file.read_text().strip()), engine=db.engine)
    _assert_readable(new_db, tenant, device_id, version_id)
    assert result.key_file == new_file


def test_data_key_rotation_reencrypts_and_drops_the_old_key(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    device_id, version_id = _fill(db, tenant)
    with db.session() as s:
        before = s.execute(
            text("SELECT password_enc FROM devices WHERE id = :i"), {"i": device_id}
        ).scalar_one()
    result = rotate_data_key(db, tenant.id)
    assert (result.old_version, result.new_version, result.values) == (1, 2, 3)
    _assert_readable(db, tenant, device_id, version_id)
    db.set_vault(Vault.from_settings(db.settings))  # no cached keys
    _assert_readable(db, tenant, device_id, version_id)
    with db.session() as s:
        after = s.execute(
            text("SELECT password_enc FROM devices WHERE id = :i"), {"i": device_id}
        ).scalar_one()
        versions = (
            s.execute(
                text("SELECT version FROM tenant_keys WHERE tenant_id = :t"), {"t": tenant.id}
            )
            .scalars()
            .all()
        )
    assert before != after and Vault.key_version_of(bytes(after)) == 2
    assert list(versions) == [2]
    assert rotate_data_key(db, other_tenant.id).values == 0


@pytest.mark.parametrize("write", ["backup", "password"])
def test_data_key_rotation_waits_for_a_write_in_flight(
    db: Database, tenant: Tenant, write: str
) -> None:
    """A rotation must not drop the key a concurrent, uncommitted write encrypted with."""
    import threading

    from tikguard.store.devices import set_password

    with db.transaction() as s:
        device = add_device(s, tenant.id, name="c1", host="h", username="u")
    errors: list[BaseException] = []

    def rotate() -> None:
        try:
            rotate_data_key(db, tenant.id)
        except BaseException as exc:
            errors.append(exc)

    rotation = threading.Thread(target=rotate)
    with db.transaction() as s:
        if write == "backup":
            record_backup(
                s,
                tenant.id,
                device.id,
                normalised_redacted_text="/x\n",
                secrets={"k": "in-flight"},
                ros_version="7",
                trigger="manual",
            )
        else:
            set_password(s, tenant.id, device.id, "in-flight")
        rotation.start()
        rotation.join(1.0)
        assert rotation.is_alive(), errors  # it waits for this transaction
    rotation.join()
    assert errors == []
    db.set_vault(Vault.from_settings(db.settings))  # nothing cached
    assert check_all(db) == 1


def test_master_rotation_under_a_tenant_scope_still_covers_every_tenant(
    db: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    from tikguard.store import scope

    device_id, version_id = _fill(db, tenant)
    with scope.scoped(other_tenant.id):  # e.g. started from an API request
        result = rotate_master_key(db)
    assert result.tenant_keys == 2
    db.set_vault(Vault.from_settings(db.settings))
    _assert_readable(db, tenant, device_id, version_id)
    assert check_all(db) == 3


def test_every_encrypted_column_is_rotated() -> None:
    """A new ``*_enc`` column not listed for rotation would be orphaned by it."""
    listed = {(c.model.__tablename__, c.attr) for c in ENCRYPTED_COLUMNS}
    found = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_enc")
    }
    assert found == listed


def test_data_key_rotation_covers_rollouts(db: Database, tenant: Tenant) -> None:
    device_id, version_id = _fill(db, tenant)
    source, change = "{{ vars.x }} secret=Tpl-Secret-1\n", "/ip dns set servers=192.0.2.1\n"
    with db.transaction() as s:
        ref = rollout_script_ref("ro-1", device_id)
        s.add(
            Rollout(
                id="ro-1",
                tenant_id=tenant.id,
                source_enc=s.info["database"].vault.encrypt(
                    s, tenant.id, ROLLOUT_SOURCE_PURPOSE, "ro-1", source.encode()
                ),
            )
        )
        s.flush()
        vault = s.info["database"].vault
        for n, dev in enumerate((device_id, None)):  # the second router was removed
            s.add(
                RolloutTarget(
                    tenant_id=tenant.id,
                    rollout_id="ro-1",
                    device_id=dev,
                    device_name=f"r{n}",
                    position=n,
                    script_enc=vault.encrypt(
                        s, tenant.id, ROLLOUT_SCRIPT_PURPOSE, ref, change.encode()
                    ),
                )
            )
    assert rotate_data_key(db, tenant.id).values == 5
    db.set_vault(Vault.from_settings(db.settings))  # no cached keys
    _assert_readable(db, tenant, device_id, version_id)
    with db.session() as s:
        rollout = s.get(Rollout, "ro-1")
        assert rollout is not None
        assert (
            db.vault.decrypt(s, tenant.id, ROLLOUT_SOURCE_PURPOSE, "ro-1", rollout.source_enc)
            == source.encode()
        )
        target = s.scalar(select(RolloutTarget).where(RolloutTarget.device_id == device_id))
        assert target is not None and target.script_enc is not None
        assert (
            db.vault.decrypt(s, tenant.id, ROLLOUT_SCRIPT_PURPOSE, ref, target.script_enc)
            == change.encode()
        )
    assert check_all(db) == 5


def test_data_key_rotation_waits_for_pushes_that_still_need_their_scripts(
    db: Database, tenant: Tenant
) -> None:
    device_id, version_id = _fill(db, tenant)
    with db.transaction() as s:
        op, _ = create_operation(s, tenant.id, kind="push", device_id=device_id)
        create_operation(s, tenant.id, kind="backup", device_id=device_id)
    for outcome in (None, "uncertain"):
        if outcome is not None:
            with db.transaction() as s:
                finish_operation(s, tenant.id, op.id, outcome)
        with pytest.raises(StateError, match=op.id[:12]) as err:
            rotate_data_key(db, tenant.id)
        assert "ops recheck" in (err.value.hint or "")
        with db.session() as s:  # nothing changed
            assert s.get(Tenant, tenant.id).data_key_version == 1  # type: ignore[union-attr]
    with db.transaction() as s:
        resolve_uncertain(s, tenant.id, op.id, "committed", reason="checked", evidence={})
    # a backup without an outcome holds no script: it does not stop the rotation
    assert rotate_data_key(db, tenant.id).new_version == 2
    _assert_readable(db, tenant, device_id, version_id)
