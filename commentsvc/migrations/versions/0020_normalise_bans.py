"""normalise bans: email and domain bans stored before values had one spelling match again

Revision ID: 0020
Revises: 0012
Create Date: 2026-11-28 12:30:00
"""

import sqlalchemy as sa
from alembic import op

from commentsvc.errors import ServiceError
from commentsvc.moderation import ban_value

revision = "0020"
down_revision = "0012"
branch_labels = None
depends_on = None

bans = sa.table(
    "bans", sa.column("id"), sa.column("kind", sa.String), sa.column("value", sa.String)
)


def upgrade():
    # Data only. The rules compare the normal spelling (lower case, IDNA host, no "www."), so a
    # ban written "Troll@EXAMPLE.org" or "https://www.spam.example/x" before stopped nothing.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(bans.c.id, bans.c.kind, bans.c.value).where(bans.c.kind.in_(("email", "domain")))
    ).all()
    for row_id, kind, value in rows:
        try:
            normal = ban_value(kind, value)
        except ServiceError:
            continue  # not a value the rules can match at all: left for the owner to see
        if normal != value:
            bind.execute(bans.update().where(bans.c.id == row_id).values(value=normal))


def downgrade():
    pass
