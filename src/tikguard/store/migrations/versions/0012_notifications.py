"""Notifications (channels, rules, the events found and every delivery attempt) and
each device's count of failed backups in a row.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

POLICY = "tikguard_tenant_scope"
SCOPE = "NULLIF(current_setting('tikguard.tenant_id', true), '')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLES = ("notify_channels", "notify_rules", "notify_events", "notify_attempts")


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(
            sa.Column("backup_failures", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "notify_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("secrets_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _tenant_fk("notify_channels"),
        sa.PrimaryKeyConstraint("id", name="pk_notify_channels"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_notify_channels_tenant_id_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "notify_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("sites", JSON, nullable=False),
        sa.Column("backup_failures", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        _tenant_fk("notify_rules"),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notify_channels.id"],
            name="fk_notify_rules_channel_id_notify_channels",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notify_rules"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_notify_rules_tenant_id_name"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notify_rules_channel_id", "notify_rules", ["channel_id"])
    op.create_table(
        "notify_events",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("device_name", sa.String(length=128), nullable=True),
        sa.Column("operation_id", sa.String(length=64), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        _tenant_fk("notify_events"),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name="fk_notify_events_device_id_devices",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notify_events"),
        sa.UniqueConstraint("tenant_id", "key", name="uq_notify_events_tenant_id_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notify_events_tenant_id_at", "notify_events", ["tenant_id", "at"])
    op.create_index("ix_notify_events_dispatched_at", "notify_events", ["dispatched_at"])
    op.create_table(
        "notify_attempts",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("event_id", BIGID, nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("channel_name", sa.String(length=64), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("final", sa.Boolean(), nullable=False),
        _tenant_fk("notify_attempts"),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["notify_events.id"],
            name="fk_notify_attempts_event_id_notify_events",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["notify_channels.id"],
            name="fk_notify_attempts_channel_id_notify_channels",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_notify_attempts"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_notify_attempts_event_id", "notify_attempts", ["event_id"])
    op.create_index("ix_notify_attempts_tenant_id_at", "notify_attempts", ["tenant_id", "at"])
    if op.get_bind().dialect.name == "postgresql":  # the same wall as migration 0003
        for table in TABLES:
            op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            op.execute(
                f'CREATE POLICY {POLICY} ON "{table}" USING ('
                f'{SCOPE} IS NULL OR "tenant_id" = ({SCOPE})::integer)'
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("backup_failures")
