"""Importing a Remark42 backup (commentsvc.importers.remark42), with the nasty cases."""

import json

import pytest

from tests.conftest import add_site
from tests.importers.imports import check_threads
from tests.importers.imports import comment_by
from tests.importers.imports import export_file


def remark(cid, text, *, pid="", url="https://old.example.org/posts/r/", **extra):
    user = {"name": "Ann", "id": "github_1", "picture": "", "ip": "5f3c0a9b", "admin": False}
    user.update(extra.pop("user", {}))
    item = {
        "id": cid,
        "pid": pid,
        "text": text,
        "user": user,
        "locator": {"site": "remark", "url": url},
        "score": 0,
        "vote": 0,
        "time": "2019-06-01T10:00:00.123456789Z",
        "title": "Post R",
    }
    item.update(extra)
    return json.dumps(item, ensure_ascii=False).encode()


@pytest.fixture
def remark_file(tmp_path):
    meta = {"version": 1, "users": [], "posts": [{"url": "https://old.example.org/posts/r/"}]}
    lines = [
        json.dumps(meta).encode(),
        remark(
            "c1",
            "<p><strong>hi</strong> &amp; bye</p>",
            orig="**hi** & bye <script>x</script>",
            score=3,
        ),
        remark(
            "c2",
            "<p>reply</p>",
            pid="c1",
            time="2019-06-02T10:00:00Z",
            user={"name": "Bob", "admin": True},
            edit={"time": "2019-06-02T11:00:00Z", "summary": ""},
        ),
        remark("c3", "<p>orphan</p>", pid="nope", time="2019-06-03T10:00:00Z"),
        remark("c4", "", delete=True, time="2019-06-04T10:00:00Z", user={"name": "deleted"}),
        remark("c1", "<p>again</p>", time="2019-06-05T10:00:00Z"),
        b"{not json",
        remark("c5", "<p>latin</p>", time="2019-06-06T10:00:00Z").replace(
            b"Ann", "J\xf6rg".encode("latin-1")
        ),
        b"",
        b'{"id": "c6", "locator": {"url": "/posts/r/"}, "time": "yesterday"}',
        remark("c7", "<p>nul</p>", url="https://old.example.org/a\u0000b/"),
        remark("c8", "<p>long</p>", url="https://old.example.org/" + "x" * 2000),
    ]
    return export_file(tmp_path, "remark.backup", b"\n".join(lines) + b"\n")


def test_a_remark42_backup_with_nasty_cases(app, cli, remark_file):
    add_site(app, url="https://old.example.org")
    result = cli("import", "remark42", str(remark_file), "--site", "blog")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == (
        "imported 5 into 1 page(s): 5 comment(s) (4 approved, 1 deleted); "
        "0 were there already; 7 problem(s) reported above"
    )
    for message in (
        "line 6 (id c1): id c1 appears twice: skipped",
        "line 7: it is not JSON",
        "line 8: it is not UTF-8: its bad bytes became U+FFFD",
        "line 10 (id c6): it has no readable time: skipped",
        "line 4 (id c3): its parent nope is not in the export",
        "line 11 (id c7): its page address is too long or has controls: skipped",
        "line 12 (id c8): its page address is too long or has controls: skipped",
    ):
        assert message in result.output
    first = comment_by(app, text="**hi** & bye <script>x</script>")
    assert first.likes == 3 and first.imported_from == "remark42"
    assert "<strong>hi</strong>" in first.html and "<script>" not in first.html
    reply = comment_by(app, author="Bob")
    assert reply.parent_id == first.id and reply.by_owner is True and reply.modified is not None
    assert comment_by(app, author="J\ufffdrg").text == "latin"
    assert comment_by(app, status="deleted").author == ""
    check_threads(app)
    again = cli("import", "remark42", str(remark_file), "--site", "blog")
    assert "imported 0 into 0 page(s): nothing new; 5 were there already" in again.output
