"""Fuzzing every route family with hostile input: never a 500, never a traceback.

One test per family (the JSON API, the admin pages logged in and out, the service's own pages),
driven by hypothesis through the Flask test client. The strategies mix random text with the
spellings that broke the service before: digits of other scripts ('²', '٣', full-width), JSON
nested a thousand deep, line breaks in redirect targets, non-ASCII in tokens, numbers past any
column's range. derandomize=True keeps CI stable: the same examples on every run.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from commentsvc.admins import add_admin
from commentsvc.errors import ERROR_CODES
from tests.conftest import ORIGIN
from tests.conftest import add_site

FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Deeper than any recursion limit (hypothesis raises the limit while it runs), within 64 KB.
DEEP_ARRAY = "[" * 20_000 + "]" * 20_000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
NUMBERISH = [
    "²",
    "٣",
    "１２",
    "1²",
    "-1",
    "9" * 25,
    "9" * 5000,
    " 1",
    "1e3",
    "0",
    "2147483648",
    "9223372036854775808",
]
HOSTILE = [
    "",
    "²",
    "٣",
    "１２",
    "1²",
    "0",
    "-1",
    "+1",
    " 1",
    "1 ",
    "1e3",
    "1.0",
    "0x10",
    "9" * 25,
    "9" * 5000,
    "2147483648",
    "9223372036854775808",
    "\x00",
    "a\x00b",
    "\r\n",
    "1\r\nX-Injected: yes",
    "/admin\r\nX-Injected: yes",
    "/admin/\nX-Injected: yes",
    "//evil.example",
    "/\\evil.example",
    "/admin\\..\\x",
    "/admin/../x",
    "/adminx",
    "https://evil.example/admin",
    "javascript:alert(1)",
    "é",
    "\u2028",
    "\u202e",
    "\ufeff",
    "%00",
    "%ff",
    "..",
    ".",
    "1.1.é",
    "².²³.x",
    "1.².x",
    "1.approve.pending.1.é",
    "1.approve.pending.².x",
    "99999999999999999999.x",
    "1." + "a" * 64,
    DEEP_ARRAY,
    DEEP_OBJECT,
    "a" * 3000,
    "blog",
    "/post/1",
    "1",
    "approve:1",
    "approve:²",
    "delete",
]
# What broke the service before, drawn most often: NUL (PostgreSQL refuses it in text), a
# digit that is not ASCII, a header injection, non-ASCII in a token.
WORST = ["\x00", "a\x00", "²", "1\r\nX-Injected: yes", "é", "1.1.é", "/admin\r\nX-Injected: y"]
SEPARATORS = [".", ":", "-", "/", "?", "#", "&", "="]


def pick(values: list[str]) -> st.SearchStrategy[str]:
    """sampled_from, without a repr of the 40 KB samples in every report."""
    return st.integers(0, len(values) - 1).map(lambda i: values[i])


def hostile_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """The spellings above (most often), random text, and tokens glued from both."""
    piece = st.one_of(
        pick(HOSTILE),
        st.text(max_size=max_size),
        st.from_regex(r"[0-9.²٣１a-f:-]{0,24}", fullmatch=True),
    )
    glued = st.lists(st.one_of(piece, st.sampled_from(SEPARATORS)), min_size=2, max_size=5).map(
        "".join
    )
    return st.one_of(
        pick(HOSTILE), st.sampled_from(NUMBERISH), st.sampled_from(WORST), piece, glued
    )


def numberish() -> st.SearchStrategy[str]:
    """Numbers as they should be, and every spelling that int() or isdigit() takes wrongly."""
    return st.one_of(st.sampled_from(NUMBERISH), st.sampled_from(["1", "2", "50"]), hostile_text())


def tokens() -> st.SearchStrategy[str]:
    """Dotted tokens (edit, form, mail and unsubscribe links) with hostile parts."""
    part = st.one_of(
        st.sampled_from(["1", "2", "approve", "pending", "ab" * 16]),
        st.sampled_from(NUMBERISH),
        st.sampled_from(WORST),
    )
    return st.one_of(st.lists(part, min_size=2, max_size=5).map(".".join), hostile_text())


# Built once: building strategies anew for every example costs more than running it.
HOSTILE_TEXT = hostile_text()
NUMBERS = numberish()
TOKENS = tokens()


def json_values() -> st.SearchStrategy:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**31 - 2, max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        HOSTILE_TEXT,
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
        ),
        max_leaves=8,
    )


def _cursor(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


CURSORS = [
    _cursor(DEEP_ARRAY),
    _cursor('["oldest",' + DEEP_ARRAY + "]"),
    _cursor('["oldest", 1e999]'),
    _cursor('["oldest", 9' + "9" * 5000 + "]"),
    _cursor("\xff"),
    "é",
    "=",
]
CONDITIONS = ["*", 'W/"x"', "bytes=0-1", "bytes=²-", "bytes=9" + "9" * 30 + "-", "bytes=1-0"]
RAW_BODIES = [
    DEEP_ARRAY,
    DEEP_OBJECT,
    '{"text": ' + DEEP_ARRAY + "}",
    '{"site": "blog", "uri": "/p", "text": "x", "parent": ' + "[" * 500 + "]" * 500 + "}",
    "",
    "null",
    "[]",
    '"text"',
    "{",
    '{"parent": 1' + "0" * 5000 + "}",
    '{"text": NaN}',
    '{"text": "\\ud800"}',
    "\xff\xfe{}",
    '{"a": 1, "a": 2}',
]


class Request:
    """A drawn request, shown shortened in reports (some bodies are 40 KB long)."""

    def __init__(self, path: str, **kwargs):
        self.path, self.kwargs = path, kwargs

    def __repr__(self) -> str:
        return f"Request({self.path!r}, {str(self.kwargs)[:2000]})"


def path_segment(value: str) -> str:
    return quote(value, safe="")


def header_value(value: str) -> str:
    """Return the value as a WSGI server hands it over: latin-1, and never a line break."""
    return value.encode("utf-8").decode("latin-1").replace("\r", "").replace("\n", "")


def assert_handled(response, path: str) -> None:
    """Never a 500, never a traceback, never a header from the input; JSON errors on /api."""
    body = response.get_data()
    assert response.status_code < 500, (path, response.status_code, body[:300])
    assert b"Traceback" not in body
    assert "X-Injected" not in response.headers
    assert not any("\n" in value or "\r" in value for _name, value in response.headers.items())
    if path.startswith("/api") and response.status_code >= 400:
        error = response.get_json()["error"]
        assert error["code"] in ERROR_CODES, error
        assert isinstance(error["message"], str) and error["message"]
        assert set(error) <= {"code", "message", "field"}


# --- the JSON API ---------------------------------------------------------------------------------

COMMENT_FIELDS = [
    "site",
    "uri",
    "text",
    "author",
    "email",
    "website",
    "parent",
    "title",
    "notify",
    "homepage",
    "form_token",
    "visitor",
    "like",
]


API_ROUTES = [
    ("GET", "/api/comments"),
    ("POST", "/api/comments"),
    ("GET", "/api/comments/{id}"),
    ("PATCH", "/api/comments/{id}"),
    ("DELETE", "/api/comments/{id}"),
    ("POST", "/api/comments/{id}/like"),
    ("POST", "/api/likes"),
    ("GET", "/api/counts"),
    ("GET", "/api/origin"),
    ("POST", "/api/preview"),
    ("GET", "/api/avatar/{id}.svg"),
    ("GET", "/api/openapi.json"),
    ("PUT", "/api/comments"),
]


COMMENT_FIELD_VALUES = st.dictionaries(st.sampled_from(COMMENT_FIELDS), json_values())


@st.composite
def api_requests(draw, method: str, path: str):
    """A request to one of the API's routes: path, body, query string and headers."""
    comment_id = draw(NUMBERS)
    path = path.replace("{id}", path_segment(comment_id) or "1")
    kwargs: dict = {}
    query = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "site": st.one_of(st.just("blog"), HOSTILE_TEXT),
                "uri": st.one_of(st.just("/post/1"), HOSTILE_TEXT),
                "sort": st.sampled_from(["oldest", "newest", "top", "²"]),
                "limit": st.one_of(st.sampled_from(NUMBERISH), NUMBERS),
                "cursor": st.one_of(pick(CURSORS), HOSTILE_TEXT),
            },
        )
    )
    kwargs["query_string"] = {"site": "blog", "uri": "/post/1", **query}
    if method in ("POST", "PATCH", "PUT"):
        if draw(st.booleans()):
            body = {"site": "blog", "uri": "/post/1", "text": "A comment."}
            body.update(draw(COMMENT_FIELD_VALUES))
            kwargs["data"] = json.dumps(body)
        else:
            kwargs["data"] = draw(st.one_of(pick(RAW_BODIES), HOSTILE_TEXT))
        kwargs["content_type"] = draw(
            st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain"])
        )
    headers = {}
    if draw(st.booleans()):
        headers["X-Edit-Token"] = header_value(draw(TOKENS))
    if draw(st.booleans()):
        headers["Origin"] = draw(st.sampled_from([ORIGIN, "https://evil.example", "null", "é"]))
    for name in ("If-None-Match", "If-Modified-Since", "Range"):
        if draw(st.booleans()):
            headers[name] = header_value(draw(st.one_of(pick(CONDITIONS), HOSTILE_TEXT)))
    kwargs["headers"] = headers
    return Request(path, **kwargs)


