"""Moderation actions on comments (commentsvc.moderation), straight against the database."""

from datetime import datetime

import pytest

from commentsvc import moderation
from commentsvc.errors import ValidationError
from tests.conftest import add_site

NOW = datetime(2026, 1, 1, 12, 0)


@pytest.fixture
def held(app):
    """Two comments held for moderation on the blog."""
    add_site(app, moderation="all")
    client = app.test_client()
    ids = []
    for text in ("First", "Second"):
        response = client.post("/api/comments", json={"site": "blog", "uri": "/p", "text": text})
        ids.append(response.get_json()["id"])
    return ids


def test_approving_and_undoing(app, held):
    with app.app_context():
        assert sorted(c.id for c in moderation.held_comments()) == sorted(held)
        changed = moderation.act(held, "approve", actor="ann", now=NOW)
        assert sorted(changed) == sorted((i, "pending") for i in held)
        assert moderation.held_comments() == []
        assert moderation.act(held, "approve", actor="ann", now=NOW) == []  # nothing to change
        undone = moderation.undo([(i, "pending", "approved") for i in held], actor="ann", now=NOW)
        assert undone == 2
        assert len(moderation.held_comments()) == 2


def test_deleting_and_restoring(app, held):
    with app.app_context():
        moderation.act(held[:1], "delete", actor="ann", now=NOW)
        assert moderation.get_comment(held[0]).status == "deleted"
        moderation.act(held[:1], "restore", actor="ann", now=NOW)
        assert moderation.get_comment(held[0]).status == "pending"


def test_unknown_actions_and_empty_selections_are_refused_by_field(app, held):
    with app.app_context():
        for ids, action, field in ((held, "burn", "action"), ([], "approve", "ids")):
            with pytest.raises(ValidationError) as caught:
                moderation.act(ids, action, actor="ann", now=NOW)
            assert caught.value.field == field


def test_the_owner_edits_and_bans(app, held):
    with app.app_context():
        edited = moderation.edit(held[0], "Better *words*", actor="ann", now=NOW, max_length=100)
        assert "<em>words</em>" in edited.html
        assert moderation.ban_value("email", " Ann@Example.ORG ") == "ann@example.org"
        with pytest.raises(ValidationError):
            moderation.ban_value("shoe size", "42")
