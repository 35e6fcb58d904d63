"""deleted copies: what an owner's delete erased, kept for undo

Revision ID: 0011
Revises: 0006
Create Date: 2026-11-28 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "deleted_copies",
        sa.Column("comment_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("author", sa.String(length=200), server_default="", nullable=False),
        sa.Column("email", sa.String(length=320), server_default="", nullable=False),
        sa.Column("website", sa.String(length=2048), server_default="", nullable=False),
        sa.Column("text", sa.Text(), server_default="", nullable=False),
        sa.Column("html", sa.Text(), server_default="", nullable=False),
        sa.Column("notify", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("deleted", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"],
            ["comments.id"],
            name=op.f("fk_deleted_copies_comment_id_comments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("comment_id", name=op.f("pk_deleted_copies")),
    )
    with op.batch_alter_table("deleted_copies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deleted_copies_deleted"), ["deleted"], unique=False)


def downgrade():
    with op.batch_alter_table("deleted_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deleted_copies_deleted"))
    op.drop_table("deleted_copies")
