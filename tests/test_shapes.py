"""The API's shapes: one declaration validates requests, describes answers, makes the document."""

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from pydantic import BaseModel

from commentsvc import comments
from commentsvc import create_app
from commentsvc import openapi
from commentsvc import shapes
from commentsvc.errors import ValidationError


def refused(model, data, **context):
    with pytest.raises(ValidationError) as caught:
        shapes.parse(model, data, context)
    return caught.value.field, caught.value.code


def test_the_first_field_at_fault_answers_with_its_own_code():
    body = {"site": "blog", "uri": "/p", "text": " ", "email": "not an address"}
    assert refused(shapes.NewComment, body) == ("text", "empty")
    assert refused(shapes.NewComment, {**body, "text": "x" * 11}, max_length=10) == (
        "text",
        "too_long",
    )
    assert refused(shapes.NewComment, {**body, "text": "hi"}) == ("email", "invalid")
    assert refused(shapes.NewComment, {**body, "uri": "p"}) == ("uri", "invalid")
    assert refused(shapes.NewComment, {**body, "text": "hi", "email": None, "parent": True}) == (
        "parent",
        "invalid",
    )
    assert refused(shapes.ThreadQuery, {"site": "blog", "uri": "/p", "limit": "²"}) == (
        "limit",
        "invalid",
    )
    assert refused(shapes.CountsQuery, {"site": "blog", "uri": []}) == ("uri", "empty")
    assert refused(shapes.CommentChanges, {}) == ("text", "empty")


def test_the_rules_clean_what_they_accept():
    new = shapes.parse(
        shapes.NewComment,
        {"site": "blog", "uri": "/p", "text": " Hi\x07 ", "website": "ann.example.org"},
        {"max_length": 100},
    ).comment_input()
    assert (new.text, new.website, new.author, new.notify, new.form_token) == (
        "Hi",
        "https://ann.example.org",
        "",
        False,
        None,
    )
    query = shapes.parse(shapes.ThreadQuery, {"site": "blog", "uri": "/p"})
    assert (query.limit, query.sort, query.cursor) == (100, "oldest", None)
    changes = shapes.parse(shapes.CommentChanges, {"author": None}).changes()
    assert changes == {"author": ""}


def test_a_type_no_rule_checked_is_still_our_error():
    class Strict(shapes.Body):
        count: int

    assert refused(Strict, {"count": "many"}) == ("count", "invalid")
    # pydantic's own words and types are not the API's: clients see ours only.
    with pytest.raises(ValidationError) as caught:
        shapes.parse(Strict, {"count": [1]})
    assert caught.value.message == "count is not valid."


def test_the_answers_are_what_their_shapes_say(api, client):
    posted = api.post(expect=201, text="Hello", website="ann.example.org").get_json()
    shapes.OwnComment.model_validate(posted)
    api.post(expect=201, text="A reply", parent=posted["id"])
    shapes.Thread.model_validate(api.thread())
    shapes.Comment.model_validate(client.get(f"/api/comments/{posted['id']}").get_json())
    counts = client.get("/api/counts?site=blog&uri=/post/1&uri=/none").get_json()
    shapes.PageCounts.model_validate(counts)
    like = client.post(f"/api/comments/{posted['id']}/like").get_json()
    shapes.Likes.model_validate(like)
    shapes.PreviewAnswer.model_validate(client.post("/api/preview", json={"text": "*a*"}).json)
    shapes.OriginAnswer.model_validate(client.get("/api/origin?site=blog").get_json())
    error = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": ""})
    shapes.Error.model_validate(error.get_json())


