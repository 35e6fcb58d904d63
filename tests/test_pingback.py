"""Pingback 1.0 at /xmlrpc, driven by xmlrpc.client as the pinging blog."""

import xmlrpc.client

import pytest
import requests
from sqlalchemy import func
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.models import Ban
from commentsvc.models import Comment
from commentsvc.spam import address_hash
from tests.blogs import Blog
from tests.blogs import Page
from tests.blogs import drip
from tests.blogs import endless
from tests.blogs import gzip_bomb
from tests.blogs import post_linking_to
from tests.blogs import typed_answer

pytestmark = pytest.mark.slow


@pytest.fixture
def service(live_server, ours):
    return live_server(GUARD="off")


def call(service, method: str, *args):
    """Call an XML-RPC method on the service as another blog would, with xmlrpc.client."""
    with xmlrpc.client.ServerProxy(service.url + "/xmlrpc") as proxy:
        return getattr(proxy, method)(*args)


def fault_of(call) -> tuple[int, str]:
    with pytest.raises(xmlrpc.client.Fault) as info:
        call()
    return info.value.faultCode, info.value.faultString


def stored(app):
    with app.app_context():
        return db.session.scalars(select(Comment).order_by(Comment.id)).all()


def test_a_valid_ping_lands_in_the_thread_with_title_and_excerpt(app, service, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page("/entry", post_linking_to(target, "Their thoughts"))
    answer = call(service, "pingback.ping", source, target)
    assert isinstance(answer, str) and "registered" in answer

    thread = requests.get(
        service.url + "/api/comments", params={"site": "blog", "uri": "/post/1"}, timeout=10
    ).json()
    [pingback] = thread["comments"]
    assert pingback["kind"] == "pingback"
    assert pingback["source"]["url"] == source
    assert pingback["source"]["title"] == "Their thoughts"
    assert (
        "Have a look at this post , it says it well"
        in pingback["source"]["excerpt"].replace("  ", " ")
        or "Have a look at this post, it says it well" in pingback["source"]["excerpt"]
    )
    assert thread["count"] == 1
    # The verification fetch says who we are and who asked.
    agent = next(h["User-Agent"] for m, p, h, b in theirs.requests if p == "/entry")
    # The agent names the asking client by the keyed hash of its address, never the address.
    asked = address_hash("test-secret-key", "127.0.0.1")
    assert agent.startswith("commentsvc/") and f"client {asked}" in agent
    assert "127.0.0.1" not in agent

    code, _ = fault_of(lambda: call(service, "pingback.ping", source, target))
    assert code == 0x30
    assert len(stored(app)) == 1
    assert theirs.hits("/entry") == 1  # the repeat was refused without a second fetch

    assert call(service, "pingback.extensions.getPingbacks", target) == [source]


def test_every_fault_code(app, service, ours, theirs):
    target = ours.url + "/post/1"
    no_link = theirs.page("/nolink", "<title>x</title><p>Nothing to see, just /post/1 as text.</p>")
    missing = theirs.url + "/missing"
    broken = theirs.page("/broken", "oops", status=500)
    cases = [
        (lambda: call(service, "pingback.ping", missing, target), 0x10),
        (lambda: call(service, "pingback.ping", "ftp://example.org/x", target), 0x10),
        (lambda: call(service, "pingback.ping", no_link, target), 0x11),
        (
            lambda: call(
                service,
                "pingback.ping",
                theirs.page("/a", post_linking_to(ours.url + "/gone")),
                ours.url + "/gone",
            ),
            0x20,
        ),
        (lambda: call(service, "pingback.ping", no_link, "not a url"), 0x20),
        (
            lambda: call(service, "pingback.ping", no_link, "https://elsewhere.example.org/post"),
            0x21,
        ),
        (lambda: call(service, "pingback.ping", broken, target), 0x32),
        (lambda: call(service, "pingback.ping", target, target), 0),
    ]
    for attempt, expected in cases:
        code, message = fault_of(attempt)
        assert code == expected, message
        assert "Traceback" not in message and "Error" not in message
    assert theirs.hits("/missing") == 1
    assert ours.hits("/post/1") == 0  # source == target was refused without a fetch
    assert stored(app) == []


def test_linkbacks_turned_off_give_0x21(app, service, ours, theirs):
    from commentsvc.sites import update_site

    with app.app_context():
        update_site("blog", linkbacks=False)
    target = ours.url + "/post/1"
    code, _ = fault_of(
        lambda: call(service, "pingback.ping", theirs.page("/e", post_linking_to(target)), target)
    )
    assert code == 0x21


def test_a_banned_source_gets_0x31_without_a_fetch(app, service, ours, theirs):
    with app.app_context(), write_transaction() as session:
        session.add(Ban(kind="domain", value="127.0.0.1"))
    target = ours.url + "/post/1"
    source = theirs.page("/e", post_linking_to(target))
    code, _ = fault_of(lambda: call(service, "pingback.ping", source, target))
    assert code == 0x31
    assert theirs.hits("/e") == 0


def test_a_flood_of_pings_from_one_client_gets_0x31(app, live_server, ours, theirs):
    service = live_server(GUARD="on")
    target = ours.url + "/post/1"
    codes = []
    for n in range(12):
        source = theirs.page(f"/nolink{n}", "<p>no link</p>")
        codes.append(fault_of(lambda s=source: call(service, "pingback.ping", s, target))[0])
    assert codes[:10] == [0x11] * 10
    assert codes[10:] == [0x31, 0x31]
    assert theirs.hits("/nolink11") == 0


def test_malformed_calls_get_interop_faults_not_python_errors(service):
    for attempt, expected in [
        (lambda: call(service, "pingback.nothing", "a", "b"), -32601),
        (lambda: call(service, "system.multicall", []), -32601),
        (lambda: call(service, "pingback.ping", "only one"), -32602),
        (lambda: call(service, "pingback.ping", 1, 2), -32602),
        (lambda: call(service, "pingback.ping", "a", "b", "c"), -32602),
        (lambda: call(service, "pingback.extensions.getPingbacks"), -32602),
    ]:
        code, message = fault_of(attempt)
        assert code == expected
        assert "Traceback" not in message and "Exception" not in message
    fault_response = xmlrpc.client.dumps(xmlrpc.client.Fault(4, "no"), methodresponse=True)
    for body, expected in (
        (b"not xml", -32700),
        (b"<methodCall><methodName>x</methodName><params><param>", -32700),
        (b"", -32700),
        (b"<?xml version='1.0'?><methodCall></methodCall>", -32600),
        # Answers and other XML are no calls: they used to give 500 (a Fault raised by loads).
        (fault_response.encode(), -32600),
        (xmlrpc.client.dumps(("x",), methodresponse=True).encode(), -32600),
        (b"<methodResponse><fault><value><int>1</int></value></fault></methodResponse>", -32600),
        (b"<html><body>hi</body></html>", -32600),
        (
            b"<methodCall><methodName>pingback.ping</methodName><params><param><value>"
            b"<dateTime.iso8601>never</dateTime.iso8601></value></param></params></methodCall>",
            -32600,
        ),
        (
            b"<methodCall><methodName>pingback.ping</methodName><params><param><value>"
            b"<struct><member><value>1</value></member></struct></value></param></params>"
            b"</methodCall>",
            -32600,
        ),
    ):
        response = requests.post(service.url + "/xmlrpc", data=body, timeout=10)
        assert response.status_code == 200, body
        with pytest.raises(xmlrpc.client.Fault) as info:
            xmlrpc.client.loads(response.content)
        assert info.value.faultCode == expected, body
    assert requests.get(service.url + "/xmlrpc", timeout=10).status_code == 405


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&lol4;</string></value></param><param><value><string>x</string></value></param>
</params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>pingback.ping</methodName><params>
<param><value><string>&secret;</string></value></param><param><value><string>x</string></value></param>
</params></methodCall>"""


def test_hostile_xml_is_refused_at_once(service):
    for body in (BILLION_LAUGHS, EXTERNAL_ENTITY):
        response = requests.post(service.url + "/xmlrpc", data=body, timeout=5)
        with pytest.raises(xmlrpc.client.Fault) as info:
            xmlrpc.client.loads(response.content)
        assert info.value.faultCode == -32700
        assert b"root:" not in response.content
    big = requests.post(
        service.url + "/xmlrpc", data=b"<a>" + b"x" * 1024 * 1024 + b"</a>", timeout=10
    )
    assert big.status_code == 413
    gz = requests.post(
        service.url + "/xmlrpc", data=b"x", headers={"Content-Encoding": "gzip"}, timeout=5
    )
    assert gz.status_code == 415


# --- hostile sources -------------------------------------------------------------------------


def test_hostile_sources_are_refused_within_the_deadline_and_store_nothing(
    app, live_server, ours, theirs
):

    service = live_server(GUARD="off", FETCH_TIMEOUT=3)
    target = ours.url + "/post/1"
    link = post_linking_to(target).encode()
    theirs.pages["/huge"] = Page(link + b"<p>" + b"a" * (20 * 1024 * 1024))
    theirs.pages["/endless"] = Page(writer=endless())
    theirs.pages["/drip"] = Page(writer=drip(30))
    theirs.pages["/bomb"] = Page(
        gzip_bomb(), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    theirs.pages["/image"] = Page(b"\x89PNG\r\n" + link, headers={"Content-Type": "image/png"})
    theirs.pages["/to-private"] = Page(status=302, headers={"Location": "http://10.1.2.3/entry"})
    theirs.pages["/to-metadata"] = Page(
        status=307, headers={"Location": "http://169.254.169.254/latest"}
    )
    theirs.pages["/loop"] = Page(status=302, headers={"Location": "/loop"})
    for path, expected in [
        ("/huge", 0x10),
        ("/endless", 0x10),
        ("/drip", 0x32),
        ("/bomb", 0x10),
        ("/image", 0x11),
        ("/to-private", 0x10),
        ("/to-metadata", 0x10),
        ("/loop", 0x10),
    ]:
        code, message = fault_of(
            lambda p=path: call(service, "pingback.ping", theirs.url + p, target)
        )
        assert code == expected, (path, message)
    assert stored(app) == []


def test_loopback_sources_are_refused_unless_private_fetching_is_on(app, live_server, ours, theirs):
    service = live_server(GUARD="off", FETCH_ALLOW_PRIVATE="off")
    target = ours.url + "/post/1"
    source = theirs.page("/e", post_linking_to(target))
    code, message = fault_of(lambda: call(service, "pingback.ping", source, target))
    assert code == 0x10 and "address is not allowed" in message
    # A name that resolves to a private address: the message does not say which address.
    named = source.replace("127.0.0.1", "localhost")
    code, message = fault_of(lambda: call(service, "pingback.ping", named, target))
    assert code == 0x10 and "address is not allowed" in message
    assert "127.0.0.1" not in message and "::1" not in message
    assert theirs.hits("/e") == 0
    assert stored(app) == []


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_latin1_and_cp1252_sources(app, service, ours, theirs, encoding):
    target = ours.url + "/post/1"
    html = post_linking_to(
        target,
        "Caf\u00e9 \u2013 \u201cna\u00efve\u201d"
        if encoding == "cp1252"
        else "Caf\u00e9 na\u00efve",
        words="D\u00e9j\u00e0 vu \u00e0 la cr\u00e8me.",
    )
    declared = "iso-8859-1" if encoding == "latin-1" else "windows-1252"
    theirs.pages["/e"] = Page(
        html.encode(encoding), headers={"Content-Type": f"text/html; charset={declared}"}
    )
    call(service, "pingback.ping", theirs.url + "/e", target)
    [comment] = stored(app)
    assert comment.source_title.startswith("Caf\u00e9")
    assert "D\u00e9j\u00e0 vu \u00e0 la cr\u00e8me." in comment.excerpt
    if encoding == "cp1252":
        assert "\u201cna\u00efve\u201d" in comment.source_title


def test_meta_charset_is_used_without_a_header(app, service, ours, theirs):
    target = ours.url + "/post/1"
    html = '<meta charset="windows-1252">' + post_linking_to(target, "\u201cQuoted\u201d")
    theirs.pages["/e"] = Page(html.encode("cp1252"), headers={"Content-Type": "text/html"})
    call(service, "pingback.ping", theirs.url + "/e", target)
    assert stored(app)[0].source_title == "\u201cQuoted\u201d"


def test_script_in_title_and_excerpt_is_stored_as_text(app, service, ours, theirs):
    target = ours.url + "/post/1"
    html = (
        f"<title>&lt;script&gt;alert(1)&lt;/script&gt; title</title><p>&lt;img src=x onerror=alert(1)&gt; "
        f'before <a href="{target}">link</a> after <b>bold</b><script>alert(2)</script></p>'
    )
    theirs.pages["/e"] = Page(html)
    call(service, "pingback.ping", theirs.url + "/e", target)
    [comment] = stored(app)
    assert comment.source_title == "<script>alert(1)</script> title"
    assert "<img src=x onerror=alert(1)>" in comment.excerpt
    assert "alert(2)" not in comment.excerpt
    assert "<script>" not in comment.html and "<img" not in comment.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in comment.html


def test_a_ping_goes_through_moderation(app, service, ours, theirs):
    from commentsvc.sites import update_site

    with app.app_context():
        update_site("blog", moderation="all")
    target = ours.url + "/post/1"
    call(service, "pingback.ping", theirs.page("/e", post_linking_to(target)), target)
    [comment] = stored(app)
    assert (comment.status, comment.reason) == ("pending", "policy: every comment is held")
    thread = requests.get(
        service.url + "/api/comments", params={"site": "blog", "uri": "/post/1"}, timeout=10
    ).json()
    assert thread["comments"] == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 1


def test_fetches_per_source_host_are_limited_and_failures_are_remembered(app, ours, theirs):
    from commentsvc.errors import ServiceError
    from commentsvc.linkbacks.receive import SOURCE_HOST_LIMITS
    from commentsvc.linkbacks.receive import Context
    from commentsvc.linkbacks.receive import receive_pingback
    from commentsvc.models import utcnow
    from commentsvc.spam import Guard

    per_minute = int(SOURCE_HOST_LIMITS[0].split()[0])
    target = ours.url + "/post/1"

    def ping(source, client):
        ctx = Context(
            fetcher=app.extensions["fetcher"],
            guard=Guard(limiter=app.extensions["limiter"], enabled=True, secret="x"),
            now=utcnow(),
            address=f"client-{client}",
        )
        with app.app_context(), pytest.raises(ServiceError) as info:
            receive_pingback(source, target, ctx)
        return info.value.fault

    # Many clients (a botnet, say) pinging with sources on one host: that host is not hammered.
    codes = [ping(theirs.page(f"/n{n}", "<p>no link</p>"), n) for n in range(per_minute + 2)]
    assert codes[:per_minute] == [0x11] * per_minute
    assert codes[per_minute:] == [0x31, 0x31]
    fetched = sum(theirs.hits(f"/n{n}") for n in range(per_minute + 2))
    assert fetched == per_minute

    # A ping that failed is answered from memory: the same source is not fetched again.
    with app.app_context():
        app.extensions["limiter"].storage.reset()  # both blogs are on 127.0.0.1
    other = Blog()
    try:
        source = other.page("/nolink", "<p>no link</p>")
        assert ping(source, "x") == 0x11
        assert ping(source, "y") == 0x11
        assert other.hits("/nolink") == 1
    finally:
        other.close()


# --- hardening -------------------------------------------------------------------------------------


def test_the_gate_bounds_verifications_in_all_per_client_and_per_source_host():
    from commentsvc.errors import RateLimited
    from commentsvc.linkbacks.receive import Gate

    gate = Gate(total=2, per_key=1, wait=0.01)
    with gate.hold("client:a", "host:x"):
        for keys in (("client:a", "host:y"), ("client:b", "host:x")):
            with pytest.raises(RateLimited) as info, gate.hold(*keys):
                pass
            assert info.value.fault == 0x31 and info.value.retry_after > 0
        with gate.hold("client:b", "host:y"):
            assert gate.running() == 2
            with pytest.raises(RateLimited), gate.hold("client:c", "host:z"):
                pass
    assert gate.running() == 0
    with gate.hold("client:a", "host:x"):
        assert gate.running() == 1


def test_slow_sources_from_one_client_do_not_hold_the_workers(app, live_server, ours, theirs):
    """8 pings with slow sources used to hold all 4 threads of a worker for the whole fetch
    deadline, /healthz with them."""
    import threading

    deadline = 8
    service = live_server(workers=1, GUARD="off", FETCH_TIMEOUT=str(deadline))
    target = ours.url + "/post/1"
    sources = []
    for n in range(8):
        theirs.pages[f"/slow{n}"] = Page(writer=drip(deadline * 2))
        sources.append(theirs.url + f"/slow{n}")
    codes = []

    def ping(source):
        try:
            call(service, "pingback.ping", source, target)
            codes.append("ok")
        except xmlrpc.client.Fault as fault:
            codes.append(fault.faultCode)

    threads = [threading.Thread(target=ping, args=(s,)) for s in sources]
    for thread in threads:
        thread.start()
    while not any(theirs.hits(f"/slow{n}") for n in range(8)):
        threads[0].join(0.05)
    # While a slow source is being read, the service still answers within the fetch deadline.
    assert requests.get(service.url + "/healthz", timeout=deadline).status_code == 200
    for thread in threads:
        thread.join(deadline * 3)
    assert sorted(codes, key=str) == [0x31] * 7 + [0x32]  # one verified at a time; 0x32: too slow
    assert sum(theirs.hits(f"/slow{n}") for n in range(8)) == 1


def test_odd_charsets_bad_lengths_and_own_pages(app, service, ours, theirs):
    target = ours.url + "/post/1"
    page = post_linking_to(target).encode()
    theirs.pages["/rot13"] = Page(writer=typed_answer("text/html; charset=rot13", page))
    theirs.pages["/base64"] = Page(
        writer=typed_answer("text/html", b'<meta charset="base64">' + page)
    )
    theirs.pages["/length"] = Page(writer=typed_answer("text/html", page, content_length="\u00b2"))
    # These gave 500 (a LookupError or ValueError from the page's declarations).
    assert "registered" in call(service, "pingback.ping", theirs.url + "/rot13", target)
    assert "registered" in call(service, "pingback.ping", theirs.url + "/base64", target)
    code, message = fault_of(lambda: call(service, "pingback.ping", theirs.url + "/length", target))
    assert code == 0x10 and "Content-Length" in message
    # The service's own pages are no source (the thread page holds commenters' links).
    own = service.url + "/t/blog?uri=/post/1"
    code, _ = fault_of(lambda: call(service, "pingback.ping", own, target))
    assert code == 0x31
    theirs.pages["/hop"] = Page(status=302, headers={"Location": own})
    code, message = fault_of(lambda: call(service, "pingback.ping", theirs.url + "/hop", target))
    assert code == 0x31 and "redirects to a page of this comment service" in message
    code, _ = fault_of(
        lambda: call(service, "pingback.ping", own.upper().replace("/T/", "/t/"), target)
    )
    assert code == 0x31


def test_spellings_of_one_source_are_registered_once(app, service, ours, theirs):
    target = ours.url + "/post/1"
    source = theirs.page("/entry", post_linking_to(target))
    assert "registered" in call(service, "pingback.ping", source, target)
    for spelling in (source + "#x", source + "?", source.replace("http://", "HTTP://")):
        code, _ = fault_of(lambda s=spelling: call(service, "pingback.ping", s, target + "#c"))
        assert code == 0x30
    assert [c.source_url for c in stored(app)] == [source]


def test_the_gate_forgets_clients_once_they_are_done():
    from commentsvc.linkbacks.receive import Gate

    gate = Gate()
    for n in range(100):
        with gate.hold(f"client:{n}", f"host:{n}"):
            pass
    assert dict(gate._running) == {"": 0}
