import pytest

from commentsvc.admins import check_login
from commentsvc.sites import get_site
from commentsvc.sites import list_sites


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
