"""The API's shapes, declared once: request bodies and query parameters (validated here) and
answers (documented here); `openapi.py` derives the OpenAPI 3.1 document from them.

How to add a route's shapes:

1. Declare its body (or its query parameters) as a `Body` subclass. Give each field the JSON
   type clients send and a `rule(...)` that turns the raw value into the clean one, or raises
   `errors.ValidationError` naming the field (reuse `fields.py` and `comments.parse_*` rules).
   Fields are checked in the order declared; the first failure is the answer. List the
   required fields in `REQUIRED` (the rule itself refuses them when missing or blank).
2. In the view: `body = shapes.parse(MyBody, api.json_body())` (or a dict of `request.args`).
3. Declare the answer as an `Answer` subclass (documentation only: views keep building their
   JSON, so answers stay byte-identical) and add the route to `openapi.ROUTES`.

A rule may read per-request settings from `context` (`parse(..., context={"max_length": n})`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Annotated
from typing import Any
from typing import ClassVar
from typing import Literal
from typing import TypeVar
from urllib.parse import urlsplit

import pydantic
from pydantic import BaseModel
from pydantic import BeforeValidator
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationInfo
from pydantic import model_validator

from commentsvc import comments
from commentsvc import fields
from commentsvc import identities
from commentsvc.comments import CommentInput
from commentsvc.errors import ERROR_CODES
from commentsvc.errors import ValidationError
from commentsvc.models import ANONYMOUS_POLICIES
from commentsvc.models import MODERATION_POLICIES

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)

# --- how fields are declared ------------------------------------------------------------------


def rule(check: Callable[..., Any], *, with_info: bool = False) -> BeforeValidator:
    """Return a validator that runs check(value) (or check(value, info)) before the type.

    Our ValidationError is no ValueError: pydantic lets it through untouched, so the first
    failing field answers with its own code and message, as the rules always did.
    """
    if with_info:
        return BeforeValidator(check)
    return BeforeValidator(lambda value: check(value))


def field(description: str = "", **schema: Any) -> Any:
    """Return a field that defaults to None and runs its rule on the default too."""
    extra = {k: v for k, v in schema.items() if v is not None}
    return Field(
        default=None,
        validate_default=True,
        description=description or None,
        json_schema_extra=extra or None,
    )


def _tidy_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    # Titles repeat the names; a None default says nothing; REQUIRED is the contract.
    schema.pop("title", None)
    declared = getattr(model, "REQUIRED", None)
    required = list(declared or ())
    for name, prop in schema.get("properties", {}).items():
        prop.pop("title", None)
        if prop.get("default", 0) is None:
            del prop["default"]
        for option in prop.get("anyOf", ()):
            option.pop("title", None)
        if name in required:
            prop.pop("default", None)
    if declared is not None:
        schema["required"] = required
        if not required:
            del schema["required"]


class Body(BaseModel):
    """A request body or a set of query parameters: unknown members are ignored."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_tidy_schema)
    REQUIRED: ClassVar[tuple[str, ...]] = ()


class Answer(BaseModel):
    """An answer's shape, for the document (views build the JSON themselves)."""

    model_config = ConfigDict(json_schema_extra=_tidy_schema)
    REQUIRED: ClassVar[tuple[str, ...] | None] = None  # None: pydantic's (fields without default)


def parse(model: type[M], data: Any, context: dict[str, Any] | None = None) -> M:
    """Return data validated as model.

    :raise ValidationError: naming the first field at fault, with its code.
    """
    try:
        return model.model_validate(data, context=context or {})
    except pydantic.ValidationError as exc:  # a type a rule let through; not expected
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "body"
        # pydantic's words ("Input should be a valid integer") are no part of the API.
        log.warning("%s: %s refused by pydantic: %s", model.__name__, name, error["msg"])
        raise ValidationError(f"{name} is not valid.", field=name) from None


# --- the rules of the API's fields ------------------------------------------------------------


def _max_length(info: ValidationInfo) -> int:
    return (info.context or {}).get("max_length", 10_000)


