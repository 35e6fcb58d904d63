"""commentsvc send: discovery (the webmention.rocks cases 1-23), sending, and sending again."""

import xmlrpc.client
from urllib.parse import parse_qs

import pytest

from tests.blogs import Blog
from tests.blogs import Page
from tests.blogs import raw_answer
from tests.conftest import add_site

HTML = {"Content-Type": "text/html; charset=utf-8"}


def rocks_cases(url: str) -> dict[int, tuple[Page, str]]:
    """The discovery tests of webmention.rocks, rebuilt: test n -> (its page, the endpoint path
    that must receive the Webmention). Paths ending in /error must receive nothing."""
    t = f"{url}/test"

    def html(body):
        return f"<!doctype html><html><head><title>test</title>{body}</head><body></body></html>"

    def a_html(body):
        return f"<!doctype html><html><head><title>test</title></head><body>{body}</body></html>"

    return {
        1: (
            Page("", headers={**HTML, "Link": "</test/1/webmention?head=true>; rel=webmention"}),
            "/test/1/webmention?head=true",
        ),
        2: (
            Page("", headers={**HTML, "Link": f"<{t}/2/webmention?head=true>; rel=webmention"}),
            "/test/2/webmention?head=true",
        ),
        3: (Page(html('<link rel="webmention" href="/test/3/webmention">')), "/test/3/webmention"),
        4: (Page(html(f'<link rel="webmention" href="{t}/4/webmention">')), "/test/4/webmention"),
        5: (
            Page(a_html('<a rel="webmention" href="/test/5/webmention">x</a>')),
            "/test/5/webmention",
        ),
        6: (
            Page(a_html(f'<a rel="webmention" href="{t}/6/webmention">x</a>')),
            "/test/6/webmention",
        ),
        7: (
            Page(
                "",
                headers=[
                    ("Content-Type", "text/html"),
                    ("LinK", f"<{t}/7/webmention?head=true>; rel=webmention"),
                ],
            ),
            "/test/7/webmention?head=true",
        ),
        8: (
            Page("", headers={**HTML, "Link": f'<{t}/8/webmention?head=true>; rel="webmention"'}),
            "/test/8/webmention?head=true",
        ),
        9: (
            Page(html('<link rel="webmention somethingelse" href="/test/9/webmention">')),
            "/test/9/webmention",
        ),
        10: (
            Page(
                "",
                headers={
                    **HTML,
                    "Link": '</test/10/webmention?head=true>; rel="webmention somethingelse"',
                },
            ),
            "/test/10/webmention?head=true",
        ),
        11: (
            Page(
                html('<link rel="webmention" href="/test/11/webmention/error">')
                + '<a rel="webmention" href="/test/11/webmention/error">x</a>',
                headers={**HTML, "Link": '</test/11/webmention>; rel="webmention"'},
            ),
            "/test/11/webmention",
        ),
        12: (
            Page(
                html(
                    '<link rel="not-webmention" href="/test/12/webmention/error"><link rel="webmention" href="/test/12/webmention">'
                )
            ),
            "/test/12/webmention",
        ),
        13: (
            Page(
                html(
                    '<!-- <link rel="webmention" href="/test/13/webmention/error"> --><link rel="webmention" href="/test/13/webmention">'
                )
            ),
            "/test/13/webmention",
        ),
        14: (
            Page(
                a_html(
                    '<code>&lt;a href="/test/14/webmention/error" rel="webmention"&gt;&lt;/a&gt;</code><a href="/test/14/webmention" rel="webmention">x</a>'
                )
            ),
            "/test/14/webmention",
        ),
        15: (Page(html('<link rel="webmention" href="">')), "/test/15"),
        16: (
            Page(
                a_html(
                    '<a href="/test/16/webmention" rel="webmention">x</a><link rel="webmention" href="/test/16/webmention/error">'
                )
            ),
            "/test/16/webmention",
        ),
        17: (
            Page(
                a_html(
                    '<link rel="webmention" href="/test/17/webmention"><a href="/test/17/webmention/error" rel="webmention">x</a>'
                )
            ),
            "/test/17/webmention",
        ),
        18: (
            Page(
                "",
                headers=[
                    ("Content-Type", "text/html"),
                    ("Link", '</test/18/webmention/error>; rel="other"'),
                    ("Link", '</test/18/webmention?head=true>; rel="webmention"'),
                ],
            ),
            "/test/18/webmention?head=true",
        ),
        19: (
            Page(
                "",
                headers={
                    **HTML,
                    "Link": '</test/19/webmention/error>; rel="other", </test/19/webmention?head=true>; rel="webmention"',
                },
            ),
            "/test/19/webmention?head=true",
        ),
        20: (
            Page(
                a_html(
                    '<link rel="webmention"><a rel="webmention" href="/test/20/webmention">x</a>'
                )
            ),
            "/test/20/webmention",
        ),
        21: (
            Page(html('<link rel="webmention" href="/test/21/webmention?query=yes">')),
            "/test/21/webmention?query=yes",
        ),
        22: (Page(html('<link rel="webmention" href="22/webmention">')), "/test/22/webmention"),
        23: (
            Page("", status=302, headers={"Location": f"{t}/23/page/final"}),
            "/test/23/page/webmention-endpoint",
        ),
    }


