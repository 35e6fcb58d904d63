"""Sites and their settings (commentsvc.sites), straight against the database."""

import pytest

from commentsvc import sites
from commentsvc.errors import NotFound
from commentsvc.errors import ValidationError


@pytest.mark.usefixtures("app_ctx")
def test_a_site_is_added_found_by_name_and_origin_and_removed():
    site = sites.add_site("blog", "https://blog.example.org/")
    assert sites.get_site("blog").id == site.id
    assert [s.name for s in sites.list_sites()] == ["blog"]
    assert sites.site_for_origin("https://blog.example.org").id == site.id
    assert sites.site_for_origin("https://other.example.org") is None
    assert sites.find_site("blog\x00") is None and sites.find_site("BLOG") is None
    assert sites.site_contents("blog") == (0, 0)
    assert sites.remove_site("blog") == (0, 0)
    with pytest.raises(NotFound):
        sites.get_site("blog")


@pytest.mark.usefixtures("app_ctx")
def test_bad_names_urls_and_taken_origins_are_refused_by_field():
    sites.add_site("blog", "https://blog.example.org")
    cases = [
        (("blog", "https://elsewhere.example.org"), {}, "name"),
        (("Bad Name", "https://x.example.org"), {}, "name"),
        (("other", "https://x.example.org"), {"origins": ["https://blog.example.org"]}, "origin"),
    ]
    for args, kwargs, field in cases:
        with pytest.raises(ValidationError) as caught:
            sites.add_site(*args, **kwargs)
        assert caught.value.field == field, args


@pytest.mark.usefixtures("app_ctx")
def test_settings_change_and_thread_uris_stay_under_the_site():
    sites.add_site("blog", "https://blog.example.org/journal/")
    assert sites.update_site("blog", moderation="all").moderation == "all"
    site = sites.get_site("blog")
    assert sites.thread_uri(site, "https://blog.example.org/journal/post/1") == "/journal/post/1"
    assert sites.thread_uri(site, "https://evil.example.org/journal/post/1") is None


@pytest.mark.usefixtures("app_ctx")
def test_a_comment_to_a_site_removed_since_the_request_read_it_is_a_404_not_a_500():
    from commentsvc import comments
    from commentsvc import spam
    from commentsvc.models import utcnow

    site = sites.add_site("blog", "https://blog.example.org", moderation="none")
    sites.remove_site("blog")  # by the owner, while a reader's post is on its way
    guard = spam.Guard(limiter=None, enabled=False, secret="x")
    data = comments.CommentInput(text="Hello.")
    with pytest.raises(NotFound) as caught:
        comments.post_comment(site, "/post", data, address="a", now=utcnow(), guard=guard)
    assert caught.value.field == "site"
    sites.add_site("blog", "https://blog.example.org", moderation="none")  # nothing left stuck
    comments.post_comment(
        sites.get_site("blog"), "/post", data, address="a", now=utcnow(), guard=guard
    )


@pytest.mark.usefixtures("app_ctx")
def test_a_fediverse_post_linked_to_a_site_removed_meanwhile_is_a_404():
    from commentsvc import fediverse
    from commentsvc.models import utcnow

    site = sites.add_site("blog", "https://blog.example.org", fediverse_accounts="@me@x.example")
    sites.remove_site("blog")
    with pytest.raises(NotFound) as caught:
        fediverse.link_post(site, "/post", "https://x.example/@me/1", by="owner", now=utcnow())
    assert caught.value.field == "site"
