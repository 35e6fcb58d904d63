"""The project's own compact attack corpus: always runs, ../shared or not.

Hypothesis builds HTML, attribute, URL and Markdown attacks from known pieces (tags, handlers,
scheme spellings, breakouts), posts them as text, author, website and email through the API, and
checks what is stored and returned with the criteria of tests/safety.py (an HTML5 parser).
Derandomized: every run tries the same examples.
"""

from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from tests.conftest import add_site
from tests.safety import unsafe_parts

EXAMPLES = 60  # per field and per check: a few hundred attacks in all, in seconds

TAGS = [
    "script",
    "img",
    "svg",
    "iframe",
    "object",
    "embed",
    "math",
    "style",
    "form",
    "base",
    "link",
    "meta",
    "a",
    "video",
    "audio",
    "details",
    "body",
    "input",
    "textarea",
    "noscript",
]
HANDLERS = [
    "onerror",
    "onload",
    "onclick",
    "onmouseover",
    "onfocus",
    "ontoggle",
    "onbegin",
    "OnErRoR",
    "onanimationstart",
]
PAYLOADS = ["alert(1)", "alert`1`", "eval(atob('YWxlcnQoMSk='))", "fetch('//x.example')"]
SCHEMES = [
    "javascript:",
    "JaVaScRiPt:",
    "java\tscript:",
    "java\nscript:",
    " javascript:",
    "&#106;avascript:",
    "&#x6A;avascript:",
    "jav&#x09;ascript:",
    "vbscript:",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "data:text/html,<script>alert(1)</script>",
    "\x01javascript:",
    "javascript&colon;",
]
QUOTES = ['"', "'", "`", ""]
URL_ATTRS = ["href", "src", "action", "formaction", "xlink:href", "srcset", "data", "poster"]

payload = st.sampled_from(PAYLOADS)
url = st.builds(lambda s, p: s + p, st.sampled_from(SCHEMES), payload)
tag = st.builds(
    lambda t, h, q, p: f"<{t} {h}={q}{p}{q}>x</{t}>",
    st.sampled_from(TAGS),
    st.sampled_from(HANDLERS),
    st.sampled_from(QUOTES),
    payload,
)
url_tag = st.builds(
    lambda t, a, q, u: f"<{t} {a}={q}{u}{q}>x</{t}>",
    st.sampled_from(TAGS),
    st.sampled_from(URL_ATTRS),
    st.sampled_from(QUOTES),
    url,
)
breakout = st.builds(
    lambda q, h, p: f'{q}><img src=x {h}={p}>{q} {h}="{p}" x={q}',
    st.sampled_from(QUOTES),
    st.sampled_from(HANDLERS),
    payload,
)
style = st.builds(
    lambda t: f'<{t} style="background:url(javascript:alert(1));x:expression(alert(1))">x</{t}>',
    st.sampled_from(TAGS),
)
markdown = st.one_of(
    st.builds(lambda u: f"[click]({u})", url),
    st.builds(lambda u: f"![img]({u})", url),
    st.builds(lambda u: f"<{u}>", url),
    st.builds(lambda u: f"[click][r]\n\n[r]: {u}", url),
    st.builds(lambda u: f'[a](https://ok.example "{u}")', url),
    st.builds(lambda t: f"```html\n{t}\n```\n`{t}`", tag),
    st.builds(lambda u: f"[x](<{u}>)", url),
)
wrapped = st.builds(lambda a, b: f"<!--{a}-->{b}<![CDATA[{a}]]>", tag, url_tag)
ATTACK = st.one_of(tag, url_tag, breakout, style, markdown, url, wrapped)
# Mixed with a little hypothesis text, so the pieces land in unexpected company.
ATTACKS = st.builds(
    lambda pre, a, post: pre + a + post, st.text(max_size=8), ATTACK, st.text(max_size=8)
)

CHECK = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("field", ["text", "author", "website", "email"])
def test_no_generated_attack_is_stored_or_returned_unsafely(make_app, field):
    app = make_app(MAX_TEXT_LENGTH=100_000)
    add_site(app)
    client = app.test_client()
    tried = []

    @CHECK
    @given(ATTACKS)
    def attack(vector):
        tried.append(vector)
        body = {"site": "blog", "uri": f"/{field}", "text": f"comment {len(tried)}", field: vector}
        response = client.post("/api/comments", json=body)
        assert response.status_code < 500, vector
        if response.status_code in (201, 202):
            data = response.get_json()
            assert unsafe_parts(data["html"]) == [], vector
            assert data["website"] is None or urlsplit(data["website"]).scheme in (
                "http",
                "https",
            )
            assert "email" not in data

    attack()
    assert len(tried) >= EXAMPLES
    thread = client.get("/api/comments", query_string={"site": "blog", "uri": f"/{field}"})
    assert thread.status_code == 200
    with app.app_context():
        rows = db.session.execute(select(Comment.html, Comment.website)).all()
    if field in ("text", "author"):  # a hostile website or email is refused with a 400
        assert rows, f"no {field} attack was accepted at all"
    for html, website in rows:
        assert unsafe_parts(html) == []
        assert website == "" or urlsplit(website).scheme in ("http", "https")


def test_generated_attacks_preview_safely(client):
    @CHECK
    @given(ATTACKS)
    def attack(vector):
        response = client.post("/api/preview", json={"text": vector})
        assert response.status_code in (200, 400), vector
        if response.status_code == 200:
            assert unsafe_parts(response.get_json()["html"]) == [], vector

    attack()


def test_the_checker_sees_what_it_must():
    """The criteria would catch these, so a pass above means something."""
    assert unsafe_parts('<img src=x onerror="alert(1)">')
    assert unsafe_parts('<a href="java\tscript:alert(1)">x</a>')
    assert unsafe_parts('<a href="&#106;avascript:alert(1)">x</a>')
    assert unsafe_parts('<p style="x">y</p>')
    assert unsafe_parts('<a href="https://ok.example" rel="nofollow">ok</a>') == []
