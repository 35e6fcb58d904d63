from datetime import datetime

import pytest
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Ban
from commentsvc.models import Comment
from commentsvc.models import ModerationEvent
from commentsvc.spam import address_hash
from tests.conftest import ON_POSTGRES
from tests.conftest import REDIS_URL
from tests.conftest import Clock
from tests.conftest import add_site

ADDRESSES = iter(f"198.51.100.{n}" for n in range(1, 255))


@pytest.fixture
def guarded(make_app):
    """An app with the guard on, a hand-moved clock, and a helper that posts like the widget."""
    app = make_app(GUARD=True)
    from commentsvc.models import utcnow

    clock = Clock(utcnow().replace(microsecond=0))
    app.extensions["clock"] = clock
    client = app.test_client()

    def post(wait=5, address=None, site="blog", uri="/p", **body):
        address = address or next(ADDRESSES)
        loaded = client.get("/api/comments", query_string={"site": site, "uri": uri})
        clock.advance(seconds=wait)
        payload = {"site": site, "uri": uri, "text": "A fine comment.", **body}
        payload.setdefault("form_token", loaded.headers["X-Form-Token"])
        return client.post("/api/comments", json=payload, environ_base={"REMOTE_ADDR": address})

    app.post = post
    app.clock = clock
    return app


def stored(app, comment_id):
    with app.app_context():
        comment = db.session.get(Comment, comment_id)
        events = db.session.scalars(
            select(ModerationEvent).where(ModerationEvent.comment_id == comment_id)
        ).all()
        return comment.status, comment.reason, [(e.actor, e.action, e.reason) for e in events]


def test_a_normal_post_is_published_with_its_reason_recorded(guarded):
    add_site(guarded)
    response = guarded.post()
    assert response.status_code == 201
    status, reason, events = stored(guarded, response.get_json()["id"])
    assert (status, reason) == ("approved", "policy: none")
    assert events == [("rules", "approved", "policy: none")]


@pytest.mark.parametrize(
    ("settings", "body", "status", "reason"),
    [
        ({"moderation": "all"}, {}, "pending", "policy: every comment is held"),
        (
            {"moderation": "links", "link_limit": 2},
            {"text": "see https://a.example.org and [b](https://b.example.org)"},
            "pending",
            "links: 2 links (limit 2)",
        ),
        (
            {"moderation": "links", "link_limit": 2},
            {"text": "one https://a.example.org"},
            "approved",
            "policy: links",
        ),
        (
            {"moderation": "first-time"},
            {"email": "new@example.org"},
            "pending",
            "first-time: no approved comment from this email yet",
        ),
        ({"moderation": "first-time"}, {}, "pending", "first-time: no email address given"),
        (
            {"moderation_words": "casino, viagra"},
            {"text": "Best Casino deals"},
            "pending",
            "moderation word: casino",
        ),
        (
            {"disallowed_words": "casino"},
            {"author": "casino king"},
            "spam",
            "disallowed word: casino",
        ),
        (
            {},
            {"homepage": "http://spam.example"},
            "spam",
            "honeypot: the hidden field was filled in",
        ),
    ],
)
def test_each_rule_decides_and_records_why(guarded, settings, body, status, reason):
    add_site(guarded, **settings)
    response = guarded.post(**body)
    assert response.status_code == (201 if status == "approved" else 202)
    # The author never learns that their comment went to spam.
    assert response.get_json()["status"] == ("published" if status == "approved" else "pending")
    stored_status, stored_reason, events = stored(guarded, response.get_json()["id"])
    assert (stored_status, stored_reason) == (status, reason)
    assert events == [("rules", status, reason)]


def test_moderation_words_match_whole_words_only(guarded):
    add_site(guarded, moderation_words="ass")
    assert guarded.post(text="A classic assessment.").status_code == 201
    assert guarded.post(text="What an ass.").status_code == 202


def test_first_time_commenters_pass_once_approved(guarded):
    from commentsvc.comments import set_status
    from commentsvc.models import utcnow

    add_site(guarded, moderation="first-time")
    first = guarded.post(email="ann@example.org")
    assert first.status_code == 202
    with guarded.app_context(), write_transaction():
        comment = db.session.get(Comment, first.get_json()["id"])
        set_status(comment, "approved", actor="admin:t", reason="ok", now=utcnow())
    assert guarded.post(email="ANN@example.org", text="again").status_code == 201


@pytest.mark.parametrize(
    ("wait", "token", "reason"),
    [
        (0, None, "time trap: posted 0.0 s after the thread loaded"),
        (1, None, "time trap: posted 1.0 s after the thread loaded"),
        (3 * 86400, None, "time trap: the thread was loaded 3 days before the post"),
        (5, "", "time trap: no form token"),
        (5, "123.forged", "time trap: invalid form token"),
    ],
)
def test_the_time_trap_holds_fast_stale_and_forged_posts(guarded, wait, token, reason):
    add_site(guarded)
    body = {} if token is None else {"form_token": token}
    response = guarded.post(wait=wait, **body)
    assert response.status_code == 202
    assert stored(guarded, response.get_json()["id"])[:2] == ("pending", reason)


