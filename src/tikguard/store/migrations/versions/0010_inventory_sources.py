"""Inventory sources: a tenant's RANCID router.db, Oxidized-style CSV or HTTP JSON
source of routers, with its settings and (encrypted) secrets.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

POLICY = "tikguard_tenant_scope"
SCOPE = "NULLIF(current_setting('tikguard.tenant_id', true), '')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inventory_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("secrets_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_sync_at", sa.DateTime(), nullable=True),
        sa.Column("last_sync", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_inventory_sources_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_sources")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_inventory_sources_tenant_id_name")),
    )
    if op.get_bind().dialect.name == "postgresql":  # the same wall as migration 0003
        op.execute('ALTER TABLE "inventory_sources" ENABLE ROW LEVEL SECURITY')
        op.execute('ALTER TABLE "inventory_sources" FORCE ROW LEVEL SECURITY')
        op.execute(
            f'CREATE POLICY {POLICY} ON "inventory_sources" USING ('
            f'{SCOPE} IS NULL OR "tenant_id" = ({SCOPE})::integer)'
        )


def downgrade() -> None:
    op.drop_table("inventory_sources")
