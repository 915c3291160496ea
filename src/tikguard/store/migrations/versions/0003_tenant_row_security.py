"""Row-level security on PostgreSQL: every tenant table admits only the scoped tenant.

A second wall behind the query helpers' ``tenant_id`` filters (see
:mod:`tikguard.store.scope`): within a transaction that set ``tikguard.tenant_id``,
rows of other tenants are invisible and cannot be written. Unscoped transactions
(workers, CLI, migrations) see every row. SQLite has no row-level security: no-op.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 05:30:00
"""

from __future__ import annotations

from types import MappingProxyType

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: Table -> its tenant column.
TABLES = MappingProxyType(
    {
        "tenants": "id",
        "tenant_keys": "tenant_id",
        "users": "tenant_id",
        "api_tokens": "tenant_id",
        "devices": "tenant_id",
        "device_tags": "tenant_id",
        "operations": "tenant_id",
        "operation_events": "tenant_id",
        "config_versions": "tenant_id",
        "mirror_state": "tenant_id",
        "audit_log": "tenant_id",
    }
)
POLICY = "tikguard_tenant_scope"
SCOPE = "NULLIF(current_setting('tikguard.tenant_id', true), '')"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, column in TABLES.items():
        op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        # NULLIF first: SQL does not promise to short-circuit OR, and '' is no integer.
        op.execute(
            f'CREATE POLICY {POLICY} ON "{table}" USING ('
            f'{SCOPE} IS NULL OR "{column}" = ({SCOPE})::integer)'
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f'DROP POLICY IF EXISTS {POLICY} ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
