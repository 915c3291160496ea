"""The tenant a unit of work runs for, as a second wall on PostgreSQL.

Every query helper already filters on ``tenant_id``. On PostgreSQL the database also
enforces it: row-level security policies (migration 0003) admit only rows of the
tenant named in the transaction-local setting ``tikguard.tenant_id``. The API sets
the scope once it knows the caller (:func:`set_tenant`), and every transaction that
starts in that context (threads from ``asyncio.to_thread`` included: they copy the
context) begins with ``set_config('tikguard.tenant_id', ...)``. Work that spans
tenants (login, token lookup, workers, migrations, the CLI) runs unscoped, where the
policies admit every row.

The policies bind only a role that is not a superuser and has no BYPASSRLS; run
tikguard as such a role (the tables' owner is fine: the policies are FORCEd).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event

SETTING = "tikguard.tenant_id"
_tenant: ContextVar[int | None] = ContextVar("tikguard_tenant_scope", default=None)


def current_tenant() -> int | None:
    return _tenant.get()


def set_tenant(tenant_id: int | None) -> None:
    """Scope the rest of this context (a request) to ``tenant_id``."""
    _tenant.set(tenant_id)


@contextlib.contextmanager
def scoped(tenant_id: int | None) -> Iterator[None]:
    token = _tenant.set(tenant_id)
    try:
        yield
    finally:
        _tenant.reset(token)


def install(engine: Engine) -> None:
    """Begin every transaction on ``engine`` (PostgreSQL) in the current scope."""

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        tenant_id = _tenant.get()
        value = "" if tenant_id is None else str(int(tenant_id))
        conn.exec_driver_sql("SELECT set_config(%(k)s, %(v)s, true)", {"k": SETTING, "v": value})
