"""where each comment came from: written here, or imported from another system

Revision ID: 0014
Revises: 0021
Create Date: 2026-11-28 12:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("imported_from", sa.String(length=32), server_default="", nullable=False)
        )
    # Comments imported before this column existed said so only in their reason.
    op.execute("UPDATE comments SET imported_from = 'wordpress' WHERE reason = 'imported'")


def downgrade():
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("imported_from")
