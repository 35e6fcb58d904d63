"""Importing Commento and Comentario exports (commentsvc.importers.commento), with the nasty
cases, and any JSON in their fields imported or reported."""

import json

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.importers.imports import JSON_VALUES
from tests.importers.imports import VALID_TIME
from tests.importers.imports import check_threads
from tests.importers.imports import comment_by
from tests.importers.imports import counts
from tests.importers.imports import export_file

# --- Commento ------------------------------------------------------------------------------


def commento(hex_, markdown, *, parent="root", state="approved", who="c0ffee", **extra):
    item = {
        "commentHex": hex_,
        "domain": "old.example.org",
        "url": "/posts/c/",
        "commenterHex": who,
        "markdown": markdown,
        "html": "",
        "parentHex": parent,
        "score": 0,
        "state": state,
        "creationDate": "2021-03-17T12:09:47.722181Z",
        "direction": 0,
        "deleted": False,
    }
    item.update(extra)
    return item


@pytest.fixture
def commento_file(tmp_path):
    data = {
        "version": 1,
        "comments": [
            commento("a1", "Hello *there* &amp; <b>bold</b>", score=2),
            commento(
                "a2", "A reply", parent="a1", who="anonymous", creationDate="2021-03-18T00:00:00Z"
            ),
            commento("a3", "Held", state="unapproved", creationDate="2021-03-19T00:00:00Z"),
            commento("a4", "Flagged", state="flagged", creationDate="2021-03-20T00:00:00Z"),
            commento("a5", "", deleted=True, creationDate="2021-03-21T00:00:00Z"),
            commento("a6", "Orphan", parent="ffff", creationDate="2021-03-22T00:00:00Z"),
            commento(
                "a7", "", html="<p>Only <em>HTML</em></p>", creationDate="2021-03-23T00:00:00Z"
            ),
            commento("a1", "Duplicate", creationDate="2021-03-24T00:00:00Z"),
            "not an object",
            commento("a8", "No date", creationDate=None),
        ],
        "commenters": [
            {
                "commenterHex": "c0ffee",
                "email": "Mod@Example.org",
                "name": "Mo \u0000D\u202e",
                "link": "https://mo.example.org",
                "photo": "",
                "provider": "commento",
                "joinDate": "2021-03-01T00:00:00Z",
                "isModerator": True,
            }
        ],
    }
    return export_file(tmp_path, "commento.json", json.dumps(data))


