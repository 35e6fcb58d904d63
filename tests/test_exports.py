"""The service's own export: lossless and versioned. A database filled through the real paths
(API posts, likes, moderation, bans, an import, linkbacks) is exported, emptied, restored from the
export, and exported again: the same bytes, on SQLite and on PostgreSQL."""

import json
from datetime import datetime

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select

from commentsvc import fediverse
from commentsvc import moderation
from commentsvc import sites
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from commentsvc.models import Mention
from commentsvc.models import SentLink
from commentsvc.models import Site
from commentsvc.models import Thread
from tests.conftest import add_site
from tests.importers.imports import WXR
from tests.importers.imports import needs_shared_export

NOW = datetime(2026, 11, 1, 12, 0, 0, 123456)
COMMENTO = {
    "version": 1,
    "comments": [
        {
            "commentHex": "a1",
            "url": "/imported/",
            "commenterHex": "anonymous",
            "markdown": "From *Commento*",
            "parentHex": "root",
            "score": 2,
            "state": "approved",
            "creationDate": "2021-03-17T12:09:47.722181Z",
        }
    ],
}


def post(client, **body):
    answer = client.post("/api/comments", json={"site": "blog", "uri": "/post/1", **body})
    assert answer.status_code in (201, 202), answer.get_json()
    return answer.get_json()["id"]


def fill(app, client, cli, tmp_path):
    """Put one of everything an export carries into the database, the way the service does."""
    add_site(
        app,
        url="https://blog.example.org",
        owner_email="owner@example.org",
        moderation_words="casino",
        link_limit=3,
        fediverse_accounts="@me@social.example",
    )
    add_site(app, "other", url="https://other.example.net")
    first = post(
        client,
        text="First **one**",
        author="Ann",
        email="ann@example.org",
        website="https://ann.example.org",
        notify=True,
    )
    reply = post(client, text="A reply", author="Bob", parent=first)
    post(client, text="Deeper", author="Cy", parent=reply)
    spam = post(client, text="Buy now", author="Spammer", uri="/post/2")
    doomed = post(client, text="Regretted", author="Di", uri="/post/2")
    held = post(client, text="Visit the casino", author="Ed", uri="/post/2")
    post(client, site="other", uri="/", text="On the other site")
    for visitor in ("visitor-aaaaaaaaaaaaaaaa", "visitor-bbbbbbbbbbbbbbbb"):
        liked = client.post(f"/api/comments/{first}/like", json={"visitor": visitor})
        assert liked.status_code == 200, liked.get_json()
        page = {"site": "blog", "uri": "/post/1", "visitor": visitor}
        assert client.post("/api/likes", json=page).status_code == 200
    with app.app_context():
        moderation.act([spam], "spam", actor="admin", now=NOW)
        moderation.act([doomed], "delete", actor="admin", now=NOW)
        moderation.add_ban("email", "bad@example.org", site="blog", actor="admin", now=NOW)
        moderation.add_ban("domain", "spam.example", actor="admin", now=NOW)
        blog = sites.get_site("blog")
        fediverse.link_post(blog, "/post/1", "https://social.example/@me/42", by="owner", now=NOW)
        with write_transaction() as session:
            thread = session.scalar(select(Thread).where(Thread.uri == "/post/1"))
            mention = Comment(
                thread_id=thread.id,
                kind="webmention",
                status="approved",
                source_url="https://elsewhere.example.com/a",
                source_title="They wrote",
                excerpt="about this post",
                html="<p>about this post</p>",
                mention_type="mention",
                created=NOW,
            )
            session.add(mention)
            session.flush()
            session.add(
                Mention(
                    key="k" * 32,
                    source="https://elsewhere.example.com/a",
                    target="https://blog.example.org/post/1",
                    status="verified",
                    reason="links to the target",
                    comment_id=mention.id,
                    created=NOW,
                    updated=NOW,
                )
            )
            session.add(
                Mention(
                    key="r" * 32,
                    source="https://elsewhere.example.com/b",
                    target="https://blog.example.org/post/2",
                    status="rejected",
                    reason="no link to the target",
                    created=NOW,
                    updated=NOW,
                )
            )
            session.add(
                SentLink(
                    source="https://blog.example.org/post/1",
                    target="https://elsewhere.example.com/",
                    protocol="webmention",
                    result="201",
                    ok=True,
                    sent=NOW,
                )
            )
    source = tmp_path / "commento.json"
    source.write_text(json.dumps(COMMENTO))
    assert cli("import", "commento", str(source), "--site", "blog").exit_code == 0
    return {"first": first, "held": held}


def empty(app):
    with app.app_context(), write_transaction() as session:
        for table in reversed(db.metadata.sorted_tables):
            session.execute(delete(table))