@pytest.fixture
def rocks():
    blog = Blog()
    cases = rocks_cases(blog.url)
    for n, (page, _endpoint) in cases.items():
        path = "/test/23/page" if n == 23 else f"/test/{n}"
        blog.pages[path] = page
    blog.pages["/test/23/page/final"] = Page(
        '<html><head><link rel="webmention" href="webmention-endpoint"></head></html>'
    )
    for _n, (_page, endpoint) in cases.items():
        blog.pages.setdefault(endpoint.split("?")[0], Page("accepted", status=202))
    yield blog, cases
    blog.close()


@pytest.fixture
def mine(app):
    """One of our own sites, whose posts we send linkbacks for."""
    blog = Blog()
    add_site(app, "mine", url=blog.url)
    yield blog
    blog.close()


def received(blog: Blog, endpoint: str) -> list[dict]:
    path, _, query = endpoint.partition("?")
    return [
        parse_qs(body.decode())
        for method, p, _headers, body in blog.requests
        if method == "POST" and p.split("?")[0] == path and p.partition("?")[2] == query
    ]


def test_discovery_follows_the_webmention_rocks_cases(cli, rocks, mine):
    blog, cases = rocks
    targets = [f"{blog.url}/test/23/page" if n == 23 else f"{blog.url}/test/{n}" for n in cases]
    links = "".join(f'<li><a href="{t}">test</a></li>' for t in targets)
    source = mine.page(
        "/post", f'<article class="h-entry"><div class="e-content"><ul>{links}</ul></div></article>'
    )
    result = cli("send", source)
    assert result.exit_code == 0, result.output
    assert "23 link(s): 23 sent, 0 failed" in result.output
    for n, (_page, endpoint) in cases.items():
        target = f"{blog.url}/test/23/page" if n == 23 else f"{blog.url}/test/{n}"
        assert received(blog, endpoint) == [{"source": [source], "target": [target]}], n
    errors = [p for m, p, _h, _b in blog.requests if m == "POST" and p.endswith("/error")]
    assert errors == []


def test_a_second_run_sends_only_what_changed(cli, rocks, mine):
    blog, _ = rocks
    one, two, three = (f"{blog.url}/test/{n}" for n in (3, 4, 5))
    source = mine.page("/post", f'<p><a href="{one}">1</a> <a href="{two}">2</a></p>')
    first = cli("send", source)
    assert first.output.count("sent ") == 2
    again = cli("send", source)
    assert "skipped" in again.output and "2 link(s): 0 sent" in again.output
    # Now the post links to one and three: three is new, two was removed and is told so.
    mine.page("/post", f'<p><a href="{one}">1</a> <a href="{three}">3</a></p>')
    third = cli("send", source)
    assert "3 link(s): 2 sent, 0 failed" in third.output
    assert len(received(blog, "/test/3/webmention")) == 1
    assert len(received(blog, "/test/4/webmention")) == 2  # sent, then re-sent after removal
    assert len(received(blog, "/test/5/webmention")) == 1
    assert cli("send", source, "--all").output.count("sent ") == 2


