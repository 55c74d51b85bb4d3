"""data specification: regions, criteria, regional criteria

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:55:28.377955
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("display_title", sa.String(length=500), nullable=False),
        sa.Column("display_subtitle", sa.Text(), nullable=True),
        sa.Column("units", sa.String(length=200), nullable=True),
        sa.Column("min_tooltip", sa.Text(), nullable=True),
        sa.Column("max_tooltip", sa.Text(), nullable=True),
        sa.Column("payload_prefix", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criteria")),
        sa.UniqueConstraint("name", name=op.f("uq_criteria_name")),
    )
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("name", name=op.f("uq_regions_name")),
    )
    op.create_table(
        "regional_criteria",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("criteria_id", sa.Integer(), nullable=False),
        sa.Column("min_val", sa.Double(), nullable=False),
        sa.Column("max_val", sa.Double(), nullable=False),
        sa.Column("default_min_val", sa.Double(), nullable=False),
        sa.Column("default_max_val", sa.Double(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["criteria_id"],
            ["criteria.id"],
            name=op.f("fk_regional_criteria_criteria_id_criteria"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_regional_criteria_region_id_regions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regional_criteria")),
        sa.UniqueConstraint("region_id", "criteria_id", name=op.f("uq_regional_criteria_region_id")),
    )
    op.create_index(
        op.f("ix_regional_criteria_criteria_id"), "regional_criteria", ["criteria_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_regional_criteria_criteria_id"), table_name="regional_criteria")
    op.drop_table("regional_criteria")
    op.drop_table("regions")
    op.drop_table("criteria")
