"""likes per visitor: the address hash beside the visitor's

Revision ID: 0008
Revises: 0003
Create Date: 2026-11-28 09:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("likes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("address", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.create_index("ix_likes_thread_address", ["thread_id", "address"], unique=False)
    # Until now a like's visitor was its address hash: keep it as the address, for the cap.
    op.execute("UPDATE likes SET address = visitor")


def downgrade():
    with op.batch_alter_table("likes", schema=None) as batch_op:
        batch_op.drop_index("ix_likes_thread_address")
        batch_op.drop_column("address")
