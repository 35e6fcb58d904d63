"""What every importer must do, whatever the format: refuse hostile files with a clear error
and import or report any JSON in a peer's fields, never a traceback."""

import json

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from commentsvc.db import db
from commentsvc.models import Comment
from tests.conftest import add_site
from tests.importers.imports import JSON_VALUES
from tests.importers.imports import VALID_TIME
from tests.importers.imports import counts


def test_hostile_files_get_clear_errors(app, cli, tmp_path):
    add_site(app)
    cases = {
        "disqus": (b"<rss/>", "is not a Disqus export"),
        "remark42": (b'{"no": "version"}\n', "is not a Remark42 backup"),
        "commento": (b"[" * 100_000, "is nested too deep"),
        "isso": (b"not a database at all", "is not an SQLite database"),
        "commentsvc": (b'{"format": "other"}', "is not a commentsvc export"),
    }
    for kind, (body, message) in cases.items():
        path = tmp_path / f"bad-{kind}"
        path.write_bytes(body)
        result = cli("import", kind, str(path), "--site", "blog")
        assert result.exit_code == 1 and message in result.output, (kind, result.output)
        assert "Traceback" not in result.output
    bomb = tmp_path / "bomb.xml"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY a "aaaa">]><disqus>&a;</disqus>')
    assert "refused" in cli("import", "disqus", str(bomb), "--site", "blog").output
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00garbage")
    assert "broken gzip" in cli("import", "remark42", str(broken), "--site", "blog").output
    fake = tmp_path / "fake.db"
    fake.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    assert "cannot be read as an Isso database" in (
        cli("import", "isso", str(fake), "--site", "blog").output
    )
    assert counts(app, Comment.kind) == {}


# --- any JSON in the peers' fields: imported or reported, never a traceback -----------------

COMMENTO_KEYS = ("domain", "commenterHex", "markdown", "html", "parentHex", "score", "state")
COMMENTO_KEYS += ("deleted", "name", "email", "link", "isModerator")
REMARK_KEYS = ("pid", "text", "orig", "user", "score", "edit", "delete")


@settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "commentHex": st.sampled_from(["a1", "a2", "a3"]),
                "url": st.just("/p/") | JSON_VALUES,
                "creationDate": VALID_TIME,
            },
            optional=dict.fromkeys(COMMENTO_KEYS, JSON_VALUES),
        )
        | JSON_VALUES,
        max_size=4,
    ),
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a1", "a2", "a3"]) | JSON_VALUES,
                "locator": st.just({"url": "https://x.example/p/"}) | JSON_VALUES,
                "time": VALID_TIME,
            },
            optional=dict.fromkeys(REMARK_KEYS, JSON_VALUES),
        ),
        max_size=4,
    ),
)
def test_peer_files_with_any_values_import_or_report(app, tmp_path, commento_items, remark_items):
    from datetime import datetime

    from commentsvc import importers
    from commentsvc.importers import commento as commento_format
    from commentsvc.importers import remark42 as remark_format
    from commentsvc.sites import add_site as add

    with app.app_context():
        site = importers.select(importers.Site).where(importers.Site.name == "fuzz")
        site = db.session.scalar(site) or add("fuzz", "https://fuzz.example.org")
        commento_path = tmp_path / "fuzz-commento.json"
        commento_path.write_text(
            json.dumps({"version": 1, "comments": commento_items, "commenters": commento_items})
        )
        remark_path = tmp_path / "fuzz-remark.jsonl"
        lines = [json.dumps({"version": 1})] + [json.dumps(item) for item in remark_items]
        remark_path.write_text("\n".join(lines))
        for parser, path in ((commento_format, commento_path), (remark_format, remark_path)):
            records, _problems = parser.parse(path)
            importers.import_records(
                site, records, secret="s", now=datetime(2026, 1, 1), merge=True, dry_run=True
            )
