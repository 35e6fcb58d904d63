"""Pingbacks between us and a real WordPress: it pings us, we ping it, nothing is a stand-in.

Runs where PHP, Debian's WordPress package and MariaDB are present (.ci/run installs them);
elsewhere it skips and says what is missing.
"""

from __future__ import annotations

import time

import pytest
import requests

from tests.blogs import Blog
from tests.blogs import Page
from tests.conftest import add_site
from tests.interop import wordpress

pytestmark = pytest.mark.slow

WHY_NOT = wordpress.missing()
if WHY_NOT:
    pytest.skip(f"no WordPress to test against: {WHY_NOT}", allow_module_level=True)


@pytest.fixture
def blog():
    """Our blog: its pages carry the service's pingback endpoint, as the README says."""
    server = Blog()
    yield server
    server.close()


@pytest.fixture
def service(app, blog, live_server):
    add_site(app, url=blog.url, moderation="none")
    return live_server(workers=2)


@pytest.fixture
def wp(tmp_path, blog, service):
    site = wordpress.WordPress(
        tmp_path / "wp", allowed_ports=[blog.server.server_address[1], service.port]
    )
    try:
        site.start()
    except Exception:
        site.stop()
        raise
    yield site
    site.stop()


def our_post(blog: Blog, service, path: str = "/posts/hello") -> str:
    return blog.page(
        path,
        f"""<!doctype html><html><head><title>Hello from our blog</title>
<link rel="pingback" href="{service.url}/xmlrpc">
<link rel="webmention" href="{service.url}/webmention"></head>
<body><article><h1>Hello from our blog</h1><p>Our own words.</p></article></body></html>""",
    )


def thread(service, uri: str) -> dict:
    return requests.get(
        f"{service.url}/api/comments", params={"site": "blog", "uri": uri}, timeout=10
    ).json()


def wait_for_mentions(service, uri: str, count: int = 1, seconds: float = 30) -> list[dict]:
    deadline = time.monotonic() + seconds
    while True:
        mentions = [c for c in thread(service, uri)["comments"] if c["kind"] == "pingback"]
        if len(mentions) >= count or time.monotonic() > deadline:
            return mentions
        time.sleep(0.3)


def test_wordpress_pings_us_and_reads_our_answers(wp, blog, service):
    target = our_post(blog, service)
    wp.set_option("default_pingback_flag", "1")  # Settings → Discussion: notify blogs linked to
    post = wp.publish(
        "Interop notes",
        "<p>Yesterday I read a fine post about embedding comments anywhere, and "
        f'<a href="{target}">this one says it best</a>, so I link to it here today.</p>',
    )

    wp.do_all_pings()

    (mention,) = wait_for_mentions(service, "/posts/hello")
    assert mention["source"]["url"] == post["url"]
    assert "Interop notes" in mention["source"]["title"]
    assert "this one says it best" in mention["source"]["excerpt"]
    assert target in wp.pinged(post["id"]), wp.output()

    # WordPress pings again once it forgets: our fault 48 counts as "already pinged" there.
    wp.php(
        f"global $wpdb; $wpdb->update($wpdb->posts, array('pinged' => ''), "
        f"array('ID' => {post['id']})); clean_post_cache({post['id']}); "
        f"add_post_meta({post['id']}, '_pingme', '1'); $result = true;"
    )
    assert wp.ping(f"{service.url}/xmlrpc", post["url"], target) == {
        "ok": False,
        "code": 48,
        "message": wp.ping(f"{service.url}/xmlrpc", post["url"], target)["message"],
    }
    wp.do_all_pings()
    assert target in wp.pinged(post["id"])
    assert len(wait_for_mentions(service, "/posts/hello")) == 1


def test_wordpress_gets_our_faults(wp, blog, service):
    target = our_post(blog, service)
    unrelated = wp.publish("Nothing about you", "<p>No link to anyone in this post.</p>")

    answer = wp.ping(f"{service.url}/xmlrpc", unrelated["url"], target)
    assert answer["ok"] is False and answer["code"] == 17, answer

    answer = wp.ping(f"{service.url}/xmlrpc", unrelated["url"], "http://elsewhere.example/post")
    assert answer["ok"] is False and answer["code"] == 33, answer
    assert wait_for_mentions(service, "/posts/hello", seconds=0) == []


def test_we_ping_wordpress(wp, blog, service, cli):
    theirs = wp.publish("A WordPress post", "<p>Something worth linking to.</p>")
    source = blog.page(
        "/posts/linking",
        f"""<!doctype html><html><head><title>We link to WordPress</title></head><body>
<article class="h-entry"><h1 class="p-name">We link to WordPress</h1><div class="e-content">
<p>A post over there says <a href="{theirs["url"]}">something worth linking to</a>.</p>
</div></article></body></html>""",
    )

    first = cli("send", source)
    assert first.exit_code == 0, first.output
    assert "1 sent" in first.output

    (stored,) = wp.pingbacks(theirs["id"])
    assert stored["url"] == source
    assert "We link to WordPress" in stored["author"]

    again = cli("send", "--all", source)
    assert again.exit_code == 0, again.output
    assert "already registered" in again.output
    assert len(wp.pingbacks(theirs["id"])) == 1


def test_wordpress_refuses_a_ping_whose_source_has_no_link(wp, blog, service, cli):
    theirs = wp.publish("Another WordPress post", "<p>Worth a link, too.</p>")
    head = "<html><head><title>A fickle post</title></head><body>"
    with_link = f'{head}<p><a href="{theirs["url"]}">a link</a></p></body></html>'
    without = f"{head}<p>The link is gone by the time WordPress looks.</p></body></html>"
    served = []

    def changing(handler):
        body = (with_link if not served else without).encode()
        served.append(handler.path)
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html; charset=utf-8")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    blog.pages["/posts/fickle"] = Page(writer=changing)

    result = cli("send", f"{blog.url}/posts/fickle")
    assert result.exit_code == 1, result.output
    # WordPress answers fault 0 to every refusal but "already registered", so say just that.
    assert "failed" in result.output
    assert "refused without a reason" in result.output, result.output
    assert wp.pingbacks(theirs["id"]) == []
