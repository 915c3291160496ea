"""The fleet search index (sections of configurations shared by content, their items
and lines, and which versions they make up) and compliance rules, verdicts and changes.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:36:51.870419
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

POLICY = "tikguard_tenant_scope"
SCOPE = "NULLIF(current_setting('tikguard.tenant_id', true), '')"
TABLES = (
    "search_sections",
    "search_items",
    "search_lines",
    "search_links",
    "compliance_rulesets",
    "compliance_results",
    "compliance_changes",
)


def upgrade() -> None:
    op.create_table(
        "compliance_rulesets",
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_compliance_rulesets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_compliance_rulesets")),
    )
    op.create_table(
        "search_sections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("menu", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_search_sections_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_sections")),
        sa.UniqueConstraint(
            "tenant_id", "digest", name=op.f("uq_search_sections_tenant_id_digest")
        ),
    )
    op.create_table(
        "search_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column(
            "section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("menu", sa.String(length=255), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column(
            "props",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["search_sections.id"],
            name=op.f("fk_search_items_section_id_search_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_search_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_items")),
    )
    with op.batch_alter_table("search_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_items_section_id"), ["section_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_items_tenant_id_menu"), ["tenant_id", "menu"], unique=False
        )

    op.create_table(
        "search_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column(
            "section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["search_sections.id"],
            name=op.f("fk_search_lines_section_id_search_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_search_lines_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_lines")),
    )
    with op.batch_alter_table("search_lines", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_lines_tenant_id_section_id"),
            ["tenant_id", "section_id"],
            unique=False,
        )

    op.create_table(
        "compliance_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_compliance_changes_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_compliance_changes_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["config_versions.id"],
            name=op.f("fk_compliance_changes_version_id_config_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_changes")),
    )
    with op.batch_alter_table("compliance_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compliance_changes_tenant_id_notified_at"),
            ["tenant_id", "notified_at"],
            unique=False,
        )

    op.create_table(
        "compliance_results",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=128), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column(
            "lines",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.Column("checked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_compliance_results_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_compliance_results_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["config_versions.id"],
            name=op.f("fk_compliance_results_version_id_config_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("device_id", "rule", name=op.f("pk_compliance_results")),
    )
    with op.batch_alter_table("compliance_results", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_compliance_results_tenant_id_rule"), ["tenant_id", "rule"], unique=False
        )

    op.create_table(
        "search_links",
        sa.Column(
            "version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "section_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("latest", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_search_links_device_id_devices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["section_id"],
            ["search_sections.id"],
            name=op.f("fk_search_links_section_id_search_sections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_search_links_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["config_versions.id"],
            name=op.f("fk_search_links_version_id_config_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "section_id", name=op.f("pk_search_links")),
    )
    with op.batch_alter_table("search_links", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_search_links_section_id_latest"), ["section_id", "latest"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_search_links_tenant_id_device_id_latest"),
            ["tenant_id", "device_id", "latest"],
            unique=False,
        )

    if op.get_bind().dialect.name == "postgresql":  # the same wall as migration 0003
        for table in TABLES:
            op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
            op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
            op.execute(
                f'CREATE POLICY {POLICY} ON "{table}" USING ('
                f'{SCOPE} IS NULL OR "tenant_id" = ({SCOPE})::integer)'
            )


def downgrade() -> None:
    with op.batch_alter_table("search_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_links_tenant_id_device_id_latest"))
        batch_op.drop_index(batch_op.f("ix_search_links_section_id_latest"))

    op.drop_table("search_links")
    with op.batch_alter_table("compliance_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compliance_results_tenant_id_rule"))

    op.drop_table("compliance_results")
    with op.batch_alter_table("compliance_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_compliance_changes_tenant_id_notified_at"))

    op.drop_table("compliance_changes")
    with op.batch_alter_table("search_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_lines_tenant_id_section_id"))

    op.drop_table("search_lines")
    with op.batch_alter_table("search_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_items_tenant_id_menu"))
        batch_op.drop_index(batch_op.f("ix_search_items_section_id"))

    op.drop_table("search_items")
    op.drop_table("search_sections")
    op.drop_table("compliance_rulesets")
