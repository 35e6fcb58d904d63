"""The tables (commentsvc.models): defaults, cascades and the stored form of time."""

import pytest
from sqlalchemy import func
from sqlalchemy import select

from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Site
from commentsvc.models import Thread
from commentsvc.models import utcnow


def test_time_is_stored_as_naive_utc():
    now = utcnow()
    assert now.tzinfo is None


@pytest.mark.usefixtures("app_ctx")
def test_a_site_gets_its_defaults_and_takes_its_threads_and_comments_when_it_goes():
    site = Site(name="blog", url="https://blog.example.org")
    db.session.add(site)
    db.session.flush()
    assert site.moderation == "none" and site.link_limit == 2
    thread = Thread(site_id=site.id, uri="/p", title="", created=utcnow())
    db.session.add(thread)
    db.session.flush()
    db.session.add(
        Comment(thread_id=thread.id, text="hi", html="<p>hi</p>", created=utcnow(), kind="comment")
    )
    db.session.commit()
    db.session.delete(site)
    db.session.commit()
    assert db.session.scalar(select(func.count(Comment.id))) == 0
    assert db.session.scalar(select(func.count(Thread.id))) == 0
