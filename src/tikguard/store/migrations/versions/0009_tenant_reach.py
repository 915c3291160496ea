"""Where a tenant's routers may be: its management networks, and whether it may add a
host:port another tenant already manages (both set by the controller's operator).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("management_networks", sa.Text(), nullable=False, server_default=""),
    )
    op.add_column(
        "tenants",
        sa.Column("share_hosts", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("tenants", "share_hosts")
    op.drop_column("tenants", "management_networks")
