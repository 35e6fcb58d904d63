"""The read path: thread versions, ETags and 304s, paging in the database, the answer cache."""

import random
from datetime import timedelta

import pytest
import requests
from sqlalchemy import event
from sqlalchemy import insert
from sqlalchemy import select

from commentsvc import api as api_module
from commentsvc import comments
from commentsvc import moderation
from commentsvc import sites
from commentsvc import spam
from commentsvc.answers import Answers
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Comment
from commentsvc.models import Thread
from commentsvc.models import utcnow
from tests.conftest import REDIS_URL

GUARD = spam.Guard(limiter=None, enabled=False, secret="test-secret-key")


class Queries:
    """Count the SQL statements the app's engine runs (transaction control left out)."""

    def __init__(self, engine):
        self.statements = []
        event.listen(engine, "before_cursor_execute", self._seen)
        self.engine = engine

    def _seen(self, _conn, _cursor, statement, *_args):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements.append(statement)

    def count(self, action) -> int:
        self.statements.clear()
        action()
        return len(self.statements)

    def close(self):
        event.remove(self.engine, "before_cursor_execute", self._seen)


@pytest.fixture
def queries(app):
    with app.app_context():
        counter = Queries(db.engine)
    yield counter
    counter.close()


def version_of(app, uri="/post/1"):
    with app.app_context():
        return db.session.scalar(select(Thread.version).where(Thread.uri == uri))


def post(app, text, parent=None, uri="/post/1", now=None):
    with app.app_context():
        comment, _token = comments.post_comment(
            sites.get_site("blog"),
            uri,
            comments.CommentInput(text=text, parent=parent, author=text[:20]),
            address=f"addr-{text}",
            now=now or utcnow(),
            guard=GUARD,
        )
        return comment.id


def linkback(app, uri="/post/1", n=1, mention_type="", kind="webmention", now=None):
    with app.app_context(), write_transaction() as session:
        thread = comments.get_or_create_thread(sites.get_site("blog"), uri, now=utcnow())
        comment = Comment(
            thread_id=thread.id,
            kind=kind,
            status="approved",
            author=f"Blogger {n}",
            source_url=f"https://other.example/{n}",
            source_title=f"Their post {n}",
            excerpt="an excerpt",
            html="<p>an excerpt</p>",
            mention_type=mention_type,
            created=now or utcnow(),
        )
        session.add(comment)
        session.flush()
        comments.touch_thread(session, thread.id)
        return comment.id


def set_status(app, comment_id, status):
    with app.app_context(), write_transaction() as session:
        comments.set_status(
            session.get(Comment, comment_id), status, actor="test", reason="", now=utcnow()
        )


# --- the version ---------------------------------------------------------------------------------


def test_every_write_a_read_could_show_bumps_the_thread_version(app, api, client):
    created = api.post(expect=201, text="First.").get_json()
    steps = []

    def bumped(label):
        steps.append((label, version_of(app)))

    bumped("post")
    token = created["edit_token"]
    edited = client.patch(
        f"/api/comments/{created['id']}", json={"text": "Edited."}, headers={"X-Edit-Token": token}
    )
    token = edited.get_json()["edit_token"]
    bumped("edit")
    client.post(f"/api/comments/{created['id']}/like", json={"visitor": "v" * 20})
    bumped("like")
    client.post(f"/api/comments/{created['id']}/like", json={"visitor": "v" * 20, "like": False})
    bumped("unlike")
    client.post("/api/likes", json={"site": "blog", "uri": "/post/1", "visitor": "w" * 20})
    bumped("page like")
    second = api.post(expect=201, text="Second.").get_json()
    bumped("post again")
    with app.app_context():
        moderation.act([second["id"]], "spam", actor="admin", now=utcnow())
    bumped("spam")
    with app.app_context():
        moderation.act([second["id"]], "approve", actor="admin", now=utcnow())
    bumped("approve")
    with app.app_context():
        moderation.edit(second["id"], "Owner edit.", actor="admin", now=utcnow(), max_length=100)
    bumped("owner edit")
    with app.app_context():
        moderation.reply_as_owner(
            second["id"], "Owner reply.", author="Owner", actor="admin", now=utcnow(), max_length=99
        )
    bumped("owner reply")
    deleted = client.delete(f"/api/comments/{created['id']}", headers={"X-Edit-Token": token})
    assert deleted.status_code == 204
    bumped("delete")
    versions = [v for _label, v in steps]
    assert versions == sorted(set(versions)), steps


