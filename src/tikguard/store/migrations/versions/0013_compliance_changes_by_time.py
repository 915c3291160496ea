"""Compliance changes are read by time (notifications find them with their own
watcher, keyed by change id), so they need no per-row delivery mark.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 17:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("compliance_changes") as batch:
        batch.drop_index(batch.f("ix_compliance_changes_tenant_id_notified_at"))
        batch.drop_column("notified_at")
        batch.create_index(batch.f("ix_compliance_changes_tenant_id_at"), ["tenant_id", "at"])


def downgrade() -> None:
    with op.batch_alter_table("compliance_changes") as batch:
        batch.drop_index(batch.f("ix_compliance_changes_tenant_id_at"))
        batch.add_column(sa.Column("notified_at", sa.DateTime(), nullable=True))
        batch.create_index(
            batch.f("ix_compliance_changes_tenant_id_notified_at"), ["tenant_id", "notified_at"]
        )
