"""Fuzzing the linkback faces with hypothesis: hostile bodies never give a 500 or a traceback.

The XML-RPC and Webmention endpoints get random and hostile bodies, parameters of the wrong
types, huge strings and odd Unicode; verification gets generated hostile HTML. The service's
fetcher is replaced by one that fetches nothing, so that no example reaches the network.
"""

from __future__ import annotations

import xmlrpc.client
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from commentsvc.linkbacks import verify
from commentsvc.linkbacks.fetch import Fetched
from commentsvc.linkbacks.fetch import FetchError
from tests.conftest import add_site

SITE = "https://blog.example.org"
TARGET = SITE + "/p/1"
FAULTS = {-32700, -32600, -32601, -32602, 0, 0x10, 0x11, 0x20, 0x21, 0x30, 0x31, 0x32}
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class NoFetcher:
    """A fetcher that refuses every URL: the fuzz reaches no server at all."""

    user_agent = "test"

    def get(self, url, **kwargs):
        raise FetchError("refused", "fetching is off in this test")

    def request(self, method, url, **kwargs):
        raise FetchError("refused", "fetching is off in this test")


@pytest.fixture
def fuzz_client(app):
    add_site(app, url=SITE)
    app.extensions["fetcher"] = NoFetcher()
    return app.test_client()


odd_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()),
    max_size=300,
)
urls = st.one_of(
    odd_text,
    st.sampled_from(
        [
            TARGET,
            TARGET + "#x",
            "HTTP://BLOG.EXAMPLE.ORG./p/1?",
            "https://blog.example.org:443/p/1",
            "https://other.example.org/post",
            "http://[::1",
            "http://a:99999/",
            "http://xn--/",
            "http://b\u00fccher.example/\u2028",
            "http://localhost/",
            "javascript:alert(1)",
            "https://x.example/" + "a" * 5000,
            "",
        ]
    ),
    st.builds(lambda path: SITE + "/" + path, odd_text),
)
values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | urls
    | st.binary(max_size=50),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(odd_text, inner, max_size=3),
    max_leaves=8,
)
methods = st.one_of(
    st.sampled_from(
        ["pingback.ping", "pingback.extensions.getPingbacks", "system.listMethods", ""]
    ),
    odd_text,
)


def _call_body(method: str, params: tuple) -> bytes:
    return xmlrpc.client.dumps(params, method, allow_none=True).encode("utf-8", "surrogatepass")


xmlrpc_bodies = st.one_of(
    st.binary(max_size=3000),
    st.builds(_call_body, methods, st.lists(values, max_size=3).map(tuple)),
    st.builds(
        lambda params: xmlrpc.client.dumps(params, methodresponse=True, allow_none=True).encode(
            "utf-8", "surrogatepass"
        ),
        st.tuples(values),
    ),
    st.builds(
        lambda code, text: xmlrpc.client.dumps(
            xmlrpc.client.Fault(code, text), methodresponse=True
        ).encode("utf-8", "surrogatepass"),
        st.integers(-(2**31), 2**31 - 1),
        odd_text,
    ),
    st.builds(lambda a, b: _call_body("pingback.ping", (a, b)), urls, urls),
)


def _check_xmlrpc_answer(response) -> None:
    assert response.status_code in (200, 413, 415), response.data[:300]
    assert b"Traceback" not in response.data
    if response.status_code == 415:
        return
    try:
        (result,), _ = xmlrpc.client.loads(response.data)
    except xmlrpc.client.Fault as fault:
        assert fault.faultCode in FAULTS, fault
        assert "Error" not in fault.faultString and "Exception" not in fault.faultString
    else:
        assert isinstance(result, str | list)


@FUZZ
@given(body=xmlrpc_bodies)
def test_xmlrpc_answers_every_body_with_a_response_or_a_known_fault(fuzz_client, body):
    _check_xmlrpc_answer(fuzz_client.post("/xmlrpc", data=body))


@FUZZ
@given(
    form=st.dictionaries(
        st.sampled_from(["source", "target", "other"]),
        urls,
        max_size=3,
    ),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "application/json",
            "text/plain",
        ]
    ),
)
def test_webmention_answers_every_form_with_201_or_a_4xx_error_shape(
    fuzz_client, form, content_type
):
    if content_type == "application/x-www-form-urlencoded":
        body = urlencode(form, encoding="utf-8", errors="surrogatepass")
        response = fuzz_client.post("/webmention", data=body, content_type=content_type)
    elif content_type == "multipart/form-data":
        form = {
            k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            for k, v in form.items()
        }
        response = fuzz_client.post("/webmention", data=form, content_type=content_type)
    else:
        response = fuzz_client.post(
            "/webmention",
            data=repr(form).encode("utf-8", "surrogatepass"),
            content_type=content_type,
        )
    assert response.status_code in (201, 400, 403, 413, 415, 429), response.data[:300]
    body = response.get_json()
    if response.status_code == 201:
        assert body["status"] == "pending"
    else:
        assert set(body["error"]) <= {"code", "message", "field"} and body["error"]["code"]


# --- verification of generated hostile HTML -----------------------------------------------------

fragments = st.sampled_from(
    [
        f'<a href="{TARGET}">',
        "<a href='/p/1'>",
        "<a>",
        "</a>",
        "<div>",
        "</div>",
        "<p class='e-content'>",
        "<article class='h-entry'>",
        "<span class='p-author h-card'>",
        f"<a class='u-like-of' href='{TARGET}'>",
        "<!--",
        "-->",
        "<script>",
        "</script>",
        "<title>",
        "</title>",
        "<base href='https://blog.example.org/p/'>",
        '<meta charset="rot13">',
        "&amp;",
        "&#",
        "&#x110000;",
        "<",
        ">",
        "'",
        '"',
        "=",
        " ",
        "[…]",
        "\u2028",
        "\0",
        "\ud800",
        "<img src='/p/1'>",
        "</",
        "<!",
        "<?",
    ]
)
html_pages = st.lists(st.one_of(fragments, odd_text), max_size=120).map("".join)
charsets = st.sampled_from(
    ["", "utf-8", "rot13", "base64", "utf-16", "latin-1", "x-user-defined", "iso-2022-kr", "nope"]
)


@FUZZ
@given(html=html_pages, charset=charsets, media=st.booleans())
def test_find_link_on_hostile_html_never_fails_and_stays_bounded(html, charset, media):
    body = html.encode("utf-8", "surrogatepass")
    header = f"text/html; charset={charset}" if charset else "text/html"
    text = verify.decode_html(body, header)
    assert isinstance(text, str) and len(text) <= len(body) + 1
    fetched = Fetched(
        url="https://other.example.org/a", status=200, headers={"content-type": header}, body=body
    )
    found = verify.find_link(fetched, TARGET, media=media)
    if found is not None:
        assert len(found.title) <= verify.MAX_TITLE
        assert len(found.excerpt) <= verify.MAX_EXCERPT
        assert len(found.author) <= verify.MAX_AUTHOR
        assert len(found.author_url) <= verify.MAX_URL
        assert len(found.author_photo) <= verify.MAX_URL
        assert "\0LINK\0" not in found.excerpt
