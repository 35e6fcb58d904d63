"""sign-in providers, reader identities, each site's sign-in settings, admins' own identities

Revision ID: 0013
Revises: 0014
Create Date: 2026-11-28 12:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "auth_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issuer", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("client_id", sa.String(length=500), server_default="", nullable=False),
        sa.Column("secret", sa.Text(), server_default="", nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "auth_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("server", sa.String(length=255), nullable=False),
        sa.Column("client_id", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.Text(), server_default="", nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "server"),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("url", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("photo_url", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("generation", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "subject"),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_in", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(
            sa.Column("anonymous", sa.String(length=16), server_default="on", nullable=False)
        )
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_admins_identity_id", "identities", ["identity_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identity_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_comments_identity_id", ["identity_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_comments_identity_id", "identities", ["identity_id"], ["id"], ondelete="SET NULL"
        )


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_comments_identity_id", type_="foreignkey")
        batch_op.drop_index("ix_comments_identity_id")
        batch_op.drop_column("identity_id")
    with op.batch_alter_table("admins", schema=None) as batch_op:
        batch_op.drop_constraint("fk_admins_identity_id", type_="foreignkey")
        batch_op.drop_column("identity_id")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("anonymous")
        batch_op.drop_column("sign_in")
    op.drop_table("identities")
    op.drop_table("auth_registrations")
    op.drop_table("auth_providers")