def test_a_commento_export_with_nasty_cases(app, cli, commento_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "commento", str(commento_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 7 into 1 page(s): 7 comment(s) (4 approved, 1 deleted, 1 pending, 1 spam); "
        "0 were there already; 4 problem(s) reported above"
    )
    for message in (
        "comment 8 (commentHex a1): id a1 appears twice: skipped",
        "comment 9 (commentHex ?): it is not a comment with a commentHex: skipped",
        "comment 10 (commentHex a8): it has no readable creationDate: skipped",
        "comment 6 (commentHex a6): its parent ffff is not in the export",
    ):
        assert message in result.output
    first = comment_by(app, text="Hello *there* &amp; <b>bold</b>")
    assert first.author == "Mo D" and first.email == "mod@example.org"
    assert first.website == "https://mo.example.org" and first.by_owner is True
    assert first.likes == 2 and "<b>" not in first.html and "<em>there</em>" in first.html
    assert comment_by(app, text="A reply").author == "Anonymous"
    assert comment_by(app, text="A reply").parent_id == first.id
    assert comment_by(app, text="Only *HTML*").html == "<p>Only <em>HTML</em></p>"
    check_threads(app)
    dry = cli("import", "commento", str(commento_file), "--site", "blog", "--dry-run")
    assert "would import 0" in dry.output
    again = cli("import", "commento", str(commento_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 7 were there already" in again.output


def test_a_dry_run_of_a_peer_counts_per_status_and_writes_nothing(app, cli, commento_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "commento", str(commento_file), "--site", "blog", "--dry-run")
    assert result.exit_code == 0
    assert result.output.splitlines()[-1].startswith(
        "would import 7 into 1 page(s): 7 comment(s) (4 approved, 1 deleted, 1 pending, 1 spam)"
    )
    assert counts(app, Comment.kind) == {}


# --- Comentario (version 3) -----------------------------------------------------------------

MOD = "6f0c2a5e-0000-4000-8000-00000000000a"
ANON = "00000000-0000-0000-0000-000000000000"
PAGE_A = "9a000000-0000-4000-8000-0000000000a1"
PAGE_B = "9a000000-0000-4000-8000-0000000000b2"


def comentario(id_, markdown, *, page=PAGE_A, parent=None, who=MOD, day=17, **flags):
    item = {
        "id": f"c0000000-0000-4000-8000-0000000000{id_}",
        "parentId": parent and f"c0000000-0000-4000-8000-0000000000{parent}",
        "pageId": page,
        "markdown": markdown,
        "html": "",
        "score": 0,
        "isSticky": False,
        "isApproved": True,
        "isPending": False,
        "isDeleted": False,
        "createdTime": f"2024-03-{day}T12:09:47.722181123Z",
        "userCreated": who,
        "authorName": "",
    }
    item.update(flags)
    return item


@pytest.fixture
def comentario_file(tmp_path):
    data = {
        "version": 3,
        "pages": [
            {"id": PAGE_A, "domainId": "d", "path": "/posts/a/", "title": "A", "isReadonly": False},
            {"id": PAGE_B, "domainId": "d", "path": "/posts/b/", "title": "B", "isReadonly": False},
        ],
        "comments": [
            comentario("01", "Hello *there* &amp; <b>bold</b>", score=3),
            comentario("02", "A reply", parent="01", who=ANON, authorName="Guest &lt;3", day=18),
            comentario("03", "Deeper", parent="02", day=19, editedTime="2024-03-20T00:00:00Z"),
            comentario("04", "Held", page=PAGE_B, isApproved=False, isPending=True, day=20),
            comentario("05", "Rejected", page=PAGE_B, isApproved=False, day=21),
            comentario("06", "", isDeleted=True, html="", day=22),
            comentario("07", "Orphan", parent="ff", day=23),
            comentario("08", "Ghost", who="6f0c2a5e-0000-4000-8000-0000000000ff", day=24),
            comentario("01", "Duplicate", day=25),
            comentario("09", "Nowhere", page="9a000000-0000-4000-8000-0000000000ff", day=26),
            "not an object",
            comentario("10", "No date", createdTime=None),
        ],
        "commenters": [
            {
                "id": MOD,
                "email": "Mod@Example.org",
                "name": "Mo <i>D</i> \u202e",
                "websiteUrl": "https://mo.example.org",
                "isModerator": True,
                "isCommenter": True,
            }
        ],
    }
    return export_file(tmp_path, "comentario-export.json.gz", json.dumps(data), packed=True)


def test_a_comentario_export_with_nasty_cases(app, cli, comentario_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "commento", str(comentario_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 8 into 2 page(s): 8 comment(s) (5 approved, 1 deleted, 1 pending, 1 spam); "
        "0 were there already; 6 problem(s) reported above"
    )
    for message in (
        "comment 9 (id c0000000-0000-4000-8000-000000000001): id c0000000-0000-4000-8000-000000000001 appears twice: skipped",
        "comment 10 (id c0000000-0000-4000-8000-000000000009): its page is not in the export: skipped",
        "comment 11 (id ?): it is not a comment with an id: skipped",
        "comment 12 (id c0000000-0000-4000-8000-000000000010): it has no readable createdTime: skipped",
        "comment 7 (id c0000000-0000-4000-8000-000000000007): its parent c0000000-0000-4000-8000-0000000000ff is not in the export",
        "comment 8 (id c0000000-0000-4000-8000-000000000008): its commenter 6f0c2a5e-0000-4000-8000-0000000000ff is not in the export: anonymous",
    ):
        assert message in result.output
    first = comment_by(app, text="Hello *there* &amp; <b>bold</b>")
    assert first.author == "Mo <i>D</i>" and first.email == "mod@example.org"
    assert first.website == "https://mo.example.org" and first.by_owner is True
    assert first.likes == 3 and "<b>" not in first.html and "<em>there</em>" in first.html
    reply = comment_by(app, text="A reply")
    assert reply.author == "Guest &lt;3" and reply.parent_id == first.id and not reply.by_owner
    assert comment_by(app, text="Deeper").parent_id == reply.id
    assert comment_by(app, text="Ghost").author == "Anonymous"
    assert comment_by(app, text="Held").status == "pending"
    assert comment_by(app, text="Rejected").status == "spam"
    with app.app_context():
        assert set(db.session.scalars(select(Thread.uri))) == {"/posts/a/", "/posts/b/"}
    check_threads(app)
    dry = cli("import", "commento", str(comentario_file), "--site", "blog", "--dry-run")
    assert "would import 0" in dry.output
    again = cli("import", "commento", str(comentario_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 8 were there already" in again.output


def test_a_comentario_export_under_a_url_map(app, cli, comentario_file):
    add_site(app, url="https://new.example.org")
    result = cli(
        "import",
        "commento",
        str(comentario_file),
        "--site",
        "blog",
        "--dry-run",
        "--url-map",
        "/posts/=/blog/",
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("would import 8 into 2 page(s)")
    assert counts(app, Comment.kind) == {}
    mapped = cli(
        "import", "commento", str(comentario_file), "--site", "blog", "--url-map", "/posts/=/blog/"
    )
    assert mapped.exit_code == 0, mapped.output
    with app.app_context():
        assert set(db.session.scalars(select(Thread.uri))) == {"/blog/a/", "/blog/b/"}


def test_an_oversized_file_is_refused_before_parsing(tmp_path):
    from commentsvc.errors import ValidationError
    from commentsvc.importers import commento

    path = tmp_path / "big.json"
    path.write_bytes(b" " * 2048)
    with pytest.raises(ValidationError, match="larger than"):
        commento.parse(path, max_bytes=1024)


# --- any JSON in the peers' fields: imported or reported, never a traceback -----------------

COMMENTO_KEYS = ("domain", "commenterHex", "markdown", "html", "parentHex", "score", "state")
COMMENTO_KEYS += ("deleted", "name", "email", "link", "isModerator")
REMARK_KEYS = ("pid", "text", "orig", "user", "score", "edit", "delete")


COMENTARIO_KEYS = ("parentId", "markdown", "html", "score", "isApproved", "isPending")
COMENTARIO_KEYS += ("isDeleted", "userCreated", "authorName", "editedTime", "url")


@settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.sampled_from(["a1", "a2", "a3"]) | JSON_VALUES,
                "pageId": st.just("p") | JSON_VALUES,
                "createdTime": VALID_TIME,
            },
            optional=dict.fromkeys(COMENTARIO_KEYS, JSON_VALUES | st.just("http://[")),
        )
        | JSON_VALUES,
        max_size=4,
    ),
    st.lists(st.just({"id": "p", "path": "/p/"}) | JSON_VALUES, max_size=2),
    st.lists(st.dictionaries(st.sampled_from(["id", "name", "email"]), JSON_VALUES), max_size=2),
)
def test_comentario_files_with_any_values_import_or_report(
    app, tmp_path, comments_, pages, commenters
):
    from datetime import datetime

    from commentsvc import importers
    from commentsvc.importers import commento as commento_format
    from commentsvc.sites import add_site as add

    with app.app_context():
        site = importers.select(importers.Site).where(importers.Site.name == "fuzz")
        site = db.session.scalar(site) or add("fuzz", "https://fuzz.example.org")
        path = tmp_path / "fuzz-comentario.json"
        data = {"version": 3, "pages": pages, "comments": comments_, "commenters": commenters}
        path.write_text(json.dumps(data))
        records, _problems = commento_format.parse(path)
        importers.import_records(
            site, records, secret="s", now=datetime(2026, 1, 1), merge=True, dry_run=True
        )


def test_a_commenters_website_is_read_as_commento_writes_it():
    from commentsvc.importers.commento import _website

    assert _website({"link": "https://mo.example.org"}) == "https://mo.example.org"
    assert _website({"link": "undefined"}) == ""  # Commento's word for "none"
    assert _website({"websiteUrl": "https://mo.example.org"}) == "https://mo.example.org"
    assert _website({"link": 7}) == ""
