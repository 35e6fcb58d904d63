import os
import socket
import subprocess
import sys
import urllib.request

import pytest
from sqlalchemy import func
from sqlalchemy import select

from commentsvc import __version__
from commentsvc.admins import check_login
from commentsvc.admins import find_session
from commentsvc.admins import list_admins
from commentsvc.admins import start_session
from commentsvc.db import db
from commentsvc.models import Comment
from commentsvc.models import Thread
from commentsvc.models import utcnow
from commentsvc.sites import get_site
from commentsvc.sites import list_sites
from commentsvc.sites import site_for_origin
from tests.conftest import free_port


def test_site_add_list_and_set(cli, app_ctx):
    result = cli(
        "site",
        "add",
        "blog",
        "--url",
        "https://Blog.example.org/",
        "--origin",
        "https://blog.example.org",
        "--origin",
        "http://localhost:4000",
        "--moderation",
        "links",
    )
    assert result.exit_code == 0, result.output
    assert "added site 'blog'" in result.output

    site = get_site("blog")
    assert site.url == "https://blog.example.org/"
    assert [o.origin for o in site.origins] == ["https://blog.example.org", "http://localhost:4000"]
    assert site.moderation == "links"

    result = cli(
        "site",
        "set",
        "blog",
        "--moderation",
        "all",
        "--edit-window",
        "60",
        "--origin",
        "https://www.blog.example.org",
        "--no-linkbacks",
    )
    assert result.exit_code == 0, result.output
    site = get_site("blog")
    assert (site.moderation, site.edit_window, site.linkbacks) == ("all", 60, False)
    assert [o.origin for o in site.origins] == ["https://www.blog.example.org"]

    result = cli("site", "list")
    assert "blog\thttps://blog.example.org/" in result.output
    assert "moderation=all" in result.output