def test_linkbacks_stored_and_removed_bump_the_version(app, api):
    from commentsvc.linkbacks import receive
    from commentsvc.linkbacks.verify import Found

    api.post(expect=201, text="First.")
    before = version_of(app)
    with app.app_context():
        site = sites.get_site("blog")
        target = receive.Target(site, "/post/1", comments.get_thread(site, "/post/1"))
        ctx = receive.Context(fetcher=None, guard=GUARD, now=utcnow())
        found = Found(title="Theirs", excerpt="words")
        receive.store(target, "https://other.example/a", found, kind="webmention", ctx=ctx)
        stored = db.session.scalar(select(Thread.version))
        receive.remove(target, "https://other.example/a", "gone", utcnow())
    assert before < stored < version_of(app)


def test_changing_a_site_changes_every_etag_of_it(app, api, client):
    api.post(expect=201, text="First.")
    etag = client.get("/api/comments?site=blog&uri=/post/1").headers["ETag"]
    with app.app_context():
        sites.update_site("blog", gravatar=True)
    assert client.get("/api/comments?site=blog&uri=/post/1").headers["ETag"] != etag


def test_an_import_bumps_the_version(app, api):
    from commentsvc.importers import Record
    from commentsvc.importers import import_records

    api.post(expect=201, text="First.")
    before = version_of(app)
    record = Record(
        key="1",
        uri="/post/1",
        title="",
        kind="comment",
        status="approved",
        author="Old",
        email="",
        website="",
        address="",
        created=utcnow() - timedelta(days=300),
        body="An old comment.",
    )
    with app.app_context():
        import_records(sites.get_site("blog"), [record], secret="x", now=utcnow())
    assert version_of(app) > before


# --- ETag and 304 -------------------------------------------------------------------------------


def test_a_matching_etag_is_answered_304_after_one_query(app, api, client, queries):
    for n in range(30):
        api.post(expect=201, text=f"Comment {n}.")
    first = client.get("/api/comments?site=blog&uri=/post/1")
    etag = first.headers["ETag"]
    headers = {"If-None-Match": etag}
    answers = []
    assert (
        queries.count(
            lambda: answers.append(
                client.get("/api/comments?site=blog&uri=/post/1", headers=headers)
            )
        )
        == 1
    )
    assert answers[0].status_code == 304
    assert answers[0].headers["ETag"] == etag
    assert answers[0].headers["X-Form-Token"]
    assert answers[0].headers["Cache-Control"] == "no-cache"
    api.post(expect=201, text="One more.")
    after = client.get("/api/comments?site=blog&uri=/post/1", headers=headers)
    assert after.status_code == 200 and after.headers["ETag"] != etag


@pytest.mark.parametrize(
    ("url", "view_name"),
    [
        ("/api/comments?site=blog&uri=/post/1", "api.get_comments"),
        (
            "/api/counts?site=blog&" + "&".join(f"uri=/post/{n}" for n in range(60)),
            "api.get_counts",
        ),
    ],
)
def test_the_early_answers_are_the_ones_flask_gives(app, api, client, cli, url, view_name):
    for n in range(30):  # past the size below which answers are not gzipped
        api.post(expect=201, text=f"Comment {n}, long enough to be worth compressing.")
    moment = utcnow()
    app.extensions["clock"] = lambda: moment
    views = []
    view = app.view_functions[view_name]
    app.view_functions[view_name] = lambda: views.append(1) or view()
    origins = ({}, {"Origin": "https://blog.example.org"}, {"Origin": "https://evil.example"})
    encodings = set()
    for max_age in ("0", "30"):
        assert cli("site", "set", "blog", "--cache-max-age", max_age).exit_code == 0
        for headers in ({}, {"Accept-Encoding": "gzip"}, *origins):
            etag = client.get(url, headers=headers).headers["ETag"]  # the answer is kept now
            for asked in (headers, {**headers, "If-None-Match": etag}):
                views.clear()
                early = client.get(url, headers=asked)
                assert views == [], "answered by Flask, not ahead of it"
                middleware = app.wsgi_app
                app.wsgi_app = middleware.wsgi_app
                try:
                    late = client.get(url, headers=asked)
                finally:
                    app.wsgi_app = middleware
                assert views == [1]
                assert early.status_code == late.status_code == (304 if etag in str(asked) else 200)
                assert sorted(early.headers.items()) == sorted(late.headers.items()), asked
                assert early.get_data() == late.get_data()
                encodings.add(early.headers.get("Content-Encoding"))
    assert "gzip" in encodings, "no gzipped answer was compared"