def _comment_text(value: Any, info: ValidationInfo) -> str:
    return fields.text_field(
        value, "text", max_length=_max_length(info), required=True, multiline=True
    )


def _text(name: str, max_length: int) -> Callable[[Any], str]:
    return lambda value: fields.text_field(value, name, max_length=max_length)


def _site_name(value: Any) -> str:
    if value is None or value == "":
        raise ValidationError("site is required.", field="site", code="empty")
    # A name no site can have (NUL, controls, any length) never reaches a query.
    if not isinstance(value, str) or not fields.is_name(value):
        raise ValidationError(f"There is no site called {value!r}.", field="site")
    return value


def _site_in_body(value: Any) -> str:
    if value is None or value == "":
        raise ValidationError("site is required.", field="site", code="empty")
    if not isinstance(value, str):
        raise ValidationError("site must be a site's name.", field="site")
    return value


def _optional_site(value: Any) -> str | None:
    return None if value is None else _site_in_body(value)


def _parent(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError("parent must be the id of a comment.", field="parent")
    return value


def _flag(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise ValidationError(f"{name} must be true or false.", field=name)
        return value

    return check


def _like(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValidationError("like must be true or false.", field="like")
    return value


def _visitor(value: Any) -> str | None:
    if value is not None and not (
        isinstance(value, str) and comments.VISITOR_ID.fullmatch(value) is not None
    ):
        raise ValidationError(
            "visitor must be 16 to 64 letters, digits, '-' or '_'.", field="visitor"
        )
    return value


def _link(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not value:
            raise ValidationError(f"{name} is required.", field=name, code="empty")
        # NUL and controls are in no URL (and PostgreSQL refuses NUL in any query).
        if not isinstance(value, str) or fields.has_controls(value.strip()):
            raise ValidationError(f"The {name} must be an http or https URL.", field=name)
        return value

    return check


def _limit(value: Any) -> int:
    if value is None:
        return comments.DEFAULT_PAGE
    return fields.decimal(value, "limit", minimum=1, maximum=comments.MAX_PAGE)


def _sort(value: Any) -> str:
    return fields.choice("oldest" if value is None else value, "sort", comments.SORTS)


def _cursor(value: Any, info: ValidationInfo) -> str | None:
    if value:
        comments.parse_page(info.data["sort"], value)
    return value


def _fediverse_posts(value: Any) -> list[str]:
    # Checked for what they are (posts of the site's accounts) where they are linked; here only
    # bounded: a few strings.
    posts = [value] if isinstance(value, str) else list(value or [])
    return [p for p in posts[:5] if isinstance(p, str) and len(p) <= 2000]


def _uris(value: Any) -> list[str]:
    uris = [comments.parse_uri(u) for u in value or []]
    if not uris:
        raise ValidationError("Name at least one uri.", field="uri", code="empty")
    if len(uris) > comments.MAX_COUNT_URIS:
        raise ValidationError(
            f"Ask for at most {comments.MAX_COUNT_URIS} uris at once.", field="uri", code="too_long"
        )
    return uris


def _origin_site(value: Any) -> str:
    if not value:
        raise ValidationError("site is required.", field="site", code="empty")
    return value


# What comments.parse_uri takes: a path, with no whitespace and no control or bidi-control
# character (that it be in Unicode's NFC, as the service also asks, no pattern can say).
URI_PATTERN = r"^/[^\s\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]*$"
Uri = Annotated[str, rule(comments.parse_uri)]
OptionalText = str | None

# --- request bodies ----------------------------------------------------------------------------


class NewComment(Body):
    """A new comment or reply (POST /api/comments)."""

    REQUIRED = ("site", "uri", "text")

    site: Annotated[str, rule(_site_in_body)] = field("The site's name.")
    uri: Uri = field("The page's path.", pattern=URI_PATTERN, maxLength=1000)
    text: Annotated[str, rule(_comment_text, with_info=True)] = field(
        "Markdown (CommonMark, no raw HTML); not only whitespace.", minLength=1
    )
    author: Annotated[OptionalText, rule(_text("author", 100))] = field(maxLength=100)
    email: Annotated[OptionalText, rule(comments.parse_email)] = field(
        "Never shown.", maxLength=254
    )
    website: Annotated[OptionalText, rule(comments.parse_website)] = field(
        "http or https; a bare domain gets https://.", maxLength=500
    )
    parent: Annotated[int | None, rule(_parent)] = field(
        "The comment this one replies to.", minimum=1
    )
    title: Annotated[OptionalText, rule(_text("title", 300))] = field(maxLength=300)
    notify: Annotated[bool | None, rule(_flag("notify"))] = field("Mail me replies.")
    homepage: Annotated[OptionalText, rule(_text("homepage", 1000))] = field(
        "Honeypot: leave empty.", maxLength=1000
    )
    form_token: Annotated[OptionalText, rule(_text("form_token", 200))] = field(
        "The X-Form-Token header of the thread's GET (time trap).", maxLength=200
    )

    def comment_input(self) -> CommentInput:
        """Return the comment as the domain takes it."""
        return CommentInput(
            text=self.text,
            author=self.author or "",
            email=self.email or "",
            website=self.website or "",
            parent=self.parent,
            title=self.title or "",
            notify=bool(self.notify),
            honeypot=self.homepage or "",
            form_token=self.form_token or None,
        )


class CommentChanges(Body):
    """What an author changes (PATCH /api/comments/{id}): only the members sent; null for
    author or website clears it."""

    REQUIRED = ()

    text: Annotated[str, rule(_comment_text, with_info=True)] = Field(
        default=None, json_schema_extra={"minLength": 1}
    )
    author: Annotated[OptionalText, rule(_text("author", 100))] = Field(
        default=None, json_schema_extra={"maxLength": 100}
    )
    website: Annotated[OptionalText, rule(comments.parse_website)] = Field(
        default=None, json_schema_extra={"maxLength": 500}
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> CommentChanges:
        if not self.model_fields_set:
            raise ValidationError(
                "Nothing to change: send text, author or website.", field="text", code="empty"
            )
        return self

    def changes(self) -> dict[str, str]:
        """Return the members sent, clean."""
        sent = [name for name in type(self).model_fields if name in self.model_fields_set]
        return {name: getattr(self, name) for name in sent}


class LikeChange(Body):
    """Like, or take the like back (POST /api/comments/{id}/like; the body is optional)."""

    REQUIRED = ()

    visitor: Annotated[str | None, rule(_visitor)] = Field(
        default=None,
        description="A random id the client keeps; stored as a keyed hash. Without it, the "
        "client's address stands for the visitor.",
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]{16,64}$"},
    )
    like: Annotated[bool, rule(_like)] = Field(
        default=True, description="false takes the like back."
    )


class PageLike(LikeChange):
    """Like the page itself, or take the like back (POST /api/likes)."""

    REQUIRED = ("site", "uri")

    site: Annotated[str, rule(_site_in_body)] = field("The site's name.")
    uri: Uri = field("The page's path.", pattern=URI_PATTERN, maxLength=1000)


class HandoffRequest(Body):
    """Fetch a sign-in the popup could not hand to the page (POST /api/sign-in/handoff)."""

    REQUIRED = ("site", "handle")

    site: Annotated[str, rule(_site_in_body)] = field("The site's name.")
    handle: Annotated[str, rule(identities.parse_handle)] = field(
        "The secret the sign-in popup gave the page (`commentsvc:handoff` message).",
        pattern="^[0-9a-f]{64}$",
    )


class PreviewRequest(Body):
    """A text to render (POST /api/preview)."""

    REQUIRED = ("text",)

    site: Annotated[str | None, rule(_optional_site)] = Field(
        default=None,
        description="The site whose page asks; a browser's Origin must be one of its origins.",
    )
    text: Annotated[str, rule(_comment_text, with_info=True)] = field("Markdown.")


def _required_email(value: Any) -> str:
    email = comments.parse_email(value)
    if not email:
        raise ValidationError("email is required.", field="email", code="empty")
    return email


class DataRequest(Body):
    """A reader asks for a link to their own comments (POST /api/data-requests)."""

    REQUIRED = ("site", "email")

    site: Annotated[str, rule(_site_in_body)] = field("The site's name.")
    email: Annotated[str, rule(_required_email)] = field(
        "The address the reader commented with; the link goes there.", maxLength=254
    )


class WebmentionForm(Body):
    """A Webmention (POST /webmention, a form); `linkbacks.receive` checks the rest."""

    REQUIRED = ("source", "target")

    source: Annotated[str, rule(_link("source"))] = field(
        "The page that links to target.", format="uri"
    )
    target: Annotated[str, rule(_link("target"))] = field(
        "A page of a site here (taken as sent).", format="uri"
    )


# --- query parameters --------------------------------------------------------------------------


class ThreadQuery(Body):
    """GET /api/comments: a page of a thread."""

    REQUIRED = ("site", "uri")

    site: Annotated[str, rule(_site_name)] = field("The site's name.", minLength=1)
    uri: Uri = field("The page's path.", pattern=URI_PATTERN)
    limit: Annotated[int, rule(_limit)] = Field(
        default=None,
        validate_default=True,
        ge=1,
        le=comments.MAX_PAGE,
        description="Top-level comments per page.",
        json_schema_extra={"default": comments.DEFAULT_PAGE},
    )
    sort: Annotated[Literal["oldest", "newest", "top"], rule(_sort)] = Field(
        default="oldest", validate_default=True, description="Order of top-level comments."
    )
    cursor: Annotated[str | None, rule(_cursor, with_info=True)] = Field(
        default=None, description="The `next` of the previous page."
    )
    fediverse: Annotated[list[str], rule(_fediverse_posts)] = Field(
        default=None,
        validate_default=True,
        max_length=5,
        description="Fediverse posts the page links to (the script tag's data-fediverse, "
        "repeated): taken only from a page of the site, for posts of its fediverse accounts.",
    )


class CountsQuery(Body):
    """GET /api/counts: many pages at once (`uri` repeated)."""

    REQUIRED = ("site", "uri")

    site: Annotated[str, rule(_site_name)] = field("The site's name.", minLength=1)
    uri: Annotated[list[Annotated[str, Field(pattern=URI_PATTERN)]], rule(_uris)] = Field(
        default=None,
        validate_default=True,
        min_length=1,
        max_length=comments.MAX_COUNT_URIS,
        description="The pages' paths.",
    )


def _optional_uri(value: Any) -> str | None:
    return None if value is None else comments.parse_uri(value)


THEMES = ("light", "dark", "auto")


def _theme(value: Any) -> str | None:
    return None if value in (None, "") else fields.choice(value, "theme", THEMES)


def _lang(value: Any) -> str | None:
    if value in (None, ""):
        return None
    return fields.text_field(value, "lang", max_length=35)


class FragmentQuery(Body):
    """GET /api/comments.html: a thread's first page as the widget's markup."""

    REQUIRED = ("site", "uri")

    site: Annotated[str, rule(_site_name)] = field("The site's name.", minLength=1)
    uri: Uri = field("The page's path.", pattern=URI_PATTERN)
    sort: Annotated[Literal["oldest", "newest", "top"], rule(_sort)] = Field(
        default="oldest", validate_default=True, description="Order of top-level comments."
    )
    lang: Annotated[str | None, rule(_lang)] = Field(
        default=None,
        max_length=35,
        description="The widget's language (en, de, fr, es, nl, it); any other gives English.",
    )
    # Empty is taken as absent (as for lang), so the document lists it too.
    theme: Annotated[Literal["light", "dark", "auto", ""] | None, rule(_theme)] = Field(
        default=None,
        description="Force a theme; by default (or empty) the widget follows the page.",
    )


class FeedQuery(Body):
    """GET /feed.atom: a site's feed, or one thread's (with uri)."""

    REQUIRED = ("site",)

    site: Annotated[str, rule(_site_name)] = field("The site's name.", minLength=1)
    uri: Annotated[str | None, rule(_optional_uri)] = Field(
        default=None,
        description="A page's path: that thread's feed instead of the site's.",
        json_schema_extra={"pattern": URI_PATTERN},
    )


class OriginQuery(Body):
    """GET /api/origin."""

    REQUIRED = ("site",)

    site: Annotated[str, rule(_origin_site)] = field("The site's name.", minLength=1)


class MeQuery(Body):
    """GET /api/me and POST /api/sign-out: the signed-in reader on a site."""

    REQUIRED = ("site",)

    site: Annotated[str, rule(_site_name)] = field("The site's name.", minLength=1)
    uri: Annotated[str | None, rule(lambda v: None if v is None else comments.parse_uri(v))] = (
        Field(
            default=None,
            description="A page's path: `own` lists the reader's comments there.",
            json_schema_extra={"pattern": URI_PATTERN},
        )
    )


# --- a site's settings (sites.add_site and update_site: the admin form and the CLI alike) -------


def _site_url(value: Any) -> str:
    url = fields.http_url(value, "url", required=True)
    parts = urlsplit(url)
    if parts.query or parts.fragment or parts.username:
        raise ValidationError(
            "url must be the site's address without query, fragment or credentials.", field="url"
        )
    return url


def _origin_list(value: Any) -> list[str]:
    given = value.split() if isinstance(value, str) else list(value or ())
    return list(dict.fromkeys(fields.origin(origin) for origin in given))


def _some_origins(value: Any) -> list[str]:
    origins = _origin_list(value)
    if not origins:
        raise ValidationError("A site needs at least one origin.", field="origin", code="empty")
    return origins


def _words(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if isinstance(value, list | tuple):
            value = "\n".join(str(v) for v in value)
        text = fields.text_field(value, name, max_length=20_000, multiline=True)
        words = [w.strip().lower() for w in text.replace(",", "\n").split("\n")]
        return "\n".join(w for w in words if w)

    return check


def _on_off(name: str) -> Callable[[Any], bool]:
    # Forms and command lines say on/off, yes/no or 1/0; JSON says true/false.
    def check(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValidationError(f"{name} must be on or off.", field=name)

    return check


def _owner_email(value: Any) -> str:
    email = fields.text_field(value, "owner_email", max_length=320)
    if email and ("@" not in email or any(ch.isspace() for ch in email)):
        raise ValidationError("owner_email is not an email address.", field="owner_email")
    return email


def _whole(name: str, minimum: int, maximum: int) -> Callable[[Any], int]:
    return lambda value: fields.integer(value, name, minimum=minimum, maximum=maximum)


def _one_of(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    return lambda value: fields.choice(value, name, choices)


def _fediverse_accounts(value: Any) -> str:
    from commentsvc.fediverse import parse_accounts  # fediverse imports the domain: late

    return parse_accounts(value)


def _sign_in(value: Any) -> str:
    from commentsvc.identities import parse_sign_in

    return parse_sign_in(value)


def _given(default: Any = None, **schema: Any) -> Any:
    # Not validated when absent: an update checks only the settings it changes.
    return Field(default=default, json_schema_extra=schema or None)


class SiteSettings(Body):
    """What `sites.update_site` changes: only the settings given (None: not given), each
    checked alike whether it comes from the admin form or the CLI."""

    REQUIRED = ()

    # The name is the site's key, never changed; declared here so that a new site's is checked
    # first, as NewSite requires it.
    name: Annotated[str, rule(fields.name_field)] = _given()
    url: Annotated[str, rule(_site_url)] = _given(format="uri")
    origins: Annotated[list[str], rule(_some_origins)] = _given()
    moderation: Annotated[str, rule(_one_of("moderation", MODERATION_POLICIES))] = _given(
        enum=list(MODERATION_POLICIES)
    )
    link_limit: Annotated[int, rule(_whole("link_limit", 1, 1000))] = _given(
        minimum=1, maximum=1000
    )
    edit_window: Annotated[int, rule(_whole("edit_window", 0, 30 * 86400))] = _given(
        minimum=0, maximum=30 * 86400
    )
    moderation_words: Annotated[str, rule(_words("moderation_words"))] = _given(maxLength=20_000)
    disallowed_words: Annotated[str, rule(_words("disallowed_words"))] = _given(maxLength=20_000)
    linkbacks: Annotated[bool, rule(_on_off("linkbacks"))] = _given()
    gravatar: Annotated[bool, rule(_on_off("gravatar"))] = _given()
    owner_email: Annotated[str, rule(_owner_email)] = _given(maxLength=320)
    webhook_url: Annotated[str, rule(lambda v: fields.http_url(v, "webhook_url"))] = _given(
        format="uri"
    )
    cache_max_age: Annotated[int, rule(_whole("cache_max_age", 0, 3600))] = _given(
        minimum=0, maximum=3600
    )
    fediverse_accounts: Annotated[str, rule(_fediverse_accounts)] = _given()
    sign_in: Annotated[str, rule(_sign_in)] = _given(maxLength=1000)
    anonymous: Annotated[str, rule(_one_of("anonymous", ANONYMOUS_POLICIES))] = _given(
        enum=list(ANONYMOUS_POLICIES)
    )

    @model_validator(mode="before")
    @classmethod
    def _only_known_and_given(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValidationError("The site's settings must be named.", field="body")
        for key in data:
            if key not in cls.model_fields:
                raise ValidationError(f"Unknown site setting {key!r}.", field=str(key))
        return {key: value for key, value in data.items() if value is not None}

    def given(self) -> dict[str, Any]:
        """Return the settings given, clean, in the order declared."""
        sent = [name for name in type(self).model_fields if name in self.model_fields_set]
        return {name: getattr(self, name) for name in sent}


class NewSite(SiteSettings):
    """What `sites.add_site` takes: a name and URL; without origins, the URL's origin."""

    REQUIRED = ("name", "url")

    name: Annotated[str, rule(fields.name_field)] = field(fields.NAME_RULE)
    url: Annotated[str, rule(_site_url)] = field("The site's address.", format="uri")
    origins: Annotated[list[str], rule(_origin_list)] = _given()


# --- answers -----------------------------------------------------------------------------------

Count = Annotated[int, Field(ge=0)]


class Source(Answer):
    """Linkbacks: the page that links here; fediverse replies: the reply on its server."""

    REQUIRED = ()

    url: str = ""
    title: str = ""
    excerpt: str = ""
    type: Literal["reply", "like", "repost", "mention"] = "mention"


class Identity(Answer):
    """How a signed-in author was verified."""

    provider: str = Field(description="The provider's name (`commentsvc auth add NAME`).")
    name: str = Field(description="The name the provider vouches for.")
    url: str | None = Field(description="The profile's address.")


class Comment(Answer):
    """A comment as anyone may see it: never its email or address."""

    id: int
    parent: int | None
    kind: Literal["comment", "pingback", "trackback", "webmention", "fediverse"]
    status: Literal["published", "pending", "deleted"]
    author: str
    website: str | None
    avatar: str | None = Field(
        description="An image on this service (Gravatar's only where the site turned it on): "
        "never an address the comment's sender chose."
    )
    html: str = Field(description="Sanitised HTML, safe to insert.")
    created: str = Field(json_schema_extra={"format": "date-time"})
    modified: str | None = Field(json_schema_extra={"format": "date-time"})
    likes: Count
    owner: bool = Field(description="Written by the site's owner.")
    identity: Identity | None = Field(
        description="How a signed-in author was verified; null for anonymous comments."
    )
    replies: list[Comment]
    text: str = Field(
        default=None, description="The Markdown source: only to the author, with X-Edit-Token."
    )
    source: Source = Field(
        default=None,
        description="Linkbacks: the page that links here; fediverse replies: the original.",
    )
    handle: str | None = Field(
        default=None, description="Fediverse replies only: the author's @user@server."
    )


class OwnComment(Comment):
    """The author's own comment, after posting or editing it."""

    text: str = Field(description="The Markdown source.")
    edit_token: str = Field(description="Send as X-Edit-Token to edit or delete.")
    edit_until: str = Field(json_schema_extra={"format": "date-time"})


class Counts(Answer):
    comments: Count
    mentions: Count = Field(description="Linkbacks shown, Webmention likes not included.")


class FediversePost(Answer):
    """A fediverse post linked to the page: reply to it there."""

    url: str
    account: str | None = Field(description="The post's author, @user@server.")
    boosts: Count
    favourites: Count


class Fediverse(Answer):
    """The page's fediverse posts; their boosts and favourites show beside the page's likes."""

    posts: list[FediversePost]
    boosts: Count = Field(description="Boosts of all the page's posts.")
    favourites: Count = Field(description="Favourites of all the page's posts.")


class Thread(Answer):
    """A page of a thread (empty before its first comment)."""

    site: str
    uri: str
    title: str
    count: Count = Field(description="Comments and mentions shown, as /api/counts gives them.")
    counts: Counts
    likes: Count
    fediverse: Fediverse
    comments: list[Comment]
    next: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")
    notifications: bool = Field(description="Whether the service can mail readers about replies.")
    sign_in: SignIn = Field(description="What the widget offers for signing in.")


class SignInProvider(Answer):
    name: str = Field(description="The name to pass to /auth/NAME/start.")
    kind: Literal["oidc", "github", "wordpress", "mastodon", "indieauth"]


class SignIn(Answer):
    providers: list[SignInProvider]
    anonymous: Literal["on", "name-required", "off"] = Field(
        description="Comments without signing in: allowed, with a name required, or not at all."
    )


class Me(Answer):
    """The signed-in reader on a site."""

    identity: Identity
    held: list[Comment] = Field(description="Their comments held for moderation, with `text`.")
    own: list[int] = Field(description="With `uri`: their comments on that page (editable).")


class SignInMessage(Answer):
    """What the sign-in popup hands the page: a token and who signed in, or the error."""

    type: str = Field(description="`commentsvc:sign-in`.")
    token: str | None = Field(default=None, description="The commenter token (30 days).")
    identity: Identity | None = None
    error: dict[str, Any] | None = Field(default=None, description="As any error answer's.")


class PageCounts(Answer):
    """Counts in the order asked; 0 for pages without comments."""

    counts: dict[str, Count] = Field(description="Comments and mentions, as threads show them.")
    comments: dict[str, Count]
    mentions: dict[str, Count] = Field(description="Linkbacks (Webmention likes not included).")


class Likes(Answer):
    likes: Count


class OriginAnswer(Answer):
    site: str
    exists: bool
    origin: str | None
    allowed: bool


class PreviewAnswer(Answer):
    html: str = Field(description="Sanitised HTML.")


class DataRequestSent(Answer):
    status: Literal["sent"] = Field(
        description="Whatever the address: a mail goes out only to an address that commented."
    )


class WebmentionAccepted(Answer):
    status: Literal["pending"]
    location: str


class WebmentionStatus(Answer):
    source: str
    target: str
    status: Literal["pending", "verified", "rejected", "deleted"]
    reason: str
    updated: str = Field(default=None, json_schema_extra={"format": "date-time"})


class Health(Answer):
    REQUIRED = ()

    status: Literal["ok"] = "ok"


class ErrorDetail(Answer):
    code: Literal[tuple(ERROR_CODES)] = Field(  # type: ignore[valid-type]
        description="What went wrong, for clients to key on (the message is for people and may "
        "change):\n" + "\n".join(f"- `{code}`: {text}" for code, text in ERROR_CODES.items()),
        json_schema_extra={"x-enumDescriptions": ERROR_CODES},
    )
    message: str
    field: str = Field(
        default=None,
        description="The field, query parameter or header at fault (`body` for the body as a "
        "whole).",
    )


class Error(Answer):
    """Every error answer: `{"error": {"code", "message", "field"}}`."""

    error: ErrorDetail
