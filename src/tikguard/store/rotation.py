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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from tikguard.store import scope
from tikguard.store.db import Database
from tikguard.store.devices import PASSWORD_PURPOSE
from tikguard.store.errors import StateError, VaultError
from tikguard.store.models import (
    ConfigVersion,
    Device,
    InventorySource,
    NotifyChannel,
    Operation,
    OperationKind,
    Outcome,
    Rollout,
    RolloutTarget,
    Tenant,
    TenantKey,
)
from tikguard.store.notify import CHANNEL_PURPOSE
from tikguard.store.rollouts import (
    ROLLOUT_SCRIPT_PURPOSE,
    ROLLOUT_SOURCE_PURPOSE,
    rollout_script_ref,
)
from tikguard.store.sources import SOURCE_PURPOSE
from tikguard.store.vault import MasterKey, Vault, read_key_file, write_key_file
from tikguard.store.versions import BINARY_PURPOSE, SECRETS_PURPOSE


@dataclass(frozen=True)
class EncryptedColumn:
    """One encrypted column, and the record ref bound into its ciphertext: the row id,
    or ``ref`` over ``ref_columns``."""

    model: Any
    attr: str
    purpose: str
    ref_columns: tuple[str, ...] = ("id",)
    ref: Callable[..., object] | None = None

    def make_ref(self, *parts: Any) -> object:
        return self.ref(*parts) if self.ref is not None else parts[0]


#: Every encrypted column. A new one must be listed here, or data-key rotation would
#: orphan it (a test checks that every ``*_enc`` column of the models is here).
ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(Device, "password_enc", PASSWORD_PURPOSE),
    EncryptedColumn(NotifyChannel, "secrets_enc", CHANNEL_PURPOSE),
    EncryptedColumn(ConfigVersion, "secrets_enc", SECRETS_PURPOSE),
    EncryptedColumn(ConfigVersion, "binary_backup_enc", BINARY_PURPOSE),
    EncryptedColumn(InventorySource, "secrets_enc", SOURCE_PURPOSE),
    EncryptedColumn(Rollout, "source_enc", ROLLOUT_SOURCE_PURPOSE),
    # a target whose router was removed lost its ref (the device id): unreadable already
    EncryptedColumn(
        RolloutTarget,
        "script_enc",
        ROLLOUT_SCRIPT_PURPOSE,
        ("rollout_id", "device_id"),
        rollout_script_ref,
    ),
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
        _refuse_with_scripts_in_flight(session, tenant_id)
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


def _refuse_with_scripts_in_flight(session: Session, tenant_id: int) -> None:
    """A push that has not ended, or ended uncertain, still needs its script, which its
    workflow's records hold encrypted with this data key (outside these tables)."""
    held = list(
        session.scalars(
            select(Operation.id)
            .where(
                Operation.tenant_id == tenant_id,
                Operation.kind != OperationKind.BACKUP.value,
                or_(Operation.outcome.is_(None), Operation.outcome == Outcome.UNCERTAIN.value),
            )
            .order_by(Operation.created_at)
            .limit(6)
        )
    )
    if held:
        shown = ", ".join(op[:12] for op in held[:5]) + (", ..." if len(held) > 5 else "")
        raise StateError(
            f"pushes not ended or uncertain still need scripts encrypted with this data "
            f"key: {shown}",
            hint="let them end (or `tikguard ops recheck OP` the uncertain ones), then rotate",
        )


def _reencrypt(session: Session, vault: Vault, tenant_id: int, version: int) -> int:
    count = 0
    for col in ENCRYPTED_COLUMNS:
        ids = list(session.scalars(_query(col, col.model.tenant_id == tenant_id, ids_only=True)))
        for start in range(0, len(ids), _BATCH):
            chunk = ids[start : start + _BATCH]
            values = list(_values(session, col, col.model.id.in_(chunk)))
            for row_id, _tenant, ref, blob in values:
                plain = vault.decrypt(session, tenant_id, col.purpose, ref, blob)
                fresh = vault.encrypt_with(session, tenant_id, version, col.purpose, ref, plain)
                session.execute(
                    update(col.model)
                    .where(col.model.id == row_id)
                    .values({col.attr: fresh})
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
        for col in ENCRYPTED_COLUMNS:
            for _row_id, tenant_id, ref, blob in _values(session, col):
                vault.decrypt(session, tenant_id, col.purpose, ref, blob)
                count += 1
                if progress is not None:
                    progress(count)
    return count


def _query(col: EncryptedColumn, *where: Any, ids_only: bool = False) -> Any:
    column = getattr(col.model, col.attr)
    refs = [getattr(col.model, name) for name in col.ref_columns]
    wanted = (col.model.id,) if ids_only else (col.model.id, col.model.tenant_id, column, *refs)
    return select(*wanted).where(column.is_not(None), *(r.is_not(None) for r in refs), *where)


def _values(session: Session, col: EncryptedColumn, *where: Any) -> Iterator[Any]:
    """(row id, tenant id, record ref, ciphertext) of every readable value of ``col``."""
    rows = session.execute(_query(col, *where)).yield_per(_BATCH)
    for row_id, tenant_id, blob, *parts in rows:
        yield row_id, tenant_id, col.make_ref(*parts), blob