def test_the_document_takes_every_schema_from_a_declared_model(client):
    document = client.get("/api/openapi.json").get_json()
    declared = {
        name
        for name, value in vars(shapes).items()
        if isinstance(value, type) and issubclass(value, BaseModel)
    }
    assert set(document["components"]["schemas"]) <= declared
    for path, item in document["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {})
            answers = [r.get("content", {}) for r in operation["responses"].values()]
            for content in [body, *answers]:
                for media, schema in content.items():
                    if "json" in media and path != "/api/openapi.json":
                        assert set(schema["schema"]) == {"$ref"}, (path, method, media)
    assert {p["name"] for p in document["paths"]["/api/comments"]["get"]["parameters"]} == set(
        shapes.ThreadQuery.model_fields
    )


def test_each_route_lists_the_codes_its_errors_can_carry():
    errors = openapi.openapi_document("http://x")["paths"]["/api/comments/{comment_id}"]["patch"]
    assert "`edit_window`" in errors["responses"]["403"]["description"]
    assert "`too_long`" in errors["responses"]["400"]["description"]


def documented(document, method, template, response):
    """Assert the answer's status, and its error code, are listed for the route."""
    code = response.get_json()["error"]["code"]
    answers = document["paths"][template][method]["responses"]
    assert str(response.status_code) in answers, (method, template, response.status_code)
    assert f"`{code}`" in answers[str(response.status_code)]["description"], (template, code)


def test_every_route_that_reads_the_database_documents_its_503(tmp_path):
    # A database file in a folder that does not exist cannot be opened.
    url = f"sqlite:///{tmp_path / 'missing' / 'comments.db'}"
    client = create_app({"INSTANCE_PATH": str(tmp_path / "i"), "DATABASE_URL": url}).test_client()
    document = openapi.openapi_document("http://x")
    page = {"site": "blog", "uri": "/p"}
    calls = [
        ("get", "/api/comments", "/api/comments?site=blog&uri=/p", {}),
        (
            "get",
            "/api/comments",
            "/api/comments?site=blog&uri=/p",
            {"headers": {"If-None-Match": '"x"'}},
        ),
        ("post", "/api/comments", "/api/comments", {"json": {**page, "text": "Hi"}}),
        ("get", "/api/comments/{comment_id}", "/api/comments/1", {}),
        ("patch", "/api/comments/{comment_id}", "/api/comments/1", {"json": {"text": "Hi"}}),
        ("delete", "/api/comments/{comment_id}", "/api/comments/1", {}),
        ("post", "/api/comments/{comment_id}/like", "/api/comments/1/like", {}),
        ("post", "/api/likes", "/api/likes", {"json": page}),
        ("get", "/api/counts", "/api/counts?site=blog&uri=/p", {}),
        ("get", "/api/origin", "/api/origin?site=blog", {}),
        ("post", "/api/preview", "/api/preview", {"json": {"text": "Hi"}}),
        ("get", "/api/photo/{key}", "/api/photo/0123456789abcdef0123", {}),
        ("get", "/webmention/{key}", "/webmention/abc", {}),
    ]
    for method, template, path, kwargs in calls:
        response = getattr(client, method)(path, **kwargs)
        assert response.status_code == 503, (path, response.get_data(as_text=True))
        documented(document, method, template, response)


def test_every_json_body_route_documents_its_413(api, client):
    document = openapi.openapi_document("http://x")
    comment = api.post(expect=201).get_json()["id"]
    big = b'{"text": "' + b"x" * 100_000 + b'"}'
    for method, template, path in [
        ("post", "/api/comments", "/api/comments"),
        ("patch", "/api/comments/{comment_id}", f"/api/comments/{comment}"),
        ("post", "/api/comments/{comment_id}/like", f"/api/comments/{comment}/like"),
        ("post", "/api/likes", "/api/likes"),
        ("post", "/api/preview", "/api/preview"),
    ]:
        response = getattr(client, method)(path, data=big, content_type="application/json")
        assert response.status_code == 413, path
        documented(document, method, template, response)


@settings(max_examples=300, deadline=None)
@given(
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40).map(
        lambda rest: unicodedata.normalize("NFC", "/" + rest)
    )
)
def test_the_documented_uri_pattern_is_the_servers_rule(uri):
    # The document's pattern and comments.parse_uri agree: what one takes, the other takes
    # (for text in NFC, which the service also asks and no pattern can say).
    try:
        accepted = comments.parse_uri(uri) == uri
    except ValidationError:
        accepted = False
    # fullmatch: in the document (ECMA-262) `$` is the end, never before a final newline.
    assert accepted == bool(re.fullmatch(shapes.URI_PATTERN, uri)), repr(uri)


# A site's settings: one shape for sites.add_site/update_site, the admin form and the CLI.
BAD_SETTINGS = [
    ({"link_limit": "0"}, "link_limit", "invalid"),
    ({"edit_window": str(30 * 86400 + 1)}, "edit_window", "invalid"),
    ({"moderation": "sometimes"}, "moderation", "invalid"),
    ({"moderation_words": "x" * 20_001}, "moderation_words", "too_long"),
    ({"fediverse_accounts": "not a handle"}, "fediverse_accounts", "invalid"),
    ({"url": "https://a.example/?q=1"}, "url", "invalid"),
]


def site_refused(model, data):
    with pytest.raises(ValidationError) as caught:
        shapes.parse(model, data)
    return caught.value


@pytest.mark.parametrize(("settings", "field", "code"), BAD_SETTINGS)
def test_a_site_setting_is_refused_alike_by_the_shape_and_add_site(app, settings, field, code):
    from commentsvc import sites

    new = {"name": "blog", "url": "https://blog.example.org", **settings}
    by_shape = site_refused(shapes.NewSite, new)
    assert (by_shape.field, by_shape.code) == (field, code)
    with app.app_context(), pytest.raises(ValidationError) as caught:
        sites.add_site(**new)
    assert (caught.value.field, caught.value.code, caught.value.message) == (
        field,
        code,
        by_shape.message,
    )
    with app.app_context():
        assert sites.list_sites() == []


def test_an_update_checks_only_the_settings_it_is_given():
    changes = shapes.parse(shapes.SiteSettings, {"moderation": "all", "url": None})
    assert changes.given() == {"moderation": "all"}
    assert shapes.parse(shapes.SiteSettings, {}).given() == {}
    unknown = site_refused(shapes.SiteSettings, {"colour": "red"})
    assert (unknown.field, unknown.message) == ("colour", "Unknown site setting 'colour'.")
    empty = site_refused(shapes.SiteSettings, {"origins": []})
    assert (empty.field, empty.code) == ("origin", "empty")
    nameless = site_refused(shapes.NewSite, {"url": "https://blog.example.org"})
    assert nameless.field == "name"


def test_the_site_rules_clean_what_they_accept():
    new = shapes.parse(
        shapes.NewSite,
        {
            "name": "blog",
            "url": "https://blog.example.org",
            "origins": ["https://BLOG.example.org:443", "https://blog.example.org"],
            "link_limit": "3",
            "linkbacks": "off",
            "gravatar": "on",
            "moderation_words": "Casino, Pills\nloans",
        },
    ).given()
    assert new == {
        "name": "blog",
        "url": "https://blog.example.org",
        "origins": ["https://blog.example.org"],
        "link_limit": 3,
        "moderation_words": "casino\npills\nloans",
        "linkbacks": False,
        "gravatar": True,
    }
    assert shapes.parse(shapes.NewSite, {"name": "b", "url": "https://b.example"}).given() == {
        "name": "b",
        "url": "https://b.example",
    }
