"""What the importers' tests share: writing an export file, and reading what it imported."""

from __future__ import annotations

import gzip
from pathlib import Path

from hypothesis import strategies as st
from sqlalchemy import func
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from tests.safety import SHARED
from tests.safety import needs_shared
from tests.safety import unsafe_parts

# WordPress's own theme test data, a real export (in ../shared, as in CI).
WXR = SHARED / "data" / "wordpress" / "themeunittestdata.wordpress.xml"
needs_shared_export = needs_shared(WXR)

# Any JSON value, for the fuzzed fields of the peers' files.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["root", "a1", "/p/", "2021-03-17T12:09:47Z", "approved", "x" * 3000]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
VALID_TIME = st.just("2021-03-17T12:09:47.123456789Z") | JSON_VALUES


def export_file(folder: Path, name: str, content: bytes | str, *, packed: bool = False) -> Path:
    """Write an export as the peer would hand it over (gzipped when `packed`); return its path."""
    data = content.encode() if isinstance(content, str) else content
    path = folder / name
    path.write_bytes(gzip.compress(data) if packed else data)
    return path


def counts(app, column):
    """How many comments have each value of `column`."""
    with app.app_context():
        return dict(db.session.execute(select(column, func.count()).group_by(column)).all())


def comment_by(app, **where):
    with app.app_context():
        found = db.session.scalar(select(Comment).filter_by(**where))
        db.session.expunge_all()
        return found


def check_threads(app):
    """Every reply hangs under a parent in its own thread, and every body is clean."""
    with app.app_context():
        for comment in db.session.scalars(select(Comment)):
            assert unsafe_parts(comment.html) == []
            if comment.parent_id is not None:
                parent = db.session.get(Comment, comment.parent_id)
                assert parent.thread_id == comment.thread_id
                assert comment.root_id == (parent.root_id or parent.id)
