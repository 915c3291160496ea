"""Fleet rollouts (a parent of guarded pushes, with its routers and their outcomes) and
per-device template variables.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

POLICY = "tikguard_tenant_scope"
SCOPE = "NULLIF(current_setting('tikguard.tenant_id', true), '')"
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("vars", JSON, nullable=False, server_default="{}"))
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("template", sa.Boolean(), nullable=False),
        sa.Column("source_enc", sa.LargeBinary(), nullable=False),
        sa.Column("selector", JSON, nullable=False),
        sa.Column("policy", JSON, nullable=False),
        sa.Column("waves", JSON, nullable=False),
        sa.Column("current_wave", sa.Integer(), nullable=False),
        sa.Column("abort_requested", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_failures", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rollouts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollouts")),
    )
    op.create_index(
        op.f("ix_rollouts_tenant_id_created_at"), "rollouts", ["tenant_id", "created_at"]
    )
    op.create_table(
        "rollout_targets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.String(length=64), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("device_name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("script_enc", sa.LargeBinary(), nullable=True),
        sa.Column("script_sha", sa.String(length=64), nullable=True),
        sa.Column("op_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rollout_targets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollouts.id"],
            name=op.f("fk_rollout_targets_rollout_id_rollouts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_rollout_targets_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollout_targets")),
        sa.UniqueConstraint(
            "rollout_id", "device_id", name=op.f("uq_rollout_targets_rollout_id_device_id")
        ),
    )
    op.create_index(
        op.f("ix_rollout_targets_rollout_id_wave"), "rollout_targets", ["rollout_id", "wave"]
    )
    if op.get_bind().dialect.name == "postgresql":  # the same wall as migration 0003
        for table in ("rollouts", "rollout_targets"):
            op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            op.execute(
                f'CREATE POLICY {POLICY} ON "{table}" USING ('
                f'{SCOPE} IS NULL OR "tenant_id" = ({SCOPE})::integer)'
            )


def downgrade() -> None:
    op.drop_index(op.f("ix_rollout_targets_rollout_id_wave"), table_name="rollout_targets")
    op.drop_table("rollout_targets")
    op.drop_index(op.f("ix_rollouts_tenant_id_created_at"), table_name="rollouts")
    op.drop_table("rollouts")
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("vars")
