"""sign-ins handed to the widget by the service when the popup was cut off from the page

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-28 23:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sign_in_handoffs",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name="fk_sign_in_handoffs_site_id_sites",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name="fk_sign_in_handoffs_identity_id_identities",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("digest", name="pk_sign_in_handoffs"),
    )
    op.create_index("ix_sign_in_handoffs_created", "sign_in_handoffs", ["created"])


def downgrade():
    op.drop_index("ix_sign_in_handoffs_created", table_name="sign_in_handoffs")
    op.drop_table("sign_in_handoffs")
