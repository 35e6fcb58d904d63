"""scrub raw client addresses from Webmention jobs queued before they were named by hash

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-28 12:35:00
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

jobs = sa.table(
    "jobs", sa.column("id"), sa.column("kind", sa.String), sa.column("payload", sa.Text)
)


def upgrade():
    # The README promises no raw IP is stored; jobs queued by an older release named the client
    # by its address. Who asked is only a courtesy in the fetch's User-Agent: drop it.
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(jobs.c.id, jobs.c.payload).where(jobs.c.kind == "webmention")
    ).all()
    for row_id, payload in rows:
        try:
            data = json.loads(payload or "{}")
        except ValueError:
            continue
        asked = data.get("requested_by", "") if isinstance(data, dict) else ""
        if isinstance(asked, str) and asked and not asked.startswith("client "):
            data["requested_by"] = ""
            bind.execute(jobs.update().where(jobs.c.id == row_id).values(payload=json.dumps(data)))


def downgrade():
    pass
