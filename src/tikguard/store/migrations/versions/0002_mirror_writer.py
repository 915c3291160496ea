"""Mirror state records which machine and directory wrote the mirror last.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 05:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mirror_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("writer", sa.String(length=512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mirror_state", schema=None) as batch_op:
        batch_op.drop_column("writer")