def test_site_add_defaults_its_origin_to_the_url(cli, app_ctx):
    assert cli("site", "add", "blog", "--url", "https://blog.example.org:443/posts/").exit_code == 0
    assert [o.origin for o in get_site("blog").origins] == ["https://blog.example.org"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["site", "add", "blog", "--url", "ftp://blog.example.org"],
            "must be an http or https URL",
        ),
        (["site", "add", "blog", "--url", "not a url"], "http or https"),
        (["site", "add", "Bad Name", "--url", "https://a.example"], "lower-case letters"),
        (
            [
                "site",
                "add",
                "blog",
                "--url",
                "https://a.example",
                "--origin",
                "https://a.example/x",
            ],
            "scheme://host",
        ),
        (["site", "add", "blog", "--url", "https://a.example/?q=1"], "without query"),
        (["site", "set", "nosuch", "--moderation", "all"], "no site called 'nosuch'"),
    ],
)
def test_site_errors_are_clear_and_write_nothing(cli, app_ctx, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert list_sites() == []


def test_site_names_and_origins_are_unique(cli, app_ctx):
    assert cli("site", "add", "one", "--url", "https://one.example").exit_code == 0
    again = cli("site", "add", "one", "--url", "https://other.example")
    assert again.exit_code == 1 and "exists already" in again.output
    taken = cli(
        "site", "add", "two", "--url", "https://two.example", "--origin", "https://ONE.example"
    )
    assert taken.exit_code == 1 and "belongs to the site 'one'" in taken.output
    assert [s.name for s in list_sites()] == ["one"]


def test_site_set_keeps_everything_on_a_bad_value(cli, app_ctx):
    cli("site", "add", "one", "--url", "https://one.example")
    result = cli("site", "set", "one", "--url", "https://new.example", "--origin", "nonsense")
    assert result.exit_code == 1
    site = get_site("one")
    assert site.url == "https://one.example"
    assert [o.origin for o in site.origins] == ["https://one.example"]


def test_admin_add_reads_the_password_from_standard_input(cli, app_ctx):
    result = cli("admin", "add", "alice", input="a long enough password\n")
    assert result.exit_code == 0, result.output
    assert check_login("alice", "a long enough password") is not None
    assert check_login("alice", "wrong password!") is None
    assert check_login("nobody", "a long enough password") is None


def test_admin_add_errors(cli, app_ctx):
    short = cli("admin", "add", "alice", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    cli("admin", "add", "alice", input="a long enough password\n")
    again = cli("admin", "add", "alice", input="another long password\n")
    assert again.exit_code == 1 and "exists already" in again.output
    assert check_login("alice", "a long enough password") is not None


def test_db_upgrade_is_a_command(cli):
    result = cli("db", "upgrade")
    assert result.exit_code == 0, result.output


def test_help_shows_our_commands_and_hides_flasks(cli):
    result = cli("--help")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line}
    assert {"serve", "db", "site", "admin", "import", "export", "send", "worker"} <= listed
    assert not listed & {"run", "shell", "routes", "flask"}
    for flask_option in ("--env-file", "--app", "--debug"):
        assert flask_option not in result.output
    db_help = cli("db", "--help").output
    assert "upgrade" in db_help
    assert not {"migrate", "revision", "downgrade"} & set(db_help.split())
    # Flask's commands are still there for developers, behind one hidden group.
    assert "routes" in cli("flask", "--help").output
    version = cli("--version")
    assert version.exit_code == 0 and __version__ in version.output


def test_site_add_shows_its_defaults_and_holds_first_comments(cli, app_ctx):
    shown = cli("site", "add", "--help").output
    shown = " ".join(shown.split())
    assert "[default: first-time]" in shown
    assert "[default: 900;" in shown and "[default: 2;" in shown
    assert cli("site", "add", "blog", "--url", "https://blog.example.org").exit_code == 0
    assert get_site("blog").moderation == "first-time"
    assert cli("site", "add", "open", "--url", "https://o.example", "--moderation", "none")
    assert get_site("open").moderation == "none"


def test_import_names_the_formats_there_are(cli, app_ctx, tmp_path):
    cli("site", "add", "blog", "--url", "https://blog.example.org")
    result = cli("import", "livefyre", str(tmp_path / "x.xml"), "--site", "blog")
    assert result.exit_code == 2
    assert (
        "cannot import 'livefyre'; the formats are: wordpress, disqus, isso, remark42, "
        "commento, commentsvc." in result.output
    )
    assert "Invalid value for 'wordpress'" not in result.output


def test_site_remove_asks_says_what_goes_and_removes_it(app, cli, api):
    api.post(expect=201)
    api.post(expect=201, uri="/post/2", text="Another.")
    kept = cli("site", "remove", "blog", input="n\n")
    assert kept.exit_code == 1
    assert "2 thread(s) and 2 comment(s)" in kept.output
    with app.app_context():
        assert [s.name for s in list_sites()] == ["blog"]
    gone = cli("site", "remove", "blog", "--yes")
    assert gone.exit_code == 0, gone.output
    assert "removed site 'blog' with 2 thread(s) and 2 comment(s)" in gone.output
    with app.app_context():
        assert list_sites() == []
        assert site_for_origin("https://blog.example.org") is None
        assert db.session.scalar(select(func.count()).select_from(Comment)) == 0
        assert db.session.scalar(select(func.count()).select_from(Thread)) == 0
    missing = cli("site", "remove", "blog", "--yes")
    assert missing.exit_code == 1 and "no site called 'blog'" in missing.output


def test_admin_list_passwd_and_remove(app, cli):
    cli("admin", "add", "alice", input="a long enough password\n")
    cli("admin", "add", "bob", input="bob's long password\n")
    listed = cli("admin", "list")
    assert [line.split()[0] for line in listed.output.splitlines()] == ["alice", "bob"]
    with app.app_context():
        (alice,) = [a for a in list_admins() if a.username == "alice"]
        token, _ = start_session(alice, utcnow())
    changed = cli("admin", "passwd", "alice", input="a brand new password\n")
    assert changed.exit_code == 0, changed.output
    assert "their sessions have ended" in changed.output
    with app.app_context():
        assert check_login("alice", "a long enough password") is None
        assert check_login("alice", "a brand new password") is not None
        assert find_session(token, utcnow()) is None
    short = cli("admin", "passwd", "alice", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    nobody = cli("admin", "passwd", "nobody", input="a brand new password\n")
    assert nobody.exit_code == 1 and "no admin called 'nobody'" in nobody.output
    removed = cli("admin", "remove", "bob")
    assert removed.exit_code == 0 and "removed admin 'bob'" in removed.output
    assert "bob" not in cli("admin", "list").output
    missing = cli("admin", "remove", "bob")
    assert missing.exit_code == 1 and "no admin called 'bob'" in missing.output
    last = cli("admin", "remove", "alice")
    assert last.exit_code == 1 and "last admin" in last.output


def test_the_demo_site_follows_the_port_it_runs_on(app, app_ctx):
    from commentsvc.cli import _ensure_demo_site

    _ensure_demo_site("127.0.0.1", 8080)
    _ensure_demo_site("0.0.0.0", 8301)
    site = get_site("demo")
    assert site.url == "http://127.0.0.1:8301"
    assert sorted(o.origin for o in site.origins) == [
        "http://127.0.0.1:8301",
        "http://localhost:8301",
    ]
    assert site_for_origin("http://127.0.0.1:8080") is None
    response = app.test_client().post(
        "/api/comments",
        json={"site": "demo", "uri": "/", "text": "Hello from the new port."},
        headers={"Origin": "http://localhost:8301"},
    )
    assert response.status_code in (201, 202), response.get_json()


# --- the command as a user runs it ---------------------------------------------------------


def _run(tmp_path, *args, database_url=None, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSVC_")}
    env["COMMENTSVC_INSTANCE_PATH"] = str(tmp_path / "instance")
    if database_url is not None:
        env["COMMENTSVC_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "commentsvc", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


BAD_DATABASE_URLS = [
    ("nosuchdriver://db.example.org/comments", "unknown database driver 'nosuchdriver'"),
    ("postgresql+psycopg2://u@127.0.0.1/comments", "needs the Python package 'psycopg2'"),
    ("sqlite:////nonexistent/folder/comments.db", "cannot connect to the database"),
    ("not a url", "is not a database URL"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("url", "message"), BAD_DATABASE_URLS)
def test_a_bad_database_url_is_one_line_naming_the_setting(tmp_path, url, message):
    port = str(free_port())
    for args in (
        ["db", "upgrade"],
        ["site", "add", "blog", "--url", "https://blog.example.org"],
        ["serve", "--port", port],
    ):
        result = _run(tmp_path, *args, database_url=url)
        assert result.returncode == 1, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, (args, result.stderr)
        assert "COMMENTSVC_DATABASE_URL" in lines[0] and message in lines[0], lines[0]


@pytest.mark.slow
def test_a_database_that_refuses_connections_is_one_line(tmp_path):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/comments"
    result = _run(tmp_path, "site", "list", database_url=url)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert "COMMENTSVC_DATABASE_URL: cannot connect to the database" in result.stderr


@pytest.mark.slow
def test_serve_on_a_busy_port_names_the_option_to_change(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run(tmp_path, "serve", "--port", str(port), timeout=30)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use); "
        "choose another port with --port N (make run PORT=N)"
    ]


@pytest.mark.slow
def test_serve_says_listening_once_the_port_answers(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMMENTSVC_")}
    env["COMMENTSVC_INSTANCE_PATH"] = str(tmp_path / "instance")
    command = [sys.executable, "-m", "commentsvc", "serve", "--port", str(port), "--workers", "1"]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        for line in server.stdout:
            if "listening" in line:
                break
        assert line.strip() == f"commentsvc listening on http://127.0.0.1:{port}/ with 1 workers"
        # Connecting right after the line must not be refused: the port is bound already.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=30) as answer:
            assert answer.status == 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stdout.close()


@pytest.mark.slow
def test_a_database_without_tables_says_to_upgrade(tmp_path):
    result = _run(tmp_path, "site", "list")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Error: COMMENTSVC_DATABASE_URL: the database has no tables yet (no such table: sites); "
        "run `commentsvc db upgrade`"
    ]


@pytest.mark.parametrize(
    ("option", "value", "field"),
    [
        ("--link-limit", "0", "link_limit"),
        ("--edit-window", "2592001", "edit_window"),
        ("--moderation", "sometimes", "moderation"),
        ("--fediverse-accounts", "not a handle", "fediverse_accounts"),
    ],
)
def test_site_settings_are_refused_with_the_shapes_message(cli, app_ctx, option, value, field):
    from commentsvc import shapes
    from commentsvc.errors import ValidationError

    with pytest.raises(ValidationError) as caught:
        shapes.parse(shapes.SiteSettings, {field: value})
    assert caught.value.field == field
    result = cli("site", "add", "blog", "--url", "https://blog.example.org", option, value)
    assert result.exit_code == 1
    assert result.output == f"Error: Invalid value for {option!r}: {caught.value.message}\n"
    assert list_sites() == []
    cli("site", "add", "blog", "--url", "https://blog.example.org")
    again = cli("site", "set", "blog", option, value)
    assert again.exit_code == 1 and caught.value.message in again.output
    assert get_site("blog").moderation == "first-time"


def test_site_set_changes_only_what_it_is_given(cli, app_ctx):
    cli("site", "add", "blog", "--url", "https://blog.example.org", "--link-limit", "5")
    assert cli("site", "set", "blog", "--moderation", "all").exit_code == 0
    site = get_site("blog")
    assert (site.moderation, site.link_limit, site.edit_window) == ("all", 5, 900)