@pytest.mark.parametrize("accepted", ["deflate", "gzip;q=0", "gzip;q=0, deflate"])
def test_an_answer_the_client_takes_otherwise_encoded_is_the_one_flask_gives(
    app, api, client, accepted
):
    # Not gzip, but an Accept-Encoding all the same: Flask's compression may encode it.
    for n in range(30):
        api.post(expect=201, text=f"Comment {n}, long enough to be worth compressing.")
    url = "/api/comments?site=blog&uri=/post/1"
    client.get(url)  # the answer is kept now
    headers = {"Accept-Encoding": accepted}
    early = client.get(url, headers=headers)
    middleware = app.wsgi_app
    app.wsgi_app = middleware.wsgi_app
    try:
        late = client.get(url, headers=headers)
    finally:
        app.wsgi_app = middleware
    assert early.status_code == late.status_code == 200
    assert sorted(early.headers.items()) == sorted(late.headers.items())
    assert early.get_data() == late.get_data()


def test_a_read_that_links_fediverse_posts_goes_through_flask_until_they_are_linked(
    app, api, client
):
    from commentsvc.models import FediversePost
    from tests.conftest import ORIGIN

    with app.app_context():
        sites.update_site("blog", fediverse_accounts="@me@social.example")
    api.post(expect=201, text="First.")
    url = "/api/comments?site=blog&uri=/post/1&fediverse=https://social.example/@me/1"
    views = []
    view = app.view_functions["api.get_comments"]
    app.view_functions["api.get_comments"] = lambda: views.append(1) or view()

    def linked():
        with app.app_context():
            return db.session.scalars(select(FediversePost.url)).all()

    # A page of another origin links nothing, and does not stop the site's own page linking.
    for _ in range(2):
        assert client.get(url, headers={"Origin": "https://evil.example"}).status_code == 200
    assert views == [1, 1] and linked() == []
    # The site's own page: the view links the post (a 304 too: a page's markup hands the
    # widget its ETag, and the post was never linked)...
    etag = {"If-None-Match": client.get("/api/comments?site=blog&uri=/post/1").headers["ETag"]}
    own = {"Origin": ORIGIN}
    assert client.get(url, headers={**own, **etag}).status_code == 304
    assert views == [1, 1, 1] and linked() == ["https://social.example/@me/1"]
    # ...and the next reads naming it are answered before Flask, from any page.
    assert client.get(url, headers={**own, **etag}).status_code == 304
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200
    assert views == [1, 1, 1]  # the answer was kept from the read without data-fediverse
    # Another post named: the view again.
    assert (
        client.get(url + "&fediverse=https://social.example/@me/2", headers=own).status_code == 200
    )
    assert len(views) == 4 and len(linked()) == 2


def test_a_conditional_read_that_does_not_match_costs_one_lookup(app, api, client, queries):
    api.post(expect=201, text="First.")
    url = "/api/comments?site=blog&uri=/post/1"
    etag = client.get(url).headers["ETag"]
    api.post(expect=201, text="Second.")
    answers = []
    cost = queries.count(lambda: answers.append(client.get(url, headers={"If-None-Match": etag})))
    assert answers[0].status_code == 200 and len(answers[0].get_json()["comments"]) == 2
    warm = queries.count(lambda: client.get(url, headers={"If-None-Match": etag}))
    assert warm == 1, (cost, warm)
    bad = client.get("/api/comments?site=blog&uri=/post/1&limit=0", headers={"If-None-Match": etag})
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "limit"


