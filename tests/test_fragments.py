"""The thread as HTML: the fragment for pages that include it, and `commentsvc render`."""

from __future__ import annotations

import json

import html5lib
import mf2py
import pytest

from commentsvc.db import db
from commentsvc.models import Comment
from tests.conftest import ORIGIN
from tests.conftest import add_site
from tests.safety import unsafe_parts

PAGE = ORIGIN + "/post/1"


def fragment(client, uri="/post/1", **params):
    response = client.get("/api/comments.html", query_string={"site": "blog", "uri": uri, **params})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response


@pytest.fixture
def conversation(api):
    """A comment with a website, a reply, a held comment and one from the site's owner."""
    first = api.post(
        expect=201, text="First *words*.", author="Ada", website="https://ada.example.net/"
    )
    first_id = first.get_json()["id"]
    api.post(expect=201, text="A reply.", author="Bob", parent=first_id)
    return first_id


def test_the_fragment_is_the_widgets_markup(client, conversation):
    html = fragment(client).get_data(as_text=True)
    tree = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    root = tree.find("div")
    assert root.get("class") == "csvc-thread"
    assert root.get("data-etag") and root.get("data-site") == "blog"
    assert '<link rel="stylesheet" id="csvc-style" href="http://localhost/embed.css">' in html
    assert f'data-id="{conversation}" data-kind="comment" id="csvc-comment-{conversation}"' in html
    for hook in ('data-action="like"', 'data-action="reply"', 'data-action="like-page"'):
        assert hook in html
    assert '<ol class="csvc-comments">' in html and '<ol class="csvc-replies">' in html
    assert "<em>words</em>" in html  # the stored, sanitised HTML
    assert ">2 comments</h2>" in html
    assert 'href="http://localhost/t/blog?uri=/post/1"' in html  # the <noscript> link
    # Sign-in and fediverse settings ride along for the widget that takes the markup over.
    extra = json.loads(root.get("data-extra"))
    assert extra["sign_in"] == {"providers": [], "anonymous": "on"}
    assert extra["fediverse"]["posts"] == []


def test_microformats_give_entries_with_authors(client, conversation):
    html = fragment(client).get_data(as_text=True)
    parsed = mf2py.parse(doc=html, url=PAGE)
    entries = [i for i in parsed["items"] if "h-entry" in i["type"]]
    assert len(entries) == 1
    entry = entries[0]["properties"]
    author = entry["author"][0]
    assert author["type"] == ["h-card"]
    assert author["properties"]["name"] == ["Ada"]
    assert author["properties"]["url"] == ["https://ada.example.net/"]
    assert entry["url"] == [f"{PAGE}#csvc-comment-{conversation}"]
    assert entry["in-reply-to"] == [PAGE]
    assert entry["content"][0]["html"] == "<p>First <em>words</em>.</p>"
    assert entry["published"][0].startswith("20")
    reply = entry["comment"][0]
    assert reply["type"] == ["h-cite"]
    assert reply["properties"]["author"][0]["properties"]["name"] == ["Bob"]


def test_schema_org_comment_microdata(client, conversation):
    html = fragment(client).get_data(as_text=True)
    assert html.count('itemtype="https://schema.org/Comment"') == 2
    assert 'itemprop="author" itemscope itemtype="https://schema.org/Person"' in html
    assert 'itemprop="dateCreated"' in html and 'itemprop="text"' in html


def test_only_published_content(app, client, api):
    api.post(expect=201, text="Shown.")
    held = api.post(expect=201, text="Held later.").get_json()["id"]
    with app.app_context():
        from commentsvc import comments

        comment = db.session.get(Comment, held)
        from commentsvc.db import write_transaction

        with write_transaction():
            comment = db.session.get(Comment, held)
            comments.set_status(
                comment, "pending", actor="test", reason="test", now=comment.created
            )
            comments.touch_thread(db.session, comment.thread_id)
    html = fragment(client).get_data(as_text=True)
    assert "Shown." in html and "Held later." not in html


def test_text_is_escaped_as_the_widget_escapes_it(client, api):
    api.post(expect=201, text="<script>alert(1)</script>", author='"><img src=x onerror=alert(1)>')
    html = fragment(client).get_data(as_text=True)
    assert "<script>alert" not in html and "<img src=x" not in html
    thread = html.split('<ol class="csvc-comments">')[1].split("</ol>")[0]
    assert unsafe_parts(thread.replace('class="csvc-avatar u-photo"', "")) == ["element <img>"], (
        "only the avatar image"
    )


