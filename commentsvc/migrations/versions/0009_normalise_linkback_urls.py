"""normalise linkback URLs: store each source and target in the one spelling identity compares

Revision ID: 0009
Revises: 0003
Create Date: 2026-11-28 09:45:00
"""

import sqlalchemy as sa
from alembic import op

from commentsvc.linkbacks.urls import normalise_url

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

comments = sa.table(
    "comments", sa.column("id"), sa.column("thread_id"), sa.column("source_url", sa.String)
)
mentions = sa.table(
    "mentions", sa.column("id"), sa.column("source", sa.String), sa.column("target", sa.String)
)


def _normal(url):
    try:
        return normalise_url(url)[:2000]
    except ValueError:
        return url


def upgrade():
    # Data only. A row whose normal spelling another row of its thread (or mention pair)
    # already holds stays as it is: merging linkbacks is the owner's call, not a migration's.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(comments.c.id, comments.c.thread_id, comments.c.source_url).where(
            comments.c.source_url.is_not(None)
        )
    ).all()
    taken = {(thread, url) for _id, thread, url in rows}
    for row_id, thread, url in rows:
        new = _normal(url)
        if new != url and (thread, new) not in taken:
            bind.execute(comments.update().where(comments.c.id == row_id).values(source_url=new))
            taken.add((thread, new))
    rows = bind.execute(sa.select(mentions.c.id, mentions.c.source, mentions.c.target)).all()
    taken = {(source, target) for _id, source, target in rows}
    for row_id, source, target in rows:
        new = (_normal(source), _normal(target))
        if new != (source, target) and new not in taken:
            bind.execute(
                mentions.update()
                .where(mentions.c.id == row_id)
                .values(source=new[0], target=new[1])
            )
            taken.add(new)


def downgrade():
    pass  # the old spellings are not kept; the normal ones work with the old code as well
