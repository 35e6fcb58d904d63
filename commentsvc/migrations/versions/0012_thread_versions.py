"""thread and site versions, and the root of every reply

Revision ID: 0012
Revises: 0008
Create Date: 2026-11-28 09:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("cache_max_age", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("root_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_comments_root_id", ["root_id"], unique=False)
    _fill_root_ids(op.get_bind())


def _fill_root_ids(connection) -> None:
    """Give every existing reply the id of the top-level comment it hangs under."""
    parents = dict(connection.execute(sa.text("SELECT id, parent_id FROM comments")).all())
    roots = []
    for comment_id, parent_id in parents.items():
        if parent_id is None:
            continue
        root, seen = parent_id, {comment_id}
        while parents.get(root) is not None and root not in seen:
            seen.add(root)
            root = parents[root]
        roots.append({"id": comment_id, "root": root})
    if roots:
        connection.execute(sa.text("UPDATE comments SET root_id = :root WHERE id = :id"), roots)


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_index("ix_comments_root_id")
        batch_op.drop_column("root_id")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("cache_max_age")
        batch_op.drop_column("version")
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_column("version")