def test_a_query_string_is_parsed_once_and_a_bounded_number_are_kept(app, api, client, monkeypatch):
    parsed = []
    real = api_module.shapes.parse
    monkeypatch.setattr(
        api_module.shapes, "parse", lambda shape, data: parsed.append(shape) or real(shape, data)
    )
    monkeypatch.setattr(api_module, "_KEPT_QUERIES", 3)
    api_module._parsed_queries.clear()
    for uri in ["/post/1", "/post/2", "/post/3"]:
        for _ in range(3):
            assert client.get(f"/api/comments?site=blog&uri={uri}").status_code == 200
    assert len(parsed) == 3  # once per query string, whatever the reads of it
    counts = "/api/counts?site=blog&uri=/post/1&uri=/post/2"
    assert client.get(counts).status_code == 200 and client.get(counts).status_code == 200
    assert len(parsed) == 4 and len(api_module._parsed_queries) == 1  # full: let go, then kept
    for _ in range(2):  # a refusal is not kept: it is refused each time, naming the field
        bad = client.get("/api/comments?site=blog&uri=/post/1&limit=0")
        assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "limit"
    # Parsed ahead of Flask, then again by the view, which answers the refusal.
    assert len(parsed) == 8 and len(api_module._parsed_queries) == 1
    long_uri = "/" + "a" * api_module._KEPT_QUERY_BYTES  # answered, parsed each time, not kept
    assert client.get(f"/api/comments?site=blog&uri={long_uri}").status_code == 200
    assert len(api_module._parsed_queries) == 1


def test_the_etag_depends_on_the_page_asked_for(api, client):
    for n in range(3):
        api.post(expect=201, text=f"Comment {n}.")
    tags = {
        client.get("/api/comments", query_string={"site": "blog", "uri": "/post/1", **q}).headers[
            "ETag"
        ]
        for q in ({}, {"sort": "newest"}, {"sort": "top"}, {"limit": "1"})
    }
    assert len(tags) == 4


