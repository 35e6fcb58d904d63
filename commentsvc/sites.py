"""Sites: the websites that embed the service, their origins and moderation settings."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam
from sqlalchemy import delete
from sqlalchemy import func
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from commentsvc import fields
from commentsvc import shapes
from commentsvc.db import db
from commentsvc.db import write_transaction
from commentsvc.db import writing
from commentsvc.errors import NotFound
from commentsvc.errors import ValidationError
from commentsvc.models import Comment
from commentsvc.models import Site
from commentsvc.models import SiteOrigin
from commentsvc.models import Thread

# What a new site gets when its owner names nothing else; like WordPress, a first-time
# commenter's comment waits for approval.
DEFAULTS = {
    "moderation": "first-time",
    "link_limit": 2,
    "edit_window": 900,
    "linkbacks": True,
    "gravatar": False,
    "cache_max_age": 0,
    "anonymous": "on",
}


def get_site(name: str) -> Site:
    """Return the site called name.

    :raise NotFound: when there is no such site.
    """
    site = find_site(name)
    if site is None:
        raise NotFound(f"There is no site called {name!r}.", field="site")
    return site


def find_site(name: str) -> Site | None:
    """Return the site called name, or None."""
    # A name that no site can have (NUL, any case, any length) is not looked up at all.
    if not isinstance(name, str) or not fields.is_name(name):
        return None
    if not writing():
        return db.session.scalar(_SITE_NAMED, {"name": name})
    # Under the write lock, as it is now: a site the request read before is kept through its
    # write (db._end_read), and a change made from it must not rest on what it read then.
    site = db.session.scalar(_SITE_NAMED_FRESH, {"name": name})
    if site is not None:
        db.session.expire(site, ["origins"])
    return site


# Built once: every write looks its site up, and building a statement costs more than running it.
_SITE_NAMED = select(Site).where(Site.name == bindparam("name"))
_SITE_NAMED_FRESH = _SITE_NAMED.execution_options(populate_existing=True)


def list_sites() -> list[Site]:
    """Return every site, by name."""
    return list(db.session.scalars(select(Site).order_by(Site.name)))


def site_for_origin(origin: str) -> Site | None:
    """Return the site that lists origin among its allowed origins."""
    if not fields.is_printable_ascii(origin, max_length=300):
        return None
    normal = fields.normal_origin(origin)
    if normal is None:
        return None
    return db.session.scalar(select(Site).join(SiteOrigin).where(SiteOrigin.origin == normal))


def add_site(name: str, url: str, origins: Iterable[str] = (), **settings: Any) -> Site:
    """Create a site; without origins, the origin of its URL is allowed; settings not given
    take DEFAULTS."""
    given = shapes.parse(
        shapes.NewSite, {"name": name, "url": url, "origins": origins, **settings}
    ).given()
    name, url = given.pop("name"), given.pop("url")
    allowed = given.pop("origins", None) or [fields.origin_of(url)]
    values = {**DEFAULTS, **given}
    with write_transaction() as session:
        if session.scalar(select(Site.id).where(Site.name == name)) is not None:
            raise ValidationError(f"A site called {name!r} exists already.", field="name")
        _check_origins_free(allowed, site_id=None)
        site = Site(name=name, url=url, **values)
        site.origins = [SiteOrigin(origin=o) for o in allowed]
        session.add(site)
        _flush_unique(session)
    return site


def update_site(
    name: str, url: str | None = None, origins: Iterable[str] | None = None, **settings: Any
) -> Site:
    """Change a site's URL, origins (replacing the list) or settings; None leaves one as it is."""
    values = shapes.parse(shapes.SiteSettings, {"url": url, "origins": origins, **settings}).given()
    allowed = values.pop("origins", None)
    with write_transaction() as session:
        site = get_site(name)
        for key, value in values.items():
            setattr(site, key, value)
        if allowed is not None:
            _check_origins_free(allowed, site_id=site.id)
            site.origins.clear()
            session.flush()
            site.origins.extend(SiteOrigin(origin=o) for o in allowed)
        # Settings show in answers (gravatar avatars): every cached answer of the site goes.
        site.version = Site.version + 1
        _flush_unique(session)
    return site


def site_contents(name: str) -> tuple[int, int]:
    """Return how many threads and comments (linkbacks included) the site holds.

    :raise NotFound: when there is no such site.
    """
    site = get_site(name)
    threads = db.session.scalar(select(func.count(Thread.id)).where(Thread.site_id == site.id))
    count = db.session.scalar(
        select(func.count(Comment.id)).join(Thread).where(Thread.site_id == site.id)
    )
    return threads, count


def remove_site(name: str) -> tuple[int, int]:
    """Remove a site with its threads, comments, likes and bans; return how many threads and
    comments went with it.

    :raise NotFound: when there is no such site.
    """
    with write_transaction() as session:
        threads, count = site_contents(name)
        # The database cascades to threads, comments, likes, bans and origins.
        session.execute(delete(Site).where(Site.name == name))
    return threads, count


def thread_uri(site: Site, url: str) -> str | None:
    """Return the thread uri (the path) for a URL under the site's URL, or None."""
    try:
        base = urlsplit(site.url)
        target = urlsplit(url)
        if fields.origin_of(url) != fields.origin_of(site.url):
            return None
    except ValueError:
        return None
    prefix = base.path.rstrip("/")
    path = target.path or "/"
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        return None
    return path


def _check_origins_free(origins: list[str], site_id: int | None) -> None:
    taken = db.session.execute(
        select(SiteOrigin.origin, Site.name)
        .join(Site)
        .where(SiteOrigin.origin.in_(origins), SiteOrigin.site_id != (site_id or -1))
    ).first()
    if taken:
        raise ValidationError(
            f"The origin {taken.origin} belongs to the site {taken.name!r} already.",
            field="origin",
        )


def _flush_unique(session) -> None:
    try:
        session.flush()
    except IntegrityError:
        raise ValidationError(
            "The site's name or one of its origins was taken at the same moment; try again.",
            field="name",
        ) from None