def test_etag_304_and_cache_control_as_the_json(client, api):
    api.post(expect=201)
    first = fragment(client)
    etag = first.headers["ETag"]
    again = client.get(
        "/api/comments.html",
        query_string={"site": "blog", "uri": "/post/1"},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304
    assert first.headers["Cache-Control"] == "no-cache"
    api.post(expect=201, text="Another.")
    changed = client.get(
        "/api/comments.html",
        query_string={"site": "blog", "uri": "/post/1"},
        headers={"If-None-Match": etag},
    )
    assert changed.status_code == 200 and "Another." in changed.get_data(as_text=True)


def test_the_markup_carries_the_json_pages_etag(client, api):
    api.post(expect=201)
    html = fragment(client).get_data(as_text=True)
    etag = html.split('data-etag="')[1].split('"')[0]
    query = {"site": "blog", "uri": "/post/1", "sort": "oldest", "limit": 50}
    answer = client.get("/api/comments", query_string=query, headers={"If-None-Match": etag})
    assert answer.status_code == 304
    assert answer.headers["X-Form-Token"]


def test_cached_and_uncached_answers_are_the_same_bytes(make_app, site):
    from tests.conftest import Api

    app = make_app()
    client = app.test_client()
    Api(client).post(expect=201, text="Cached *or* not.")
    cold = fragment(client).get_data()
    warm = fragment(client).get_data()
    fresh_app = make_app()  # an empty answer cache: built again from the database
    rebuilt = fragment(fresh_app.test_client()).get_data()
    assert cold == warm == rebuilt
    gz = client.get(
        "/api/comments.html",
        query_string={"site": "blog", "uri": "/post/1"},
        headers={"Accept-Encoding": "gzip"},
    )
    import gzip

    assert gzip.decompress(gz.get_data()) == cold


def test_languages_and_an_empty_thread(client, site):
    assert "No comments yet." in fragment(client, uri="/nothing").get_data(as_text=True)
    german = fragment(client, uri="/nothing", lang="de").get_data(as_text=True)
    assert 'lang="de"' in german and "Noch keine Kommentare" in german


@pytest.mark.parametrize(
    "query, field",
    [
        ({"uri": "/x"}, "site"),
        ({"site": "nope", "uri": "/x"}, "site"),
        ({"site": "blog"}, "uri"),
        ({"site": "blog", "uri": "/x", "sort": "best"}, "sort"),
    ],
)
def test_bad_queries_are_400_naming_the_field(client, site, query, field):
    response = client.get("/api/comments.html", query_string=query)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_linkbacks_are_cited_apart(app, client, site):
    from commentsvc.db import write_transaction
    from commentsvc.models import Thread
    from commentsvc.models import utcnow

    with app.app_context(), write_transaction() as session:
        thread = Thread(site_id=1, uri="/post/1", title="Post")
        session.add(thread)
        session.flush()
        session.add(
            Comment(
                thread_id=thread.id,
                kind="webmention",
                status="approved",
                author="Carol",
                source_url="https://carol.example.net/reply",
                source_title="Carol's <reply>",
                excerpt="she wrote about it",
                created=utcnow(),
            )
        )
    html = fragment(client).get_data(as_text=True)
    assert "Carol&#39;s &lt;reply&gt;" in html
    assert "[…] she wrote about it […]" in html
    parsed = mf2py.parse(doc=html, url=PAGE)
    cites = [i for i in parsed["items"] if "h-cite" in i["type"]]
    assert cites[0]["properties"]["url"] == ["https://carol.example.net/reply"]
    assert cites[0]["properties"]["author"][0]["properties"]["name"] == ["Carol"]


def test_render_writes_fragments_for_static_sites(make_app, tmp_path, site):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from commentsvc.cli import main
    from tests.conftest import Api

    app = make_app(PUBLIC_URL="https://comments.example.org")
    Api(app.test_client()).post(expect=201, text="Baked in.")
    out = tmp_path / "out"

    def render(*args):
        return CliRunner().invoke(main, ["render", *args], obj=ScriptInfo(create_app=lambda: app))

    result = render("--site", "blog", "--uri", "/post/1", "--uri", "/", "--out", str(out))
    assert result.exit_code == 0, result.output
    written = (out / "post" / "1.html").read_text()
    assert "Baked in." in written
    assert 'href="https://comments.example.org/embed.css"' in written
    assert "No comments yet." in (out / "index.html").read_text()
    to_stdout = render("--site", "blog", "--uri", "/post/1")
    assert to_stdout.exit_code == 0 and "Baked in." in to_stdout.output
    assert render("--site", "nope", "--uri", "/").exit_code != 0
    assert render("--site", "blog", "--uri", "no-slash").exit_code != 0
    escape = render("--site", "blog", "--uri", "/../../etc/x", "--out", str(out))
    assert escape.exit_code != 0 and not (tmp_path / "etc").exists()


def test_render_needs_the_public_url(make_app, site):
    from click.testing import CliRunner
    from flask.cli import ScriptInfo

    from commentsvc.cli import main

    app = make_app()
    result = CliRunner().invoke(
        main, ["render", "--site", "blog", "--uri", "/"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code != 0 and "PUBLIC_URL" in result.output


def test_other_sites_fragments_stay_apart(app, client, api):
    add_site(app, name="other", url="https://other.example.org")
    api.post(expect=201, text="Blog only.")
    other = client.get("/api/comments.html", query_string={"site": "other", "uri": "/post/1"})
    assert "Blog only." not in other.get_data(as_text=True)


def test_a_theme_can_be_fixed_in_the_markup(client, site):
    assert 'data-theme="dark"' in fragment(client, theme="dark").get_data(as_text=True)
    assert "data-theme" not in fragment(client).get_data(as_text=True)
    response = client.get(
        "/api/comments.html", query_string={"site": "blog", "uri": "/", "theme": "pink"}
    )
    assert response.status_code == 400 and response.get_json()["error"]["field"] == "theme"


def test_the_servers_english_is_the_widgets():
    import json
    import re

    from commentsvc.fragments import ENGLISH
    from tests.conftest import ROOT_DIR

    script = (ROOT_DIR / "static" / "embed.js").read_text()
    block = script.split("const EN = {")[1].split("\n  };")[0]
    for key, value in ENGLISH.items():
        if isinstance(value, str):
            assert f"    {key}: {json.dumps(value, ensure_ascii=False)}," in block, key
        elif key != "errors":
            found = re.search(
                rf"^    {key}: \{{ one: (\"[^\"]*\"), other: (\"[^\"]*\") \}},", block, re.M
            )
            assert found and json.loads(found.group(1)) == value["one"], key
            assert json.loads(found.group(2)) == value["other"], key
    for code, words in ENGLISH["errors"].items():
        assert f"{json.dumps(words, ensure_ascii=False)}," in block, code


def test_fediverse_replies_nest_with_their_handle_and_signed_in_authors_are_marked(
    app, client, conversation
):
    from commentsvc import comments
    from commentsvc.db import write_transaction
    from commentsvc.models import Identity

    with app.app_context(), write_transaction() as session:
        first = session.get(Comment, conversation)
        identity = Identity(provider="oidc", subject="s", name="Ada")
        session.add(identity)
        session.flush()
        first.identity_id = identity.id
        reply = Comment(
            thread_id=first.thread_id,
            parent_id=first.id,
            root_id=comments.root_of(first),
            kind="fediverse",
            status="approved",
            author="Cy <script>",
            handle="cy@social.example",
            source_url="https://social.example/@cy/1",
            text="From afar",
            html="<p>From afar</p>",
            created=first.created,
        )
        session.add(reply)
        session.flush()
        reply_id = reply.id
        comments.touch_thread(session, first.thread_id)
    html = fragment(client).get_data(as_text=True)
    tree = html5lib.parseFragment(html, treebuilder="etree", namespaceHTMLElements=False)
    [nested] = [
        a for a in tree.iter("article") if a.get("data-id") == str(reply_id)
    ]  # inside the thread, not among the linkbacks
    assert nested.get("data-kind") == "fediverse" and "p-comment" in nested.get("class")
    assert '<span class="csvc-handle">@cy@social.example</span>' in html
    assert 'class="csvc-original" href="https://social.example/@cy/1"' in html
    assert "Cy &lt;script&gt;" in html and "<script>" not in html
    assert 'class="csvc-verified" title="Verified by oidc">✓</span>' in html
