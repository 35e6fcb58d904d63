"""fediverse: linked posts, their servers' backoff, replies stored as comments

Revision ID: 0016
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "fediverse_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("server", sa.String(length=300), nullable=False),
        sa.Column("status_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("reason", sa.String(length=500), server_default="", nullable=False),
        sa.Column("account", sa.String(length=320), server_default="", nullable=False),
        sa.Column("linked_by", sa.String(length=16), server_default="owner", nullable=False),
        sa.Column("boosts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("favourites", sa.Integer(), server_default="0", nullable=False),
        sa.Column("posted", sa.DateTime(), nullable=True),
        sa.Column("status_etag", sa.String(length=200), server_default="", nullable=False),
        sa.Column("context_etag", sa.String(length=200), server_default="", nullable=False),
        sa.Column("fetched", sa.DateTime(), nullable=True),
        sa.Column("next_fetch", sa.DateTime(), nullable=True),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_fediverse_posts_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fediverse_posts")),
        sa.UniqueConstraint("thread_id", "url", name=op.f("uq_fediverse_posts_thread_id")),
    )
    op.create_table(
        "fediverse_servers",
        sa.Column("server", sa.String(length=300), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_after", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("server", name=op.f("pk_fediverse_servers")),
    )
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fediverse_accounts", sa.Text(), server_default="", nullable=False)
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("handle", sa.String(length=320), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("fediverse_post_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("original_url", sa.String(length=2048), nullable=True))
        batch_op.create_index("ix_comments_fediverse_post_id", ["fediverse_post_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_comments_fediverse_post_id_fediverse_posts",
            "fediverse_posts",
            ["fediverse_post_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_constraint(
            "fk_comments_fediverse_post_id_fediverse_posts", type_="foreignkey"
        )
        batch_op.drop_index("ix_comments_fediverse_post_id")
        batch_op.drop_column("original_url")
        batch_op.drop_column("fediverse_post_id")
        batch_op.drop_column("handle")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("fediverse_accounts")
    op.drop_table("fediverse_servers")
    op.drop_table("fediverse_posts")