def test_a_gzip_answer_is_the_same_json(api, client):
    for n in range(20):
        api.post(expect=201, text=f"Comment number {n}, long enough to be worth packing.")
    plain = client.get("/api/comments?site=blog&uri=/post/1")
    packed = client.get("/api/comments?site=blog&uri=/post/1", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    import gzip

    assert gzip.decompress(packed.get_data()) == plain.get_data()
    again = client.get(
        "/api/comments?site=blog&uri=/post/1",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304


def test_a_site_may_let_a_cdn_keep_answers_briefly(app, api, client, cli):
    api.post(expect=201, text="First.")
    assert client.get("/api/comments?site=blog&uri=/post/1").headers["Cache-Control"] == (
        "no-cache"
    )
    result = cli("site", "set", "blog", "--cache-max-age", "30")
    assert result.exit_code == 0, result.output
    for url in ("/api/comments?site=blog&uri=/post/1", "/api/counts?site=blog&uri=/post/1"):
        assert client.get(url).headers["Cache-Control"] == "public, max-age=30"


def test_cors_on_a_cached_answer_costs_no_query(app, api, client, queries):
    api.post(expect=201, text="First.")
    origin = {"Origin": "https://blog.example.org"}
    client.get("/api/comments?site=blog&uri=/post/1", headers=origin)
    answers = []
    assert (
        queries.count(
            lambda: answers.append(
                client.get("/api/comments?site=blog&uri=/post/1", headers=origin)
            )
        )
        == 1
    )
    assert answers[0].headers["Access-Control-Allow-Origin"] == "https://blog.example.org"
    stranger = client.get(
        "/api/comments?site=blog&uri=/post/1", headers={"Origin": "https://evil.example"}
    )
    assert "Access-Control-Allow-Origin" not in stranger.headers


# --- paging in the database ---------------------------------------------------------------------


def reference_page(site, uri, sort, limit, cursor):
    """The thread page as the first version read it: every row, the tree built in Python."""
    after = comments._decode_cursor(cursor, sort) if cursor else None
    thread = comments.get_thread(site, uri)
    if thread is None:
        return comments.ThreadPage(None, comments.Counts(), [], None)
    rows = db.session.scalars(
        select(Comment)
        .where(Comment.thread_id == thread.id, Comment.status.in_(("approved", "deleted")))
        .order_by(Comment.created, Comment.id)
    ).all()
    roots = comments._build_tree(rows)
    counts = comments._count(roots)
    roots.sort(key=lambda node: comments._sort_key(node.comment, sort))
    if after is not None:
        roots = [n for n in roots if comments._sort_key(n.comment, sort) > after]
    page = roots[:limit]
    more = len(roots) > limit
    next_cursor = (
        comments._encode_cursor(sort, comments._sort_key(page[-1].comment, sort)) if more else None
    )
    return comments.ThreadPage(thread, counts, page, next_cursor, thread.likes + counts.likes)


def random_thread(app, seed, size=60):
    """Build a thread with replies at any depth, ties in time and likes, held parents,
    deleted placeholders, linkbacks (with replies) and Webmention likes."""
    rng = random.Random(seed)
    start = utcnow().replace(microsecond=0) - timedelta(days=2)
    ids = []
    for n in range(size):
        moment = start + timedelta(
            seconds=rng.choice([n, n, n - 1]), microseconds=rng.choice([0, 0, 7])
        )
        if rng.random() < 0.1:
            ids.append(
                linkback(app, n=n, mention_type=rng.choice(["", "like", "reply"]), now=moment)
            )
            continue
        parent = rng.choice(ids) if ids and rng.random() < 0.6 else None
        with app.app_context():
            published = parent is None or db.session.get(Comment, parent).status == "approved"
        ids.append(post(app, f"Comment {n} of {seed}.", parent if published else None, now=moment))
    for comment_id in rng.sample(ids, size // 5):
        set_status(app, comment_id, rng.choice(["pending", "spam", "deleted", "deleted"]))
    with app.app_context(), write_transaction() as session:
        for comment_id in rng.sample(ids, size // 4):
            likes = rng.choice([1, 1, 2, 5])
            session.get(Comment, comment_id).likes = likes
    return ids


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pages_from_the_database_are_the_pages_of_the_whole_tree(app, api, client, seed):
    random_thread(app, seed)
    for sort in comments.SORTS:
        for limit in (1, 4, 200):
            cursor, pages = None, 0
            while True:
                query = {"site": "blog", "uri": "/post/1", "sort": sort, "limit": str(limit)}
                if cursor:
                    query["cursor"] = cursor
                answer = client.get("/api/comments", query_string=query)
                with app.test_request_context(base_url="http://localhost/"):
                    site = sites.get_site("blog")
                    expected = api_module.page_body(
                        site, "/post/1", reference_page(site, "/post/1", sort, limit, cursor)
                    )
                    uncached = api_module.thread_body("blog", "/post/1", sort, limit, cursor)
                assert answer.get_data() == expected == uncached, (sort, limit, cursor)
                # The same request again comes from the cache, byte for byte.
                assert client.get("/api/comments", query_string=query).get_data() == expected
                cursor = answer.get_json()["next"]
                pages += 1
                if cursor is None:
                    break
            assert limit > 1 or pages > 10


def test_counts_from_the_database_are_what_threads_show(app, api, client):
    random_thread(app, 4, size=40)
    post(app, "Another page.", uri="/post/2")
    uris = ["/post/1", "/post/2", "/none", "/post/1"]
    answer = client.get("/api/counts", query_string={"site": "blog", "uri": uris}).get_json()
    with app.app_context():
        site = sites.get_site("blog")
        for uri in set(uris):
            counts = reference_page(site, uri, "oldest", 1, None).counts
            assert answer["comments"][uri] == counts.comments
            assert answer["mentions"][uri] == counts.mentions
            assert answer["counts"][uri] == counts.total


@pytest.mark.parametrize("many", [2, 10, 11, 26, 51, 100])
def test_counts_of_any_number_of_uris_come_from_one_lookup(app, api, client, queries, many):
    # The uris go into a fixed number of slots (1, 10, 25, 50, 100): every size is answered
    # alike, the slots left over repeating a uri asked for.
    for n in range(0, many, 3):
        post(app, f"On page {n}.", uri=f"/p/{n}")
    uris = [f"/p/{n}" for n in range(many)]
    answers = []
    cost = queries.count(
        lambda: answers.append(
            client.get("/api/counts", query_string={"site": "blog", "uri": uris})
        )
    )
    assert answers[0].status_code == 200
    assert answers[0].get_json()["comments"] == {u: int(n % 3 == 0) for n, u in enumerate(uris)}
    again = queries.count(
        lambda: client.get("/api/counts", query_string={"site": "blog", "uri": uris})
    )
    # Cold: the lookup, the site, the counts; warm: the lookup alone, whatever the size.
    assert cost <= 5 and again == 1, queries.statements
    too_many = {"site": "blog", "uri": [*uris, *(f"/q/{n}" for n in range(101 - many))]}
    refused = client.get("/api/counts", query_string=too_many)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "too_long"


def test_a_post_costs_a_fixed_few_statements_and_no_second_look_at_its_site(
    app, api, client, queries
):
    api.post(expect=201, text="First, which makes the thread.")
    cost = queries.count(lambda: api.post(expect=201, text="Second."))
    site_reads = [s for s in queries.statements if "FROM sites" in s]
    # The site is looked up once (the write transaction does not read it again); then the
    # thread, the duplicate check, the bans, the insert, the version, the moderation log.
    assert len(site_reads) == 1, queries.statements
    assert cost <= 8, queries.statements


def test_the_migration_gives_every_reply_its_root(app, api):
    import importlib.util

    from commentsvc.db import MIGRATIONS_DIR

    path = MIGRATIONS_DIR / "versions" / "0012_thread_versions.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)

    root = api.post(expect=201, text="Root.").get_json()["id"]
    child = api.post(expect=201, text="Child.", parent=root).get_json()["id"]
    grandchild = api.post(expect=201, text="Grandchild.", parent=child).get_json()["id"]
    with app.app_context(), write_transaction() as session:
        session.execute(Comment.__table__.update().values(root_id=None))
        migration._fill_root_ids(session.connection())
    with app.app_context():
        roots = dict(db.session.execute(select(Comment.id, Comment.root_id)).all())
    assert roots == {root: None, child: root, grandchild: root}


# --- bounded work -------------------------------------------------------------------------------


def thread_of(app, size, uri):
    start = utcnow() - timedelta(days=1)
    ids = []
    for n in range(size):
        parent = ids[n // 3] if n % 2 and ids else None
        ids.append(post(app, f"Comment {n}.", parent, uri=uri, now=start + timedelta(seconds=n)))
    return ids


def test_a_thread_read_costs_the_same_few_queries_whatever_its_size(app, api, client, queries):
    thread_of(app, 12, "/small")
    thread_of(app, 240, "/big")
    costs = {}
    for uri in ("/small", "/big"):
        url = f"/api/comments?site=blog&uri={uri}&limit=5"
        cold = queries.count(lambda url=url: client.get(url))
        warm = queries.count(lambda url=url: client.get(url))
        costs[uri] = (cold, warm)
    assert costs["/small"] == costs["/big"], costs
    cold, warm = costs["/big"]
    assert cold <= 7 and warm == 1, costs


def bulk_thread(app, uri, size):
    """Store a thread of size comments, a third of them replies to the first roots, in two
    statements."""
    start = utcnow() - timedelta(days=30)

    def row(n, parent=None):
        return {
            "thread_id": thread.id,
            "status": "approved",
            "text": f"Comment {n}.",
            "html": f"<p>Comment {n}.</p>",
            "created": start + timedelta(seconds=n),
            "parent_id": parent,
            "root_id": parent,
        }

    with app.app_context(), write_transaction() as session:
        thread = comments.get_or_create_thread(sites.get_site("blog"), uri, now=start)
        replies = range(2, size, 3)
        session.execute(insert(Comment), [row(n) for n in range(size) if n % 3 != 2])
        roots = session.scalars(
            select(Comment.id).where(Comment.thread_id == thread.id).order_by(Comment.id)
        ).all()
        if replies:
            session.execute(insert(Comment), [row(n, roots[n // 30]) for n in replies])
        comments.touch_thread(session, thread.id)


def test_the_first_page_of_10000_costs_what_a_small_thread_does(app, api, client, queries):
    bulk_thread(app, "/small", 12)
    bulk_thread(app, "/huge", 10_000)
    costs = {}
    for uri in ("/small", "/huge"):
        url = f"/api/comments?site=blog&uri={uri}&limit=50"
        answers = []
        cold = queries.count(lambda url=url, answers=answers: answers.append(client.get(url)))
        warm = queries.count(lambda url=url: client.get(url))
        etag = {"If-None-Match": answers[0].headers["ETag"]}
        not_modified = queries.count(
            lambda url=url, answers=answers, etag=etag: answers.append(
                client.get(url, headers=etag)
            )
        )
        assert answers[1].status_code == 304
        costs[uri] = (cold, warm, not_modified)
    assert answers[0].get_json()["counts"]["comments"] == 10_000
    assert costs["/small"] == costs["/huge"], costs
    cold, warm, not_modified = costs["/huge"]
    assert cold <= 7 and warm == 1 and not_modified == 1, costs
    counts = "/api/counts?site=blog&uri=/small&uri=/huge&uri=/none"
    assert queries.count(lambda: client.get(counts)) <= 5
    assert queries.count(lambda: client.get(counts)) == 1


def test_counts_cost_one_query_when_warm(app, api, client, queries):
    uris = [f"/p/{n}" for n in range(20)]
    for uri in uris[:5]:
        post(app, f"On {uri}.", uri=uri)
    url = "/api/counts?site=blog&" + "&".join(f"uri={u}" for u in uris)
    cold = queries.count(lambda: client.get(url))
    warm = queries.count(lambda: client.get(url))
    assert cold <= 5 and warm == 1, (cold, warm)


# --- shared answers -------------------------------------------------------------------------------


def test_the_memory_cache_stays_within_its_bound():
    cache = Answers("t", max_bytes=1000)
    for n in range(100):
        cache.body(f"k{n}", lambda: b"x" * 100)
    assert cache.memory.size <= 1000
    assert cache.memory.get("k99") is not None and cache.memory.get("k0") is None


@pytest.mark.skipif(not REDIS_URL, reason="set COMMENTSVC_TEST_REDIS_URL to test the Redis cache")
def test_answers_are_shared_through_redis():
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    built = []
    one, two = Answers("ns", 10_000, client), Answers("ns", 10_000, client)
    key = one.key("thread", random.random())
    assert one.body(key, lambda: built.append(1) or b"answer") == b"answer"
    assert two.body(key, lambda: built.append(2) or b"other") == b"answer"
    assert built == [1]


def test_no_instance_serves_a_stale_thread_after_a_write_on_another(live_server, app, site):
    settings = {"GUARD": "off"}
    if REDIS_URL:
        settings["REDIS_URL"] = REDIS_URL
    one, two = live_server(workers=1, **settings), live_server(workers=1, **settings)
    url = "/api/comments?site=blog&uri=/post/1"

    def write(server, text):
        answer = requests.post(
            server.url + "/api/comments",
            json={"site": "blog", "uri": "/post/1", "text": text},
            timeout=10,
        )
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def texts(server):
        body = requests.get(server.url + url, timeout=10).json()
        return [c["html"] for c in body["comments"]], body["comments"]

    write(one, "First.")
    first = requests.get(one.url + url, timeout=10)
    assert texts(two)[0] == texts(one)[0] == ["<p>First.</p>"]
    second = write(two, "Second.")
    assert texts(one)[0] == ["<p>First.</p>", "<p>Second.</p>"]
    stale = requests.get(
        one.url + url, headers={"If-None-Match": first.headers["ETag"]}, timeout=10
    )
    assert stale.status_code == 200
    requests.post(two.url + f"/api/comments/{second}/like", json={"visitor": "v" * 20}, timeout=10)
    assert [c["likes"] for c in texts(one)[1]] == [0, 1]
    # The same answer from both, but for the avatars' absolute URLs, built from each host.
    mine = requests.get(one.url + url, timeout=10).text.replace(one.url, "HOST")
    assert mine == requests.get(two.url + url, timeout=10).text.replace(two.url, "HOST")


def test_a_site_removed_and_added_again_never_meets_the_answers_of_the_one_before(app, api, client):
    # SQLite gives a removed row's id to the next one, and versions started at 0: the new
    # site's thread had the key, and the ETag, of the old one's.
    from tests.conftest import add_site

    api.post(expect=201, text="Before.")
    url = "/api/comments?site=blog&uri=/post/1"
    before = client.get(url)
    assert "Before." in before.get_data(as_text=True)
    with app.app_context():
        sites.remove_site("blog")
    add_site(app)
    api.post(expect=201, text="After.")
    after = client.get(url)
    assert "After." in after.get_data(as_text=True)
    assert "Before." not in after.get_data(as_text=True)
    again = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
    assert again.status_code == 200
