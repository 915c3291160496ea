"""Encryption keys: their status, and rotation of the master key and of data keys.

The one service every caller uses (``tikguard keys``; ``POST /api/v1/keys/rotate`` for a
tenant's own data key): each rotation is audited with the caller's actor, in every
tenant it touches. Rotation itself (``store/rotation.py``) never loses a secret: it
runs in one transaction, and a new master key file replaces the old one only after
that transaction committed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from tikguard.store import rotation
from tikguard.store.audit import audit
from tikguard.store.db import Database
from tikguard.store.errors import VaultError
from tikguard.store.models import Tenant, TenantKey
from tikguard.store.tenants import get_tenant_by_name

__all__ = [
    "DataKeyRotation",
    "KeyStatus",
    "MasterRotation",
    "check_all",
    "finish_interrupted",
    "key_status",
    "rotate_data_keys",
    "rotate_master_key",
]

DataKeyRotation = rotation.DataKeyRotation
MasterRotation = rotation.MasterRotation


@dataclass(frozen=True)
class KeyStatus:
    """One tenant data key: its version, whether it is current, what wraps it, whether
    it opens with the loaded master key."""

    tenant: str
    version: int
    current: bool
    master_key_id: str
    opens: bool


def finish_interrupted(db: Database) -> bool:
    """Finish a master-key rotation an earlier process left half done (True if it did)."""
    return rotation.finish_interrupted_rotation(db)


def key_status(db: Database) -> list[KeyStatus]:
    """Every tenant's data keys, each tried against the loaded master key."""
    out: list[KeyStatus] = []
    with db.session() as session:
        rows = session.execute(
            select(Tenant.name, Tenant.data_key_version, TenantKey)
            .join(TenantKey, TenantKey.tenant_id == Tenant.id)
            .order_by(Tenant.name, TenantKey.version)
        ).all()
        for name, current, key in rows:
            try:
                db.vault.verify_key(key)
                opens = True
            except VaultError:
                opens = False
            out.append(
                KeyStatus(name, key.version, key.version == current, key.master_key_id, opens)
            )
    return out


def check_all(db: Database) -> int:
    """Decrypt every stored secret (how many opened); VaultError names the first that
    does not."""
    return rotation.check_all(db)


def rotate_master_key(
    db: Database, *, actor: str, new_key_file: Path | None = None
) -> MasterRotation:
    """A new master key re-wraps every data key; audited in every tenant."""
    result = rotation.rotate_master_key(db, new_key_file=new_key_file)
    with db.transaction() as session:
        for tenant_id in session.scalars(select(Tenant.id).order_by(Tenant.id)):
            audit(
                session,
                tenant_id,
                actor=actor,
                action="keys.rotate-master",
                target=result.new_key_id,
                details={"old_key": result.old_key_id, "new_key": result.new_key_id},
            )
    return result


def rotate_data_keys(
    db: Database, *, actor: str, tenant: str | None = None, tenant_id: int | None = None
) -> list[DataKeyRotation]:
    """A new data key for one tenant (by name or id) or every tenant, re-encrypting its
    values; each audited in its tenant."""
    with db.session() as session:
        if tenant_id is not None:
            ids = [tenant_id]
        elif tenant is not None:
            ids = [get_tenant_by_name(session, tenant).id]
        else:
            ids = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    done: list[DataKeyRotation] = []
    for one in ids:
        result = rotation.rotate_data_key(db, one)
        with db.transaction() as session:
            audit(
                session,
                one,
                actor=actor,
                action="keys.rotate-data",
                target=result.tenant,
                details={
                    "old_version": result.old_version,
                    "new_version": result.new_version,
                    "values": result.values,
                },
            )
        done.append(result)
    return done
