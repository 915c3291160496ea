"""Tenants: create them (with their first data key) and look them up."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from tikguard.store._util import vault_of
from tikguard.store.errors import AlreadyExists, InvalidInput, NotFound
from tikguard.store.models import Tenant

DEFAULT_TENANT = "default"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def check_tenant_name(name: str) -> str:
    """Tenant names name git mirror directories: lowercase letters, digits, - and _."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput(
            f"tenant name {name!r} is not allowed: use 1-63 lowercase letters, digits, - or _,"
            " starting with a letter or digit"
        )
    return name


def create_tenant(session: Session, name: str, display_name: str = "") -> Tenant:
    """A new tenant with its first data key (version 1)."""
    check_tenant_name(name)
    if session.scalar(select(Tenant.id).where(Tenant.name == name)) is not None:
        raise AlreadyExists(
            f"tenant {name!r} already exists",
            hint="pick another name (`tikguard tenant list` shows the tenants there are)",
        )
    tenant = Tenant(name=name, display_name=display_name or name, data_key_version=1)
    session.add(tenant)
    session.flush()
    vault_of(session).add_data_key(session, tenant.id, 1)
    session.flush()
    return tenant


def get_tenant(session: Session, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} does not exist")
    return tenant


def get_tenant_by_name(session: Session, name: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    if tenant is None:
        raise NotFound(f"tenant {name!r} does not exist")
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def ensure_tenant(session: Session, name: str = DEFAULT_TENANT) -> Tenant:
    """The tenant called ``name``, created if missing (the embedded default has one)."""
    tenant = session.scalar(select(Tenant).where(Tenant.name == name))
    return tenant if tenant is not None else create_tenant(session, name)