def test_a_form_token_is_bound_to_its_thread(guarded):
    add_site(guarded)
    token = guarded.test_client().get("/api/comments?site=blog&uri=/other").headers["X-Form-Token"]
    response = guarded.post(form_token=token)
    assert stored(guarded, response.get_json()["id"])[1] == "time trap: invalid form token"


def test_without_the_guard_there_is_no_time_trap(app):
    add_site(app)
    response = app.test_client().post(
        "/api/comments", json={"site": "blog", "uri": "/p", "text": "x"}
    )
    assert response.status_code == 201


def test_bans_by_email_address_and_domain_mark_spam(guarded):
    add_site(guarded)
    banned_address = "203.0.113.5"
    with guarded.app_context(), write_transaction() as session:
        session.add_all(
            [
                Ban(kind="email", value="troll@example.org"),
                Ban(kind="address", value=address_hash("test-secret-key", banned_address)),
                Ban(kind="domain", value="spam.example"),
            ]
        )
    cases = [
        ({"email": "Troll@example.org"}, None, "ban: email troll@example.org"),
        ({}, banned_address, "ban: address"),
        ({"website": "https://www.spam.example/x"}, None, "ban: domain spam.example"),
    ]
    for body, address, reason in cases:
        response = guarded.post(address=address, **body)
        assert response.status_code == 202
        status, stored_reason, _ = stored(guarded, response.get_json()["id"])
        assert status == "spam" and stored_reason.startswith(reason)
    assert guarded.post(website="https://notspam.example").status_code == 201


@pytest.mark.parametrize(
    ("banned", "website", "email"),
    [
        ("spam.example", "https://spam.example./x", ""),
        ("spam.example", "https://SPAM.Example.:443/x", ""),
        ("spam.example.", "https://www.spam.example/x", ""),
        ("Spam.Example", "http://sub.spam.example./", ""),
        ("bücher.example", "https://xn--bcher-kva.example/", ""),
        ("xn--bcher-kva.example", "https://BÜCHER.example/", ""),
        ("https://bücher.example./shop", "https://xn--bcher-kva.example/", ""),
        ("troll@spam.example.", "", "troll@SPAM.example"),
        ("troll@bücher.example", "", "troll@XN--BCHER-KVA.example"),
        ("troll@xn--bcher-kva.example", "", "troll@BÜCHER.example"),
    ],
)
def test_a_ban_holds_for_every_spelling_of_its_host(app, client, banned, website, email):
    from commentsvc.moderation import add_ban

    add_site(app)
    kind = "email" if "@" in banned else "domain"
    with app.app_context():
        add_ban(kind, banned, actor="test", now=datetime(2026, 1, 1))
    body = {"site": "blog", "uri": "/p", "text": "Buy now.", "website": website, "email": email}
    response = client.post("/api/comments", json={k: v for k, v in body.items() if v})
    assert response.status_code == 202, response.get_json()
    status, reason, _ = stored(app, response.get_json()["id"])
    assert (status, reason.split(":")[0]) == ("spam", "ban")


def test_duplicates_are_refused(app, client, site):
    def post(address, **body):
        payload = {"site": "blog", "uri": "/p", **body}
        return client.post("/api/comments", json=payload, environ_base={"REMOTE_ADDR": address})

    ann = "192.0.2.77"
    assert post(ann, email="ann@example.org", text="Same words.").status_code == 201
    # The same address again: a duplicate, whatever the email.
    again = post(ann, email="other@example.org", text="Same words.")
    assert again.status_code == 409
    assert again.get_json()["error"] == {
        "code": "duplicate",
        "message": "You have posted this comment already.",
        "field": "text",
    }
    assert post(ann, email="ann@example.org", text="New words.").status_code == 201
    assert post("192.0.2.78", email="bob@example.org", text="Same words.").status_code == 201
    with app.app_context():
        assert len(db.session.scalars(select(Comment)).all()) == 3


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's query plan")
def test_the_duplicate_check_reads_the_clients_comments_not_the_whole_thread(app, app_ctx):
    from commentsvc import spam

    compiled = spam._DUPLICATE.compile(dialect=db.engine.dialect)
    values = compiled.params | {"thread_id": 1, "address": "a", "since": "2026", "text": "t"}
    arguments = tuple(values[name] for name in compiled.positiontup)
    rows = db.session.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + compiled.string, arguments
    )
    plan = " ".join(str(row[-1]) for row in rows)
    # From the index, newest first (no sort of its own), as far as the last few go.
    assert "ix_comments_thread_remote_hash_created (thread_id=? AND remote_hash=?" in plan, plan
    assert "TEMP B-TREE" not in plan and "SCAN comments" not in plan, plan


