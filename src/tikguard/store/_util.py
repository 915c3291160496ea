"""Small helpers shared by the store modules."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from tikguard.store.errors import InvalidInput, StoreError
from tikguard.store.vault import Vault


def vault_of(session: Session) -> Vault:
    """The vault of the database this session came from (see ``Database``)."""
    db = session.info.get("database")
    if db is None:
        vault = session.info.get("vault")
        if isinstance(vault, Vault):
            return vault
        raise StoreError("this session was not opened by tikguard.store.db.Database")
    vault = db.vault
    assert isinstance(vault, Vault)
    return vault


def check_text(value: str, what: str, *, max_len: int, allow_empty: bool = False) -> str:
    """Refuse control characters, undecodable bytes and over-long values (they end up in
    logs, file names and git paths)."""
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be text")
    if not value and not allow_empty:
        raise InvalidInput(f"{what} must not be empty")
    if len(value) > max_len:
        raise InvalidInput(f"{what} is longer than {max_len} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidInput(f"{what} must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} must be valid text (it has undecodable bytes)") from None
    return value


def encrypt_secrets(
    session: Session, tenant_id: int, purpose: str, ref: int, secrets: dict[str, Any]
) -> bytes:
    """A row's secrets (a small JSON object) encrypted and bound to ``purpose`` and ``ref``."""
    return vault_of(session).encrypt(session, tenant_id, purpose, ref, json.dumps(secrets).encode())


def decrypt_secrets(
    session: Session, tenant_id: int, purpose: str, ref: int, blob: bytes | None
) -> dict[str, Any]:
    """What :func:`encrypt_secrets` stored (empty when nothing was); never log it."""
    if blob is None:
        return {}
    found = json.loads(vault_of(session).decrypt(session, tenant_id, purpose, ref, blob))
    if not isinstance(found, dict):
        raise StoreError(f"{purpose} secrets of row {ref} are not an object")
    return found
