"""projects groups polygons notes map layers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:26:06.228516
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "map_layers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("layer_id", sa.String(length=200), nullable=True),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column(
            "url",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("url_type", sa.String(length=100), nullable=False),
        sa.Column("server_layer_id_ref", sa.String(length=500), nullable=True),
        sa.Column("info_url", sa.Text(), nullable=True),
        sa.Column("attributions", sa.Text(), nullable=True),
        sa.Column("reverse_range", sa.Boolean(), nullable=False),
        sa.Column("cluster", sa.Boolean(), nullable=False),
        sa.Column("label_prop", sa.String(length=200), nullable=True),
        sa.Column("layer_prefix", sa.String(length=500), nullable=True),
        sa.Column("layer_postfix", sa.String(length=500), nullable=True),
        sa.Column(
            "layer_options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "layer_group_options",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_map_layers")),
        sa.UniqueConstraint("layer_id", name=op.f("uq_map_layers_layer_id")),
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_groups_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
    )
    op.create_index(op.f("ix_groups_owner_id"), "groups", ["owner_id"], unique=False)
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column(
            "project_state",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_projects_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.UniqueConstraint("user_id", "name", name=op.f("uq_projects_user_id")),
    )
    op.create_index("ix_projects_is_public", "projects", ["is_public"], unique=False)
    op.create_index(op.f("ix_projects_user_id"), "projects", ["user_id"], unique=False)
    op.create_table(
        "group_managers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_managers_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_managers_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_managers")),
        sa.UniqueConstraint("group_id", "user_id", name=op.f("uq_group_managers_group_id")),
    )
    op.create_index(op.f("ix_group_managers_user_id"), "group_managers", ["user_id"], unique=False)
    op.create_table(
        "group_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_members_group_id_groups"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_group_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_members")),
        sa.UniqueConstraint("group_id", "user_id", name=op.f("uq_group_members_group_id")),
    )
    op.create_index(op.f("ix_group_members_user_id"), "group_members", ["user_id"], unique=False)
    op.create_table(
        "polygons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column(
            "polygon",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_polygons_project_id_projects"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_polygons_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polygons")),
    )
    op.create_index(op.f("ix_polygons_project_id"), "polygons", ["project_id"], unique=False)
    op.create_index(op.f("ix_polygons_user_id"), "polygons", ["user_id"], unique=False)
    op.create_table(
        "project_group_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_project_group_shares_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_group_shares_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_group_shares")),
        sa.UniqueConstraint("project_id", "group_id", name=op.f("uq_project_group_shares_project_id")),
    )
    op.create_index(
        op.f("ix_project_group_shares_group_id"), "project_group_shares", ["group_id"], unique=False
    )
    op.create_table(
        "project_user_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_project_user_shares_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_project_user_shares_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_user_shares")),
        sa.UniqueConstraint("project_id", "user_id", name=op.f("uq_project_user_shares_project_id")),
    )
    op.create_index(op.f("ix_project_user_shares_user_id"), "project_user_shares", ["user_id"], unique=False)
    op.create_table(
        "polygon_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("polygon_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["polygon_id"],
            ["polygons.id"],
            name=op.f("fk_polygon_notes_polygon_id_polygons"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_polygon_notes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_polygon_notes")),
    )
    op.create_index(op.f("ix_polygon_notes_polygon_id"), "polygon_notes", ["polygon_id"], unique=False)
    op.create_index(op.f("ix_polygon_notes_user_id"), "polygon_notes", ["user_id"], unique=False)


def downgrade() -> None:

    op.drop_index(op.f("ix_polygon_notes_user_id"), table_name="polygon_notes")
    op.drop_index(op.f("ix_polygon_notes_polygon_id"), table_name="polygon_notes")
    op.drop_table("polygon_notes")
    op.drop_index(op.f("ix_project_user_shares_user_id"), table_name="project_user_shares")
    op.drop_table("project_user_shares")
    op.drop_index(op.f("ix_project_group_shares_group_id"), table_name="project_group_shares")
    op.drop_table("project_group_shares")
    op.drop_index(op.f("ix_polygons_user_id"), table_name="polygons")
    op.drop_index(op.f("ix_polygons_project_id"), table_name="polygons")
    op.drop_table("polygons")
    op.drop_index(op.f("ix_group_members_user_id"), table_name="group_members")
    op.drop_table("group_members")
    op.drop_index(op.f("ix_group_managers_user_id"), table_name="group_managers")
    op.drop_table("group_managers")
    op.drop_index(op.f("ix_projects_user_id"), table_name="projects")
    op.drop_index("ix_projects_is_public", table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_groups_owner_id"), table_name="groups")
    op.drop_table("groups")
    op.drop_table("map_layers")