def test_the_duplicate_check_compares_the_clients_last_comments_in_the_thread(app, client, site):
    from commentsvc.spam import DUPLICATE_RECENT

    def post(text):
        body = {"site": "blog", "uri": "/p", "text": text}
        return client.post("/api/comments", json=body).status_code

    assert post("Said twice.") == 201
    for n in range(DUPLICATE_RECENT - 1):
        assert post(f"Comment {n}.") == 201
    assert post("Said twice.") == 409  # still among the last
    assert post("One more.") == 201
    assert post("Said twice.") == 201  # no longer: the check's work stays bounded


def test_a_duplicate_answer_does_not_confirm_whose_email_posted_it(guarded):
    add_site(guarded)
    victim = guarded.post(address="192.0.2.10", email="ann@example.org", text="My words.")
    assert victim.status_code == 201
    guarded.clock.advance(seconds=60)
    # Someone else, guessing Ann's email: no 409 that would confirm it was hers.
    guess = guarded.post(address="192.0.2.99", email="ann@example.org", text="My words.")
    assert guess.status_code in (201, 202)
    assert guess.get_json()["avatar"] != victim.get_json()["avatar"]


def test_flooding_gets_429_with_retry_after(guarded):
    add_site(guarded)
    address = "192.0.2.50"
    assert guarded.post(address=address, text="one").status_code == 201
    # The limiter counts on the app's clock: two seconds later, three are left of the window.
    response = guarded.post(address=address, text="two", wait=2)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert guarded.post(address="192.0.2.51", text="three").status_code == 201
    assert guarded.post(address=address, text="four", wait=3).status_code == 201


def test_rate_limits_are_shared_between_workers(make_app):
    first, second = make_app(GUARD=True), make_app(GUARD=True)
    add_site(first)
    body = {"site": "blog", "uri": "/p", "text": "x"}
    address = {"REMOTE_ADDR": "192.0.2.60"}
    assert (
        first.test_client().post("/api/comments", json=body, environ_base=address).status_code
        == 202
    )
    # Another app object (another worker) counts the same window, through the database.
    body["text"] = "y"
    refused = second.test_client().post("/api/comments", json=body, environ_base=address)
    assert refused.status_code == 429


@pytest.mark.skipif(not REDIS_URL, reason="set COMMENTSVC_TEST_REDIS_URL to test Redis limits")
def test_rate_limits_through_redis(make_app):
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()
    first, second = (
        make_app(GUARD=True, REDIS_URL=REDIS_URL),
        make_app(GUARD=True, REDIS_URL=REDIS_URL),
    )
    assert type(first.extensions["limiter"].storage).__name__ == "RedisStorage"
    add_site(first)
    address = {"REMOTE_ADDR": "192.0.2.70"}
    body = {"site": "blog", "uri": "/p", "text": "x"}
    assert (
        first.test_client().post("/api/comments", json=body, environ_base=address).status_code
        == 202
    )
    body["text"] = "y"
    refused = second.test_client().post("/api/comments", json=body, environ_base=address)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1


def test_likes_are_rate_limited(make_app):
    app = make_app(GUARD=True)
    add_site(app)
    client = app.test_client()
    refused = None
    for n in range(40):
        response = client.post("/api/likes", json={"site": "blog", "uri": f"/p{n}"})
        if response.status_code == 429:
            refused = response
            break
    assert refused is not None and refused.headers["Retry-After"]


def test_ipv6_addresses_count_by_their_64(make_app):
    a = address_hash("k", "2001:db8:1:2:aaaa::1")
    b = address_hash("k", "2001:db8:1:2:bbbb::2")
    c = address_hash("k", "2001:db8:1:3::1")
    assert a == b != c
    assert address_hash("k", "::ffff:192.0.2.1") == address_hash("k", "192.0.2.1")
    assert address_hash("k", "192.0.2.1") != address_hash("other key", "192.0.2.1")


def test_the_duplicate_checks_last_comments_do_not_depend_on_storage_order_when_times_tie(
    app, client, site, clock
):
    # Posts of one instant (a clock that does not move; a coarse one) tie on created: which are
    # the client's "last 50" must follow the order they were posted in (id), not where the
    # database happens to keep the rows (PostgreSQL: a row updated since moves to the end).
    from sqlalchemy import update

    from commentsvc.spam import DUPLICATE_RECENT

    def post(text):
        body = {"site": "blog", "uri": "/p", "text": text}
        return client.post("/api/comments", json=body).status_code

    assert post("Said twice.") == 201
    for n in range(DUPLICATE_RECENT):
        assert post(f"Comment {n}.") == 201
    with app.app_context():  # a moderator holds the first comment, then publishes it again
        for status in ("pending", "approved"):
            db.session.execute(
                update(Comment).where(Comment.text == "Said twice.").values(status=status)
            )
            db.session.commit()
    # It is the 51st newest: out of the comparison, as it was before the moderator's clicks.
    assert post("Said twice.") == 201
