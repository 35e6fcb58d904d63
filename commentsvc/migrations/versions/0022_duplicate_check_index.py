"""index comments by thread, client address and time, for the duplicate check of every post

Revision ID: 0022
Revises: 0016
Create Date: 2026-11-28 20:15:00
"""

from alembic import op

revision = "0022"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade():
    # Without it the duplicate check of a post read every comment of the thread: a post to a
    # thread of thousands cost more than one to a new thread.
    op.create_index(
        "ix_comments_thread_remote_hash_created",
        "comments",
        ["thread_id", "remote_hash", "created"],
    )


def downgrade():
    op.drop_index("ix_comments_thread_remote_hash_created", table_name="comments")
