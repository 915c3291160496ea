"""Key rotation: a new master key for every tenant key, or a new data key for a tenant.

Master-key rotation re-wraps the tenants' data keys (values stay as they are);
data-key rotation re-encrypts every encrypted value of one tenant with a new data key
and then drops the old one. Both run in one transaction: they finish or change nothing.

The new master key file is written *before* the database commits, as
``<key file>.next``; if the process dies between the commit and the rename, the next
``rotate`` or ``status`` finds the database wrapped by ``.next`` and finishes the rename.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from tikguard.store import scope
from tikguard.store.db import Database
from tikguard.store.devices import PASSWORD_PURPOSE
from tikguard.store.errors import VaultError
from tikguard.store.models import (
    ConfigVersion,
    Device,
    InventorySource,
    NotifyChannel,
    Tenant,
    TenantKey,
)
from tikguard.store.notify import CHANNEL_PURPOSE
from tikguard.store.sources import SOURCE_PURPOSE
from tikguard.store.vault import MasterKey, Vault, read_key_file, write_key_file
from tikguard.store.versions import BINARY_PURPOSE, SECRETS_PURPOSE

#: Every encrypted column: (model, attribute, vault purpose). The record ref is the id.
#: A new encrypted column must be listed here, or data-key rotation would orphan it.
ENCRYPTED_COLUMNS: tuple[
    tuple[
        type[Device] | type[ConfigVersion] | type[InventorySource] | type[NotifyChannel],
        str,
        str,
    ],
    ...,
] = (
    (Device, "password_enc", PASSWORD_PURPOSE),
    (NotifyChannel, "secrets_enc", CHANNEL_PURPOSE),
    (ConfigVersion, "secrets_enc", SECRETS_PURPOSE),
    (ConfigVersion, "binary_backup_enc", BINARY_PURPOSE),
    (InventorySource, "secrets_enc", SOURCE_PURPOSE),
)
_BATCH = 200


@dataclass(frozen=True)
class MasterRotation:
    old_key_id: str
    new_key_id: str
    tenant_keys: int
    #: Where the new key now lives (file), or None if the caller keeps it (environment).
    key_file: Path | None


@dataclass(frozen=True)
class DataKeyRotation:
    tenant: str
    old_version: int
    new_version: int
    values: int


def next_key_path(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".next")


def finish_interrupted_rotation(db: Database) -> bool:
    """If a rotation committed but did not rename ``.next`` over the key file, do it now.

    Returns True when it finished one. Only for a master key kept in a file.
    """
    settings = db.settings
    if settings.master_key:
        return False
    key_file = settings.master_key_path()
    pending = next_key_path(key_file)
    if not pending.exists():
        return False
    new_key = read_key_file(pending)
    with scope.scoped(None), db.session() as session:
        ids = set(session.scalars(select(TenantKey.master_key_id)))
    if ids and ids == {new_key.key_id}:
        os.replace(pending, key_file)
        db.set_vault(Vault(new_key))
        return True
    if key_file.exists() and ids <= {read_key_file(key_file).key_id}:
        pending.unlink()  # the rotation never committed: the old key is still the key
        return False
    raise VaultError(
        f"{pending} exists but neither it nor {key_file} opens every tenant key; "
        "restore the key file that was in use and run `tikguard keys status`"
    )


def rotate_master_key(
    db: Database, *, new_key: MasterKey | None = None, new_key_file: Path | None = None
) -> MasterRotation:
    """Re-wrap every tenant's data keys with a new master key, losing nothing.

    With a key file (the default), the new key replaces it. With the key in the
    environment, ``new_key_file`` receives the new key and the operator must switch
    ``TIKGUARD_MASTER_KEY`` to it before the next start.
    """
    settings = db.settings
    finish_interrupted_rotation(db)
    old = db.vault
    new_key = new_key or MasterKey.generate()
    if settings.master_key:
        if new_key_file is None:
            raise VaultError(
                "the master key comes from TIKGUARD_MASTER_KEY: give a file for the new key "
                "(it is written with mode 0600), then set TIKGUARD_MASTER_KEY to its content"
            )
        target, staged = new_key_file, new_key_file
    else:
        target = settings.master_key_path()
        staged = next_key_path(target)
    try:
        write_key_file(staged, MasterKey(new_key.key, f"file {target}"))
    except FileExistsError:
        raise VaultError(f"{staged} already exists; refusing to overwrite a key file") from None
    try:
        # Unscoped: under a tenant scope, row-level security would hide the other
        # tenants' keys, and they would stay wrapped by a key that is about to go.
        with scope.scoped(None), db.transaction() as session:
            new_vault, count = old.rewrap_all(session, MasterKey(new_key.key, f"file {target}"))
    except BaseException:
        staged.unlink(missing_ok=True)  # nothing was re-wrapped: the old key stays the key
        raise
    if not settings.master_key:
        os.replace(staged, target)
    db.set_vault(new_vault)
    return MasterRotation(old.master.key_id, new_key.key_id, count, target)


def rotate_data_key(db: Database, tenant_id: int) -> DataKeyRotation:
    """Give a tenant a new data key, re-encrypt all its values with it, drop the old keys."""
    vault = db.vault
    with db.transaction() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
        if tenant is None:
            raise VaultError(f"tenant {tenant_id} does not exist")
        old_version = tenant.data_key_version
        new_version = 1 + max(
            session.scalars(select(TenantKey.version).where(TenantKey.tenant_id == tenant_id)),
            default=0,
        )
        vault.add_data_key(session, tenant_id, new_version)
        session.flush()
        count = _reencrypt(session, vault, tenant_id, new_version)
        tenant.data_key_version = new_version
        for row in session.scalars(
            select(TenantKey).where(
                TenantKey.tenant_id == tenant_id, TenantKey.version != new_version
            )
        ):
            session.delete(row)
        name = tenant.name
    vault.forget()
    return DataKeyRotation(name, old_version, new_version, count)


def _reencrypt(session: Session, vault: Vault, tenant_id: int, version: int) -> int:
    count = 0
    for model, attr, purpose in ENCRYPTED_COLUMNS:
        column = getattr(model, attr)
        ids = list(
            session.scalars(
                select(model.id).where(model.tenant_id == tenant_id, column.is_not(None))
            )
        )
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            for row_id, blob in session.execute(
                select(model.id, column).where(model.id.in_(chunk))
            ).all():
                plain = vault.decrypt(session, tenant_id, purpose, row_id, blob)
                fresh = vault.encrypt_with(session, tenant_id, version, purpose, row_id, plain)
                session.execute(
                    update(model)
                    .where(model.id == row_id)
                    .values({attr: fresh})
                    .execution_options(synchronize_session=False)
                )
                count += 1
    return count


def check_all(db: Database, progress: Callable[[int], None] | None = None) -> int:
    """Decrypt every encrypted value of every tenant; return how many (VaultError if one fails)."""
    vault = db.vault
    count = 0
    with scope.scoped(None), db.session() as session:
        vault.check(session)
        for model, attr, purpose in ENCRYPTED_COLUMNS:
            column = getattr(model, attr)
            rows = session.execute(
                select(model.tenant_id, model.id, column).where(column.is_not(None))
            ).yield_per(_BATCH)
            for tenant_id, row_id, blob in rows:
                vault.decrypt(session, tenant_id, purpose, row_id, blob)
                count += 1
                if progress is not None:
                    progress(count)
    return count
