"""linkbacks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 13:14:12.385533
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sent_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("protocol", sa.String(length=16), server_default="", nullable=False),
        sa.Column("endpoint", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("result", sa.String(length=500), server_default="", nullable=False),
        sa.Column("ok", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("present", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.Column("sent", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_links")),
        sa.UniqueConstraint("source", "target", name=op.f("uq_sent_links_source")),
    )
    op.create_table(
        "mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("target", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("remote_hash", sa.String(length=64), server_default="", nullable=False),
        sa.Column("comment_id", sa.Integer(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.Column("updated", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_mentions_comment_id_comments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint("key", name=op.f("uq_mentions_key")),
        sa.UniqueConstraint("source", "target", name=op.f("uq_mentions_source")),
    )


def downgrade():
    op.drop_table("mentions")
    op.drop_table("sent_links")
