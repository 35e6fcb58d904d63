"""The one way the service fetches other people's pages (commentsvc.linkbacks.fetch):
deadlines, caps, refused destinations, and no proxies."""

import gzip

import pytest

from commentsvc.linkbacks.fetch import Fetcher
from commentsvc.linkbacks.fetch import FetchError
from tests.blogs import Blog
from tests.blogs import Page
from tests.blogs import drip
from tests.blogs import gzip_bomb

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


def test_reserved_names_are_refused_before_any_lookup():
    from commentsvc.linkbacks.fetch import Fetcher
    from commentsvc.linkbacks.fetch import FetchError

    fetcher = Fetcher(user_agent="test", allow_loopback=True)
    for url in ("https://blog.example.org/post", "http://a.test/", "http://x.invalid./p"):
        with pytest.raises(FetchError) as refused:
            fetcher.get(url)
        assert refused.value.kind == "refused" and "reserved" in refused.value.message


def _raw_answer(content_length: str, body: bytes = b"<p>hello</p>"):
    def write(handler):
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", content_length)
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(body)

    return write


@pytest.mark.parametrize("length", ["\u00b2", "-1", "1e3", "12, 12", "99999999999999999999999"])
def test_a_bad_content_length_is_a_fetch_error(blog, length):
    blog.pages["/bad"] = Page(writer=_raw_answer(length))
    fetcher = Fetcher(user_agent="test", allow_loopback=True, deadline=3)
    with pytest.raises(FetchError):
        fetcher.get(blog.url + "/bad")


def test_refusals_do_not_say_what_a_name_resolves_to():
    fetcher = Fetcher(user_agent="test", allow_loopback=False, deadline=3)
    with pytest.raises(FetchError) as info:
        fetcher.get("http://localhost:1/")
    assert info.value.kind == "refused"
    assert "127.0.0.1" not in info.value.message and "::1" not in info.value.message