def export(cli, *args):
    result = cli("export", *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_the_export_carries_everything(app, client, cli, tmp_path):
    ids = fill(app, client, cli, tmp_path)
    data = json.loads(export(cli, "--site", "blog"))
    assert data["format"] == "commentsvc-export" and data["version"] == 2
    (site,) = data["sites"]
    assert site["owner_email"] == "owner@example.org" and site["moderation_words"] == "casino"
    assert site["origins"] == ["https://blog.example.org"]
    assert [(b["kind"], b["value"]) for b in site["bans"]] == [("email", "bad@example.org")]
    threads = {t["uri"]: t for t in site["threads"]}
    assert set(threads) == {"/post/1", "/post/2", "/imported/"}
    assert threads["/post/1"]["likes"] == 2 and len(threads["/post/1"]["page_likes"]) == 2
    by_author = {c["author"]: c for t in site["threads"] for c in t["comments"]}
    first = by_author["Ann"]
    assert first["id"] == ids["first"] and first["email"] == "ann@example.org"
    assert first["notify"] is True and first["likes"] == 2 and len(first["liked_by"]) == 2
    assert by_author["Cy"]["root_id"] == first["id"]
    assert by_author["Spammer"]["status"] == "spam" and by_author["Ed"]["status"] == "pending"
    deleted = next(c for t in site["threads"] for c in t["comments"] if c["status"] == "deleted")
    assert deleted["author"] == "" and deleted["deleted_copy"]["text"] == "Regretted"
    assert by_author["Anonymous"]["imported_from"] == "commento"
    assert {(m["status"], m["comment_id"] is None) for m in site["mentions"]} == {
        ("verified", False),
        ("rejected", True),
    }
    assert [s["target"] for s in site["sent_links"]] == ["https://elsewhere.example.com/"]
    (linked,) = threads["/post/1"]["fediverse_posts"]
    assert linked["url"] == "https://social.example/@me/42" and linked["linked_by"] == "owner"
    assert {e["action"] for e in site["events"]} >= {"approved", "pending", "spam", "deleted"}
    assert all(c["created"].endswith("Z") for c in by_author.values())
    everything = json.loads(export(cli, "--all"))
    assert [s["name"] for s in everything["sites"]] == ["blog", "other"]
    assert [(b["kind"], b["value"]) for b in everything["bans"]] == [("domain", "spam.example")]
    assert {e["action"] for e in everything["events"]} >= {"ban", "import"}
    assert cli("export").exit_code == 2 and cli("export", "--all", "--site", "blog").exit_code == 2


def test_export_restore_export_is_byte_identical(app, client, cli, tmp_path):
    ids = fill(app, client, cli, tmp_path)
    whole, one = export(cli, "--all"), export(cli, "--site", "blog")
    (tmp_path / "all.json").write_text(whole, encoding="utf-8")
    (tmp_path / "blog.json").write_text(one, encoding="utf-8")

    empty(app)
    dry = cli("import", "commentsvc", str(tmp_path / "all.json"), "--dry-run")
    assert dry.exit_code == 0 and "nothing was written" in dry.output, dry.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Site)) == 0
    restored = cli("import", "commentsvc", str(tmp_path / "all.json"))
    assert restored.exit_code == 0, restored.output
    assert restored.output.startswith("imported 9 into 4 page(s)")
    assert export(cli, "--all") == whole
    assert export(cli, "--site", "blog") == one
    again = cli("import", "commentsvc", str(tmp_path / "all.json"))
    assert "imported 0 into 0 page(s): nothing new; 9 were there already" in again.output
    assert export(cli, "--all") == whole

    empty(app)
    result = cli("import", "commentsvc", str(tmp_path / "blog.json"), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert export(cli, "--site", "blog") == one
    # Comments kept their ids, and new ones get new ids after them (PostgreSQL's sequence too).
    new = post(client, text="After the restore")
    assert new > ids["held"]
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": "/post/1"})
    assert ids["first"] in [c["id"] for c in thread.get_json()["comments"]]


def test_a_restore_into_a_database_with_comments_renumbers_and_keeps_threads(
    app, client, cli, tmp_path
):
    fill(app, client, cli, tmp_path)
    (tmp_path / "blog.json").write_text(export(cli, "--site", "blog"), encoding="utf-8")
    add_site(app, "copy", url="https://copy.example.org")
    result = cli("import", "commentsvc", str(tmp_path / "blog.json"), "--site", "copy")
    assert result.exit_code == 0, result.output
    assert "warning: site copy: exists already: its own settings are kept" in result.output
    assert result.output.splitlines()[-1].startswith("imported 8 into 3 page(s)")
    copy = json.loads(export(cli, "--site", "copy"))["sites"][0]
    replies = [c for t in copy["threads"] for c in t["comments"] if c["author"] == "Bob"]
    (bob,) = replies
    parents = {c["id"]: c["author"] for t in copy["threads"] for c in t["comments"]}
    assert parents[bob["parent_id"]] == "Ann"
    # The copy keeps its own settings; the file's site settings apply to new sites only.
    assert copy["url"] == "https://copy.example.org"


@pytest.mark.parametrize(
    "body, message",
    [
        ({"format": "commentsvc-export", "version": 9}, "of version 9"),
        ({"format": "commentsvc-export", "version": 2, "sites": "x"}, "no list of sites"),
    ],
)
def test_unreadable_exports_are_refused(app, cli, tmp_path, body, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(body))
    result = cli("import", "commentsvc", str(path))
    assert result.exit_code == 1 and message in result.output


def test_bad_records_in_an_export_are_reported_and_skipped(app, cli, tmp_path):
    add_site(app)
    good = {
        "id": 7,
        "parent_id": None,
        "root_id": None,
        "kind": "comment",
        "status": "approved",
        "author": "Ok\u0000",
        "text": "fine",
        "html": '<p>fine<script>alert(1)</script><a href="javascript:x">x</a></p>',
        "created": "2020-01-01T00:00:00.000000Z",
    }
    data = {
        "format": "commentsvc-export",
        "version": 2,
        "sites": [
            {
                "name": "blog",
                "threads": [
                    {
                        "uri": "/p/",
                        "created": "2020-01-01T00:00:00.000000Z",
                        "comments": [
                            good,
                            {**good, "id": "eight"},
                            {**good, "id": 9, "created": "yesterday"},
                            {**good, "id": 10, "likes": True},
                            {**good, "id": 7},
                            {**good, "id": 11, "parent_id": 404, "text": "orphan"},
                            {**good, "id": 12, "website": "javascript:alert(1)"},
                            {**good, "id": 13, "status": "published"},
                            {**good, "id": 14, "created": "2020-01-01T00:00:00+05:00Z"},
                            {**good, "id": 2**40},
                            {**good, "id": 15, "parent_id": [7], "root_id": {}, "text": "odd"},
                        ],
                        "fediverse_posts": [
                            {"url": "https://social.example/@me/1", "created": good["created"]},
                            {"url": "https://social.example/@me/2", "state": "lost"},
                        ],
                    },
                    {"title": "no uri"},
                ],
            }
        ],
    }
    path = tmp_path / "blog.json"
    path.write_text(json.dumps(data))
    result = cli("import", "commentsvc", str(path), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert "comment 2: its id is not a number from 1 to 2147483647: skipped" in result.output
    assert "comment 10: its id is not a number from 1" in result.output
    assert "comment 3: created is not a time: skipped" in result.output
    assert "comment 4: likes is not a number: skipped" in result.output
    assert "comment 5: id 7 appears twice: skipped" in result.output
    assert "thread 2: uri is missing: skipped" in result.output
    assert "comment 11: its parent is not in the export: top-level" in result.output
    assert "comment 7: website is not an http(s) URL: skipped" in result.output
    assert "comment 8: status 'published' is not one of pending" in result.output
    assert "comment 9: created is not a time: skipped" in result.output
    # The site names no fediverse accounts: no post of it is linked.
    assert "fediverse post 1: The site names no fediverse accounts" in result.output
    assert "fediverse post 2: state 'lost' is not one of pending" in result.output
    with app.app_context():
        stored = db.session.scalars(select(Comment).order_by(Comment.id)).all()
        assert [c.text for c in stored] == ["fine", "orphan", "odd"]
        assert stored[0].author == "Ok" and "<script>" not in stored[0].html
        assert "javascript" not in stored[0].html


def test_the_admin_page_offers_the_same_download(app, client, cli, tmp_path):
    from commentsvc.admins import add_admin
    from tests.test_admin import AdminActions

    fill(app, client, cli, tmp_path)
    with app.app_context():
        add_admin("alice", "a long enough password")
    anonymous = app.test_client().get("/admin/export?site=blog")
    assert anonymous.status_code == 302 and "/admin/login" in anonymous.headers["Location"]
    alice = AdminActions(app.test_client())
    assert alice.login(password="a long enough password").status_code == 302
    page = alice.page("/admin/sites")
    assert 'href="/admin/export?site=blog"' in page and 'href="/admin/export"' in page
    one = alice.client.get("/admin/export?site=blog")
    assert one.status_code == 200 and one.headers["Cache-Control"] == "no-store"
    assert one.headers["Content-Disposition"].startswith('attachment; filename="commentsvc-blog-')
    assert one.get_data(as_text=True) + "\n" == export(cli, "--site", "blog")
    everything = alice.client.get("/admin/export")
    assert everything.get_data(as_text=True) + "\n" == export(cli, "--all")
    assert alice.client.get("/admin/export?site=nosuch").status_code == 404


def test_a_version_1_export_is_still_read(app, cli, tmp_path):
    comment = {
        "id": 3,
        "parent_id": None,
        "kind": "comment",
        "status": "approved",
        "reason": "",
        "author": "Ann",
        "email": "ann@example.org",
        "website": "",
        "text": "Old *one*",
        "html": "<p>Old <em>one</em></p>",
        "likes": 1,
        "notify": False,
        "by_owner": False,
        "source_url": None,
        "source_title": "",
        "excerpt": "",
        "author_photo": "",
        "mention_type": "",
        "created": "2024-05-01T10:00:00Z",
        "modified": None,
    }
    old = {
        "format": "commentsvc-export",
        "version": 1,
        "site": {
            "name": "old",
            "url": "https://old.example.org",
            "origins": ["https://old.example.org"],
            "moderation": "links",
            "link_limit": 2,
            "edit_window": 900,
            "linkbacks": True,
        },
        "threads": [
            {
                "uri": "/p/",
                "title": "P",
                "likes": 0,
                "comments": [comment, {**comment, "id": 4, "parent_id": 3, "text": "Reply"}],
            }
        ],
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    result = cli("import", "commentsvc", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("imported 2 into 1 page(s)")
    site = json.loads(export(cli, "--site", "old"))["sites"][0]
    assert site["moderation"] == "links" and site["origins"] == ["https://old.example.org"]
    first, reply = site["threads"][0]["comments"]
    assert reply["parent_id"] == first["id"] and reply["root_id"] == first["id"]
    assert first["created"] == "2024-05-01T10:00:00.000000Z"


# --- hostile files never stop the command with a traceback --------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(value, path=()):
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _replace(value, path, new):
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    copy[path[0]] = _replace(value[path[0]], path[1:], new)
    return copy


def test_an_export_with_any_field_replaced_is_restored_or_refused_in_words(
    app, client, cli, tmp_path
):
    from commentsvc.errors import ValidationError
    from commentsvc.exports import check_export
    from commentsvc.exports import restore

    fill(app, client, cli, tmp_path)
    base = json.loads(export(cli, "--all"))
    paths = list(_paths(base))
    empty(app)

    @settings(
        max_examples=60,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(st.sampled_from(paths), JSON_VALUES)
    def check(path, value):
        data = _replace(base, path, value)
        with app.app_context():
            try:
                report = restore(check_export(data), site_name=None, dry_run=True)
            except ValidationError:
                return
            assert report.dry_run

    check()


def test_a_signed_in_authors_identity_survives_the_round_trip(app, client, cli, tmp_path):
    from commentsvc.models import Identity

    add_site(app, url="https://blog.example.org")
    signed = post(client, text="Signed in", author="Ann")
    post(client, text="Anonymous", author="Bob")
    with app.app_context(), write_transaction() as session:
        identity = Identity(
            provider="oidc", subject="sub-1", name="Ann A.", url="https://ann.example.org/"
        )
        session.add(identity)
        session.flush()
        session.get(Comment, signed).identity_id = identity.id
    one = export(cli, "--site", "blog")
    (tmp_path / "blog.json").write_text(one, encoding="utf-8")
    [ann, bob] = json.loads(one)["sites"][0]["threads"][0]["comments"]
    assert ann["identity"] == {
        "provider": "oidc",
        "subject": "sub-1",
        "name": "Ann A.",
        "url": "https://ann.example.org/",
        "photo_url": "",
    }
    assert bob["identity"] is None and "identity_id" not in ann

    empty(app)
    result = cli("import", "commentsvc", str(tmp_path / "blog.json"))
    assert result.exit_code == 0, result.output
    assert export(cli, "--site", "blog") == one
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": "/post/1"})
    shown = {c["author"]: c.get("identity") for c in thread.get_json()["comments"]}
    assert shown["Ann"]["provider"] == "oidc" and shown["Ann"]["name"] == "Ann A."
    assert shown["Bob"] is None


@needs_shared_export
def test_export_writes_every_comment_as_json(app, cli):
    add_site(app, url="https://wpthemetestdata.wordpress.com")
    cli("import", "wordpress", str(WXR), "--site", "blog")
    result = cli("export", "--site", "blog")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["format"] == "commentsvc-export" and data["version"] == 2
    assert [s["name"] for s in data["sites"]] == ["blog"]
    exported = [c for t in data["sites"][0]["threads"] for c in t["comments"]]
    assert len(exported) == 33
    assert {c["kind"] for c in exported} == {"comment", "pingback", "trackback"}
    assert {c["imported_from"] for c in exported} == {"wordpress"}
    assert all(c["created"].endswith("Z") for c in exported)
    assert cli("export", "--site", "nosuch").exit_code == 1
