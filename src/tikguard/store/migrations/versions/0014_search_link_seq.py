"""Search links carry their version's number, so a search answers without reading the
version rows (which hold the configuration text): 10,000 routers' results no longer
touch 10,000 wide rows.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 17:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_links") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE search_links SET seq = (SELECT seq FROM config_versions"
        " WHERE config_versions.id = search_links.version_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("search_links") as batch:
        batch.drop_column("seq")