def test_a_target_without_an_endpoint_is_reported(cli, mine):
    elsewhere = Blog()
    elsewhere.page("/quiet", "<p>No endpoint here.</p>")
    source = mine.page(
        "/post", f'<a href="{elsewhere.url}/quiet">q</a> <a href="{elsewhere.url}/404">x</a>'
    )
    result = cli("send", source)
    assert "no-endpoint" in result.output
    assert "failed" in result.output and result.exit_code == 1
    elsewhere.close()


def test_only_our_own_pages_are_sent_for(cli, app):
    result = cli("send", "https://someone-else.example.org/post")
    assert result.exit_code == 1
    assert "is not a page of any site here" in result.output


def test_pingback_end_to_end_through_our_own_xmlrpc(app, cli, mine, live_server):
    """We send a pingback for our post to a blog whose pingback server is this very service."""
    theirs = Blog()
    add_site(app, "theirs", url=theirs.url)
    service = live_server(GUARD="off")
    target = theirs.page(
        "/their-post",
        "<title>Theirs</title>",
        headers={**HTML, "X-Pingback": service.url + "/xmlrpc"},
    )
    source = mine.page(
        "/post", f'<title>Mine</title><p>I liked <a href="{target}">their post</a>.</p>'
    )
    result = cli("send", source)
    assert result.exit_code == 0, result.output
    assert "pingback to" in result.output
    with xmlrpc.client.ServerProxy(service.url + "/xmlrpc") as proxy:
        assert proxy.pingback.extensions.getPingbacks(target) == [source]
    theirs.close()


def test_odd_charsets_bad_lengths_and_broken_links_do_not_crash_send(cli, mine):
    """Each of these targets (and the post's own charset) made `commentsvc send` crash."""
    other = Blog()
    body = b'<link rel="webmention" href="/endpoint"><p>hello</p>'
    other.pages["/rot13"] = Page(
        writer=raw_answer([("Content-Type", "text/html; charset=rot13")], body)
    )
    other.pages["/length"] = Page(
        writer=raw_answer([("Content-Type", "text/html"), ("Content-Length", "\u00b2")], body)
    )
    other.pages["/link"] = Page(
        writer=raw_answer(
            [("Content-Type", "text/html"), ("Link", "<http://[broken>; rel=webmention")],
            b'<a rel="webmention" href="http://[::1">x</a>',
        )
    )
    other.pages["/endpoint"] = Page("", status=202)
    targets = "".join(f'<a href="{other.url}{p}">t</a> ' for p in ("/rot13", "/length", "/link"))
    source = mine.url + "/post"
    mine.pages["/post"] = Page(
        writer=raw_answer(
            [("Content-Type", "text/html; charset=base64")],
            (targets + '<a href="http://[::1">broken</a>').encode(),
        )
    )
    try:
        result = cli("send", source)
    finally:
        other.close()
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "3 link(s): 1 sent, 1 failed" in result.output, result.output
    assert "no-endpoint" in result.output


def test_spellings_of_a_page_are_one_page_to_send_for(cli, mine):
    elsewhere = Blog()
    try:
        elsewhere.page("/quiet", "<p>No endpoint here.</p>")
        source = mine.page("/post", f'<a href="{elsewhere.url}/quiet">q</a>')
        assert "no-endpoint" in cli("send", source + "#top").output
        again = cli("send", source.replace("http://", "HTTP://") + "?")
        assert "skipped" in again.output and "1 link(s): 0 sent" in again.output
    finally:
        elsewhere.close()