API_REQUESTS = {(method, route): api_requests(method, route) for method, route in API_ROUTES}


@pytest.fixture
def fuzz_api(app, client):
    add_site(app)
    for text in ("First.", "Second."):
        response = client.post(
            "/api/comments", json={"site": "blog", "uri": "/post/1", "text": text}
        )
        assert response.status_code == 201
    return client


@pytest.mark.parametrize(("method", "route"), API_ROUTES)
@FUZZ
@given(data=st.data())
def test_the_json_api_answers_every_input_with_a_json_4xx(fuzz_api, method, route, data):
    drawn = data.draw(API_REQUESTS[method, route])
    path, kwargs = drawn.path, drawn.kwargs
    response = fuzz_api.open(path, method=method, **kwargs)
    assert_handled(response, path)


# --- the admin pages ------------------------------------------------------------------------------

PASSWORD = "a long enough password"


ADMIN_ROUTES = [
    ("GET", "/admin/"),
    ("GET", "/admin/comments"),
    ("GET", "/admin/comments/{id}"),
    ("GET", "/admin/bans"),
    ("GET", "/admin/sites"),
    ("GET", "/admin/sites/{id}"),
    ("GET", "/admin/log"),
    ("GET", "/admin/export"),
    ("GET", "/admin/login"),
    ("GET", "/admin/static/{id}"),
    ("POST", "/admin/act"),
    ("POST", "/admin/comments/{id}/edit"),
    ("POST", "/admin/comments/{id}/reply"),
    ("POST", "/admin/comments/{id}/ban"),
    ("POST", "/admin/bans"),
    ("POST", "/admin/bans/{id}/lift"),
    ("POST", "/admin/sites/new"),
    ("POST", "/admin/sites/{id}"),
    ("POST", "/admin/login"),
]
ADMIN_NAMES = {
    "/admin/comments": ["site", "uri", "status", "kind", "q", "page", "done"],
    "/admin/export": ["site"],
    "/admin/login": ["next", "username", "password", "csrf"],
    "/admin/act": ["one", "bulk", "ids", "back"],
    "/admin/bans": ["kind", "value", "site", "reason", "done"],
    "/admin/sites/": [
        "name",
        "url",
        "origins",
        "moderation",
        "link_limit",
        "edit_window",
        "moderation_words",
        "disallowed_words",
        "owner_email",
        "webhook_url",
    ],
}
COMMON_NAMES = ["text", "author", "kind", "back", "done", "csrf", "ids", "page"]


