"""Each config version keeps who asked for the reading that stored it (``cli:user@host``,
an API principal, ``schedule:<name>``), so every git mirror commit carries a
``Tikguard-Requested-By:`` trailer, also for backups with no operation behind them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("config_versions") as batch:
        batch.add_column(sa.Column("requested_by", sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("config_versions") as batch:
        batch.drop_column("requested_by")
