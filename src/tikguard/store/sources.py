"""Inventory sources of a tenant: their settings, and their secrets kept encrypted.

A source's secrets (HTTP header values such as an API token, the default password of
the routers it adds) go through the vault, bound to the source row: they are never in
``config``, never returned by a listing, never in an audit row or an error.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard.store._util import check_text, decrypt_secrets, encrypt_secrets
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound
from tikguard.store.models import InventorySource, utcnow

SOURCE_PURPOSE = "inventory-source"
KINDS = ("rancid", "oxidized-csv", "http")


def check_source_name(name: str) -> str:
    check_text(name, "source name", max_len=48)
    if not all(c.isalnum() or c in "-_." for c in name) or name.startswith("."):
        raise InvalidInput(
            f"source name {name!r}: letters, digits, '-', '_' and '.' only (it becomes "
            "the tag source:<name> on the routers it adds)"
        )
    return name


def add_source(
    session: Session,
    tenant_id: int,
    *,
    name: str,
    kind: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
) -> InventorySource:
    check_source_name(name)
    if kind not in KINDS:
        raise InvalidInput(f"source kind {kind!r}: one of {', '.join(KINDS)}")
    if find_source(session, tenant_id, name) is not None:
        raise AlreadyExists(
            f"inventory source {name!r} already exists",
            hint="remove it first (tikguard inventory source remove NAME)",
        )
    source = InventorySource(tenant_id=tenant_id, name=name, kind=kind, config=config)
    session.add(source)
    session.flush()
    set_secrets(session, source, secrets)
    return source


def set_secrets(session: Session, source: InventorySource, secrets: dict[str, Any]) -> None:
    if not secrets:
        source.secrets_enc = None
    else:
        source.secrets_enc = encrypt_secrets(
            session, source.tenant_id, SOURCE_PURPOSE, source.id, secrets
        )
    session.flush()


def get_secrets(session: Session, source: InventorySource) -> dict[str, Any]:
    """The source's secrets, decrypted (for the sync only; never log or return them)."""
    blob = session.scalar(
        select(InventorySource.secrets_enc).where(InventorySource.id == source.id)
    )
    return decrypt_secrets(session, source.tenant_id, SOURCE_PURPOSE, source.id, blob)


def find_source(session: Session, tenant_id: int, name: str) -> InventorySource | None:
    return session.scalar(
        select(InventorySource).where(
            InventorySource.tenant_id == tenant_id, InventorySource.name == name
        )
    )


def get_source(session: Session, tenant_id: int, name: str) -> InventorySource:
    source = find_source(session, tenant_id, name)
    if source is None:
        raise NotFound(
            f"inventory source {name!r} does not exist",
            hint="see `tikguard inventory source list`",
        )
    return source


def list_sources(session: Session, tenant_id: int) -> list[InventorySource]:
    return list(
        session.scalars(
            select(InventorySource)
            .where(InventorySource.tenant_id == tenant_id)
            .order_by(InventorySource.name)
        )
    )


def remove_source(session: Session, tenant_id: int, name: str) -> None:
    session.delete(get_source(session, tenant_id, name))
    session.flush()


def record_sync(session: Session, source: InventorySource, result: dict[str, Any]) -> None:
    source.last_sync_at = utcnow()
    source.last_sync = result
    session.flush()