def admin_requests(route: str) -> st.SearchStrategy[Request]:
    """Requests to one of the admin pages, with hostile query and form values."""
    names = COMMON_NAMES + next((v for k, v in ADMIN_NAMES.items() if route.startswith(k)), [])
    numbers = ("page", "ids", "link_limit", "edit_window")
    values = st.fixed_dictionaries(
        {}, optional={name: NUMBERS if name in numbers else HOSTILE_TEXT for name in names}
    )

    def build(segment: str, query: dict, form: dict) -> Request:
        path = route.replace("{id}", path_segment(segment) or "1")
        return Request(path, query_string=query, data=form)

    return st.builds(build, st.one_of(st.just("blog"), NUMBERS), values, values)


ADMIN_REQUESTS = {route: admin_requests(route) for _method, route in ADMIN_ROUTES}


def _csrf(client, path: str) -> str | None:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).get_data(as_text=True))
    return found.group(1) if found else None


@pytest.fixture
def admin_clients(app, client):
    add_site(app, moderation="all")
    with app.app_context():
        add_admin("alice", PASSWORD)
    client.post("/api/comments", json={"site": "blog", "uri": "/post/1", "text": "Held."})
    logged_in = app.test_client()
    token = _csrf(logged_in, "/admin/login")
    response = logged_in.post(
        "/admin/login", data={"csrf": token, "username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    return {"in": (logged_in, _csrf(logged_in, "/admin/bans")), "out": (app.test_client(), None)}


@pytest.mark.parametrize(("method", "route"), ADMIN_ROUTES)
@FUZZ
@given(data=st.data(), who=st.sampled_from(["in", "out"]), with_csrf=st.booleans())
def test_the_admin_pages_answer_every_input_without_a_500(
    admin_clients, method, route, data, who, with_csrf
):
    drawn = data.draw(ADMIN_REQUESTS[route])
    path, kwargs = drawn.path, drawn.kwargs
    client, csrf = admin_clients[who]
    if method == "GET":
        del kwargs["data"]
    elif with_csrf and csrf and "csrf" not in kwargs["data"]:
        kwargs["data"]["csrf"] = csrf
    response = client.open(path, method=method, **kwargs)
    assert_handled(response, path)
    if response.status_code in (301, 302, 303):
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location


# --- the service's own pages ----------------------------------------------------------------------


PAGE_ROUTES = [
    ("GET", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}"),
    ("GET", "/admin/mail/{token}"),
    ("POST", "/admin/mail/{token}"),
    ("GET", "/embed.js"),
    ("GET", "/i18n/{token}.json"),
    ("GET", "/webmention/{token}"),
    ("GET", "/healthz"),
    ("GET", "/"),
    ("GET", "/demo/{token}"),
    ("GET", "/{token}"),
    ("GET", "/me/{token}"),
    ("POST", "/me/{token}/erase"),
]


@st.composite
def page_requests(draw, path: str):
    """A request to the pages a stranger reaches: mail links, unsubscribe, widget files."""
    path = path.replace("{token}", path_segment(draw(TOKENS)) or "x")
    headers = {}
    if draw(st.booleans()):
        headers["If-None-Match"] = header_value(draw(HOSTILE_TEXT))
    if draw(st.booleans()):
        headers["Accept-Encoding"] = draw(st.sampled_from(["gzip", "br;q=²", "é", "*"]))
    query = draw(st.dictionaries(st.sampled_from(["lang", "theme", "next"]), HOSTILE_TEXT))
    return Request(path, headers=headers, query_string=query)


PAGE_REQUESTS = {route: page_requests(route) for _method, route in PAGE_ROUTES}


@pytest.mark.parametrize(("method", "route"), PAGE_ROUTES)
@FUZZ
@given(data=st.data())
def test_the_pages_answer_every_input_without_a_500(fuzz_api, method, route, data):
    drawn = data.draw(PAGE_REQUESTS[route])
    path, kwargs = drawn.path, drawn.kwargs
    response = fuzz_api.open(path, method=method, **kwargs)
    assert_handled(response, path)


# --- each known crash, in every place, for certain -------------------------------------------------

# Random search finds combinations; this tries each value that once broke the service alone in
# every place a route reads, so that none of those crashes can come back unnoticed.
MATRIX_VALUES = [
    *WORST,
    "٣",
    "１２",
    "1²",
    "-1",
    "",
    "9" * 25,
    "2147483648",
    "9223372036854775808",
    "1.2.é.²",
    DEEP_ARRAY,
]
TOKEN = "X-Edit-Token"
API_PLACES = {
    ("GET", "/api/comments"): ["q:site", "q:uri", "q:sort", "q:limit", "q:cursor", "h:Origin"],
    ("POST", "/api/comments"): [*(f"b:{name}" for name in COMMENT_FIELDS), "raw", "h:Origin"],
    ("GET", "/api/comments/{id}"): ["id", f"h:{TOKEN}"],
    ("PATCH", "/api/comments/{id}"): ["id", f"h:{TOKEN}", "b:text", "b:author", "b:website", "raw"],
    ("DELETE", "/api/comments/{id}"): ["id", f"h:{TOKEN}"],
    ("POST", "/api/comments/{id}/like"): ["id", "h:Origin", "b:visitor", "b:like"],
    ("POST", "/api/likes"): ["b:site", "b:uri", "b:visitor", "b:like", "raw"],
    ("GET", "/api/counts"): ["q:site", "q:uri"],
    ("GET", "/api/origin"): ["q:site", "h:Origin"],
    ("POST", "/api/preview"): ["b:text", "b:site", "raw", "h:Origin"],
    ("GET", "/api/avatar/{id}.svg"): ["id"],
    ("POST", "/api/data-requests"): ["b:site", "b:email", "raw", "h:Origin"],
    ("GET", "/feed.atom"): ["q:site", "q:uri", "h:If-None-Match"],
}


def request_with(method: str, route: str, place: str, value: str, body: dict) -> Request:
    """Return a well-formed request to the route with value put in one place."""
    kind, _, name = place.partition(":")
    path = route.replace("{id}", path_segment(value) or "x" if kind == "id" else "1")
    query = {"site": "blog", "uri": "/post/1"}
    headers: dict[str, str] = {}
    body = dict(body)
    if kind == "q":
        query[name] = value
    elif kind == "h":
        headers[name] = header_value(value)
    elif kind == "b":
        body[name] = value
    data = value if kind == "raw" else json.dumps(body)
    kwargs = {"query_string": query, "headers": headers}
    if method in ("POST", "PATCH"):
        kwargs.update(data=data, content_type="application/json")
    return Request(path, **kwargs)


@pytest.mark.parametrize(("method", "route"), list(API_PLACES))
def test_each_known_crash_is_a_json_4xx_in_every_place_of_the_api(fuzz_api, method, route):
    body = {"site": "blog", "uri": "/post/1", "text": "A comment."}
    for place in API_PLACES[method, route]:
        for value in MATRIX_VALUES:
            drawn = request_with(method, route, place, value, body)
            response = fuzz_api.open(drawn.path, method=method, **drawn.kwargs)
            assert_handled(response, drawn.path)


ADMIN_PLACES = {
    ("GET", "/admin/comments"): ["q:site", "q:uri", "q:status", "q:kind", "q:q", "q:page"],
    ("GET", "/admin/comments/{id}"): ["id"],
    ("GET", "/admin/sites/{id}"): ["id"],
    ("POST", "/admin/act"): ["f:one", "f:bulk", "f:ids", "f:back", "f:csrf"],
    ("POST", "/admin/comments/{id}/edit"): ["id", "f:text"],
    ("POST", "/admin/comments/{id}/reply"): ["id", "f:text", "f:author"],
    ("POST", "/admin/comments/{id}/ban"): ["id", "f:kind", "f:back"],
    ("POST", "/admin/bans"): ["f:kind", "f:value", "f:site", "f:reason"],
    ("POST", "/admin/bans/{id}/lift"): ["id"],
    ("POST", "/admin/sites/new"): [f"f:{name}" for name in ADMIN_NAMES["/admin/sites/"]],
    ("POST", "/admin/login"): ["q:next", "f:username", "f:password", "f:csrf"],
    ("GET", "/admin/readers"): ["q:email", "q:site"],
    ("GET", "/admin/readers/comments.json"): ["q:email", "q:site"],
    ("POST", "/admin/readers/erase"): ["f:email", "f:site"],
}
ADMIN_DEFAULTS = {"one": "approve:1", "bulk": "approve", "ids": "1", "kind": "email"}


@pytest.mark.parametrize(("method", "route"), list(ADMIN_PLACES))
def test_each_known_crash_is_a_4xx_in_every_place_of_the_admin_pages(admin_clients, method, route):
    client, csrf = admin_clients["in"]
    for place in ADMIN_PLACES[method, route]:
        kind, _, name = place.partition(":")
        for value in MATRIX_VALUES:
            if value is DEEP_ARRAY:
                continue  # forms are not JSON; its length is tried by the random search
            path = route.replace("{id}", path_segment(value) or "x" if kind == "id" else "1")
            form = {"csrf": csrf, **ADMIN_DEFAULTS}
            query = {}
            if kind == "f":
                form[name] = value
            elif kind == "q":
                query[name] = value
            kwargs = {"query_string": query}
            if method == "POST":
                kwargs["data"] = form
            response = client.open(path, method=method, **kwargs)
            assert_handled(response, path)


@pytest.mark.parametrize(
    "route",
    [
        "/unsubscribe/{token}",
        "/admin/mail/{token}",
        "/i18n/{token}.json",
        "/webmention/{token}",
        "/me/{token}",
        "/me/{token}/comments.json",
        "/me/{token}/erase",
    ],
)
def test_each_known_crash_is_a_4xx_in_every_token_of_the_pages(fuzz_api, route):
    shapes = [
        "{v}",
        "{v}.x",
        "1.{v}",
        "{v}.approve.pending.1.x",
        "1.approve.pending.{v}.x",
        "1.approve.pending.1.{v}",
    ]
    for value in MATRIX_VALUES[:-1]:
        for shape in shapes:
            path = route.replace("{token}", path_segment(shape.format(v=value)) or "x")
            for method in ("GET", "POST"):
                assert_handled(fuzz_api.open(path, method=method), path)
