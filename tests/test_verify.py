"""Finding the link in a source page: exact, after decoding and resolution, with context."""

import gzip

import pytest

from commentsvc.linkbacks.fetch import Fetched
from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from commentsvc.linkbacks.verify import decode_html
from commentsvc.linkbacks.verify import find_link
from tests.blogs import Blog
from tests.blogs import Page
from tests.blogs import drip
from tests.blogs import gzip_bomb

TARGET = "https://blog.example.org/p/1"


def page(
    html: str, url: str = "https://other.example.org/posts/a", content_type: str = "text/html"
):
    return Fetched(url=url, status=200, headers={"content-type": content_type}, body=html.encode())


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://blog.example.org/p/1">x</a>',
        '<a href="https://BLOG.example.org/p/1#comments">x</a>',
        '<a href="https://blog.example.org:443/p/1">x</a>',
        '<a href="/p/1">x</a>',  # relative to a page on the same host, below
        '<a href="&#104;ttps://blog.example.org/p/1">x</a>',
        '<a href="  https://blog.example.org/p/1  ">x</a>',
    ],
)
def test_links_that_count(html):
    url = (
        "https://blog.example.org/elsewhere" if 'href="/p/1"' in html else "https://o.example.org/"
    )
    assert find_link(page(html, url=url), TARGET) is not None


@pytest.mark.parametrize(
    "html",
    [
        '<a href="https://blog.example.org/p/10">x</a>',
        '<a href="https://blog.example.org/p/1/">x</a>',
        '<a href="https://blog.example.org/p/1?x=1">x</a>',
        '<a href="http://blog.example.org/p/1">x</a>',
        "<p>https://blog.example.org/p/1</p>",
        '<!-- <a href="https://blog.example.org/p/1">x</a> -->',
        '<p>&lt;a href="https://blog.example.org/p/1"&gt;x&lt;/a&gt;</p>',
        '<link rel="canonical" href="https://blog.example.org/p/1">',
        '<img src="https://blog.example.org/p/1">',  # counts for Webmention only
        '<script>var a = "<a href=\\"https://blog.example.org/p/1\\">x</a>";</script>',
    ],
)
def test_links_that_do_not(html):
    assert find_link(page(html), TARGET) is None


def test_media_count_for_webmention():
    assert find_link(page('<img src="https://blog.example.org/p/1">'), TARGET, media=True)
    assert find_link(
        page('<video><source src="/p/1"></video>', url="https://blog.example.org/v"),
        TARGET,
        media=True,
    )


def test_base_href_resolves_relative_links():
    html = '<base href="https://blog.example.org/p/"><a href="1">x</a>'
    assert find_link(page(html), TARGET) is not None


def test_non_html_never_verifies():
    assert (
        find_link(page(f'<a href="{TARGET}">x</a>', content_type="application/json"), TARGET)
        is None
    )


def test_the_excerpt_is_about_100_characters_each_side():
    before, after = "b" * 300, "a" * 300
    found = find_link(page(f'<p>{before} <a href="{TARGET}">the link</a> {after}</p>'), TARGET)
    assert found.excerpt == f"{'b' * 100} the link {'a' * 100}"


def test_the_link_in_the_post_wins_over_navigation():
    html = (
        f'<nav><a href="{TARGET}">Home</a></nav><article><p>As <a href="{TARGET}">this post</a> '
        "argues well.</p></article>"
    )
    assert find_link(page(html), TARGET).excerpt == "As this post argues well."


def test_the_title_falls_back_to_the_host():
    assert find_link(page(f'<a href="{TARGET}">x</a>'), TARGET).title == "other.example.org"


@pytest.mark.parametrize(
    ("body", "header", "expected"),
    [
        ("caf\u00e9".encode("utf-8-sig"), "text/html; charset=latin-1", "caf\u00e9"),
        ("caf\u00e9".encode("latin-1"), "text/html; charset=ISO-8859-1", "caf\u00e9"),
        ("\u201cq\u201d".encode("cp1252"), "text/html; charset=iso-8859-1", "\u201cq\u201d"),
        (
            b'<meta charset="windows-1252">' + "\u2013".encode("cp1252"),
            "text/html",
            '<meta charset="windows-1252">\u2013',
        ),
        ("caf\u00e9".encode(), "text/html", "caf\u00e9"),
        ("caf\u00e9".encode("cp1252"), "text/html", "caf\u00e9"),
        (b"x", "text/html; charset=no-such-charset", "x"),
    ],
)
def test_charset_order_bom_header_meta_fallback(body, header, expected):
    assert decode_html(body, header) == expected


# --- the fetcher on its own, with a short deadline ---------------------------------------------


@pytest.fixture
def blog():
    server = Blog()
    yield server
    server.close()


def test_the_deadline_covers_the_whole_fetch(blog):
    blog.pages["/drip"] = Page(writer=drip(20))
    fetcher = Fetcher(user_agent="test", allow_loopback=True, deadline=2)
    with pytest.raises(FetchError) as info:
        fetcher.get(blog.url + "/drip")
    # A byte a second never trips a per-read timeout: only the whole-fetch deadline stops it.
    assert info.value.kind == "timeout"


def test_a_gzip_bomb_stops_at_the_cap_with_memory_bounded(blog):
    import tracemalloc

    blog.pages["/bomb"] = Page(
        gzip_bomb(), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    fetcher = Fetcher(user_agent="test", allow_loopback=True, max_bytes=1024 * 1024)
    tracemalloc.start()
    with pytest.raises(FetchError) as info:
        fetcher.get(blog.url + "/bomb")
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert info.value.kind == "too_large"
    assert peak < 16 * 1024 * 1024  # the page would inflate to 200 MB


def test_gzip_pages_are_read(blog):
    blog.pages["/gz"] = Page(
        gzip.compress(b"<p>hello</p>"),
        headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
    )
    fetched = Fetcher(user_agent="test", allow_loopback=True).get(blog.url + "/gz")
    assert fetched.body == b"<p>hello</p>"


def test_proxies_from_the_environment_are_ignored(blog, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    blog.page("/ok", "<p>ok</p>")
    assert Fetcher(user_agent="test", allow_loopback=True).get(blog.url + "/ok").status == 200


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/",
        "gopher://x/",
        "http://[::1]:1/",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://100.64.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[2002:a00:1::]/",
    ],
)
def test_forbidden_destinations(url):
    fetcher = Fetcher(user_agent="test", allow_loopback=False, deadline=3)
    with pytest.raises(FetchError) as info:
        fetcher.get(url)
    assert info.value.kind == "refused"
