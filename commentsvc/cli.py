"""The `commentsvc` command: serve, db, site, admin, import, export, send and worker.

Flask's own development commands (run, shell, routes, every `db` migration command) stay
reachable behind the hidden `commentsvc flask ...` group, out of a newcomer's way.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import ScriptInfo
from flask.cli import with_appcontext
from flask_migrate import upgrade as migrate_upgrade
from sqlalchemy.exc import DBAPIError

from commentsvc import __version__
from commentsvc import admins
from commentsvc import create_app
from commentsvc import shapes
from commentsvc import sites
from commentsvc.config import ConfigError
from commentsvc.config import database_error
from commentsvc.config import is_setup_error
from commentsvc.errors import ServiceError
from commentsvc.errors import ValidationError
from commentsvc.models import PROVIDER_KINDS


def _create_app():
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


class _Commands(click.Group):
    """Our commands; a database that cannot be reached ends any of them with one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DBAPIError as exc:
            # A database that cannot be reached or is not set up is the owner's to fix; any
            # other database error is a bug and keeps its traceback.
            if not is_setup_error(exc):
                raise
            raise click.ClickException(database_error(exc)) from None


@click.group(cls=_Commands)
@click.version_option(__version__, prog_name="commentsvc")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Comments, pingbacks and Webmentions for any website.

    Settings come from COMMENTSVC_* variables (see the README); `commentsvc flask --help`
    lists Flask's development commands.
    """
    if ctx.obj is None:
        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


main.add_command(
    FlaskGroup(
        name="flask",
        create_app=_create_app,
        add_version_option=False,
        hidden=True,
        help="Flask's development commands: run, shell, routes, db migrate/downgrade/...",
    )
)


def domain_command(func: Callable) -> Callable:
    """Run a command in the app context, turning domain errors into a message and exit 1."""

    @with_appcontext
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper


@main.group("db")
def db_group() -> None:
    """The database's schema."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@domain_command
def db_upgrade(revision: str) -> None:
    """Apply the database migrations up to REVISION (serve does it too)."""
    migrate_upgrade(directory=current_app.extensions["migrate"].directory, revision=revision)
    click.echo(f"the database is upgraded to {revision}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8080,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on (make run PORT=N).",
)
@click.option(
    "--workers",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes.",
)
@domain_command
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, then serve with gunicorn."""
    from commentsvc.server import run_gunicorn

    _check_port(host, port)
    migrate_upgrade(directory=current_app.extensions["migrate"].directory)
    if current_app.config["DEMO"]:
        _ensure_demo_site(host, port)

    def when_ready(server) -> None:
        click.echo(f"commentsvc listening on http://{server.cfg.bind[0]}/ with {workers} workers")

    run_gunicorn(host, port, workers, when_ready=when_ready)


def _check_port(host: str, port: int) -> None:
    # Bound and released at once, as gunicorn binds (SO_REUSEADDR): a busy port ends here with
    # one line instead of gunicorn's retries.
    import socket

    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(address)
    except OSError as exc:
        raise click.ClickException(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another port with "
            "--port N (make run PORT=N)"
        ) from None


def _ensure_demo_site(host: str, port: int) -> None:
    # The demo's pages are served from wherever it runs now: its origins follow the port.
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    url = f"http://{shown}:{port}"
    origins = list(dict.fromkeys([url, f"http://localhost:{port}"]))
    try:
        site = sites.get_site("demo")
    except ServiceError:
        sites.add_site("demo", url, origins=origins, moderation="links")
        click.echo(f"created the site 'demo' for {url}")
        return
    if site.url != url or [o.origin for o in site.origins] != origins:
        sites.update_site("demo", url=url, origins=origins)
        click.echo(f"moved the site 'demo' to {url}")


@main.command()
@click.option("--once", is_flag=True, help="Run what is due, then stop.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between polls.")
@domain_command
def worker(once: bool, interval: float) -> None:
    """Run queued work (Webmention verification, mail) outside the web processes."""
    import time

    from commentsvc import queue

    while True:
        ran = queue.run_pending()
        queue.purge_if_due()
        if ran:
            click.echo(f"ran {ran} job(s)")
        if once:
            return
        if not ran:
            time.sleep(interval)


@main.command()
@click.argument("url")
@click.option("--all", "everything", is_flag=True, help="Send to every link, changed or not.")
@domain_command
def send(url: str, everything: bool) -> None:
    """Send pingbacks and Webmentions for the links in one of the site's pages."""
    from commentsvc.linkbacks.send import send_linkbacks

    def progress(outcome) -> None:
        click.echo(f"{outcome.action:<12} {outcome.target}  ({outcome.detail})")

    outcomes = send_linkbacks(
        url,
        current_app.extensions["fetcher"],
        now=current_app.extensions["clock"](),
        everything=everything,
        progress=progress,
    )
    sent = sum(1 for o in outcomes if o.action == "sent")
    failed = sum(1 for o in outcomes if o.action == "failed")
    click.echo(f"{len(outcomes)} link(s): {sent} sent, {failed} failed")
    if failed:
        raise SystemExit(1)


# --- import and export ---------------------------------------------------------------------

# The formats `commentsvc import` reads: each a module of commentsvc.importers with parse().
IMPORT_FORMATS = ("wordpress", "disqus", "isso", "remark42", "commento", "commentsvc")


class _Format(click.Choice):
    """A choice whose complaint names every format there is."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if value in self.choices:
            return value
        self.fail(
            f"cannot import {value!r}; the formats are: {', '.join(self.choices)}.", param, ctx
        )


@main.command("import", short_help="Import comments from another system's export.")
@click.argument("format", type=_Format(IMPORT_FORMATS), metavar="FORMAT")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--site",
    "site_name",
    help="The site to import into (required, except when restoring a whole commentsvc export).",
)
@click.option(
    "--url-map",
    "url_map",
    multiple=True,
    metavar="FROM=TO",
    help="Move threads: a path or URL prefix to a new one (repeatable); a FROM with a "
    "query (/?p=12) matches exactly.",
)
@click.option(
    "--url-map-file",
    type=click.File(encoding="utf-8"),
    help="More FROM,TO pairs, one a line (e.g. a CSV of old and new addresses).",
)
@click.option("--merge", is_flag=True, help="Let several posts share one thread.")
@click.option("--dry-run", is_flag=True, help="Print what would be added; write nothing.")
@domain_command
def import_command(
    format: str,
    file: Path,
    site_name: str | None,
    url_map: tuple[str, ...],
    url_map_file,
    merge: bool,
    dry_run: bool,
) -> None:
    """Import comments from another system's export. FORMAT is wordpress (a WXR file from
    Tools > Export), disqus (the XML export, .gz or not), isso (Isso's comments.db), remark42
    (a backup file, .gz or not), commento (Commento's JSON export) or commentsvc
    (this service's own export: a restore). Importing the same file again adds nothing twice."""
    import importlib

    from commentsvc import importers

    mapping = importers.parse_url_map(url_map)
    if url_map_file is not None:
        mapping += importers.read_url_map_file(url_map_file.read())
    if format == "commentsvc":
        _restore(file, site_name, mapping, dry_run)
        return
    if not site_name:
        raise click.UsageError("Missing option '--site'.")
    site = sites.get_site(site_name)
    parser = importlib.import_module(f"commentsvc.importers.{format}")
    records, problems = parser.parse(file)
    with _progress_bar(len(records)) as advance:
        report = importers.import_records(
            site,
            records,
            secret=current_app.config["SECRET_KEY"],
            now=current_app.extensions["clock"](),
            source=f"{format} {file.name}",
            imported_from=format,
            actor="cli",
            url_map=mapping,
            merge=merge,
            dry_run=dry_run,
            progress=advance,
        )
    report.problems[:0] = problems
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(importers.describe(report))


def _restore(file: Path, site_name: str | None, mapping, dry_run: bool) -> None:
    from commentsvc import exports
    from commentsvc import importers

    data = exports.read_export(file)
    with _progress_bar(exports.count_comments(data)) as advance:
        report = exports.restore(
            data,
            site_name=site_name,
            url_map=mapping,
            dry_run=dry_run,
            progress=advance,
            now=current_app.extensions["clock"](),
        )
    for problem in report.problems:
        click.echo(f"warning: {problem}", err=True)
    click.echo(importers.describe(report))


class _progress_bar:  # noqa: N801 - used as a function
    """Yield a function that advances a progress bar on a terminal, and does nothing elsewhere."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None

    def __enter__(self) -> Callable[[int], None]:
        if not sys.stderr.isatty() or self.total < 1:
            return lambda n: None
        from rich.console import Console
        from rich.progress import Progress

        self.bar = Progress(console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("importing", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()


@main.command("export", short_help="Write a site's data, or everything, as JSON (a backup).")
@click.option("--site", "site_name", help="The site to export.")
@click.option(
    "--all", "everything", is_flag=True, help="Export every site and the service's bans and log."
)
@domain_command
def export_command(site_name: str | None, everything: bool) -> None:
    """Write everything stored for a site (--site NAME) or for the whole service (--all) as
    versioned JSON to standard output: settings, threads, comments with emails, likes,
    linkbacks with their verification state, bans and the moderation log. `commentsvc import
    commentsvc FILE` reads it back."""
    from commentsvc import exports

    if bool(site_name) == everything:
        raise click.UsageError("Give either --site NAME or --all.")
    data = exports.export_all() if everything else exports.export_site(sites.get_site(site_name))
    click.echo(exports.dump(data))


@main.command("render", short_help="Write threads as HTML fragments for static sites.")
@click.option("--site", "site_name", required=True, help="The site whose threads to render.")
@click.option("--uri", "uris", required=True, multiple=True, help="A page's path; repeatable.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write DIR/<uri>.html (DIR/index.html for /) instead of standard output.",
)
@click.option("--lang", default="en", help="The language of the widget's words (en, de, ...).")
@click.option(
    "--theme",
    type=click.Choice(["light", "dark", "auto"]),
    help="Fix the theme (the widget matches the page's colours when it loads).",
)
@domain_command
def render_command(
    site_name: str, uris: tuple[str, ...], out: Path | None, lang: str, theme: str | None
) -> None:
    """Write the threads' markup, as GET /api/comments.html answers it, for pages built ahead
    of time; the widget takes it over when the page loads."""
    public_url = current_app.config["PUBLIC_URL"].rstrip("/")
    if not public_url:
        raise click.ClickException(
            "Set COMMENTSVC_PUBLIC_URL: the fragments link to the service by its public address."
        )
    sites.get_site(site_name)
    client = current_app.test_client()
    for uri in uris:
        target = _fragment_path(out, uri) if out else None
        response = client.get(
            "/api/comments.html",
            query_string={"site": site_name, "uri": uri, "lang": lang, "theme": theme or ""},
            base_url=public_url,
        )
        if response.status_code != 200:
            raise click.ClickException(f"{uri}: {response.get_json()['error']['message']}")
        if target is None:
            click.echo(response.get_data(as_text=True))
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(response.get_data())
        click.echo(f"wrote {target}", err=True)


def _fragment_path(out: Path, uri: str) -> Path:
    """Return where the fragment of uri goes under out: never outside it."""
    parts = [p for p in uri.split("?")[0].split("#")[0].split("/") if p]
    if not uri.startswith("/") or any(p in (".", "..") or "\\" in p for p in parts):
        raise click.ClickException(f"{uri!r} is not a page's path.")
    if not parts or uri.endswith("/"):
        parts.append("index")
    name = parts[-1]
    parts[-1] = name if name.endswith(".html") else name + ".html"
    return out.joinpath(*parts)


# --- sites ---------------------------------------------------------------------------------


@main.group("site")
def site_group() -> None:
    """Add, list, change and remove the sites that embed the service."""


def _site_options(*, for_add: bool) -> Callable[[Callable], Callable]:
    # `site add` shows and passes the defaults a new site gets (sites.DEFAULTS); `site set`
    # leaves the settings it is not given alone. The values are checked where the admin form's
    # are, by shapes.SiteSettings; choices and ranges shown here come from it.
    def default(key: str) -> dict[str, Any]:
        if not for_add or key not in sites.DEFAULTS:
            return {"default": None}
        return {"default": sites.DEFAULTS[key], "show_default": True}

    def bounds(key: str) -> click.ParamType:
        schema = _setting_schema(key)
        return _ShownRange(schema["minimum"], schema["maximum"])

    def choices(key: str) -> str:
        return "[" + "|".join(_setting_schema(key)["enum"]) + "]"

    def decorate(func: Callable) -> Callable:
        options = [
            click.option(
                "--moderation",
                metavar=choices("moderation"),
                **default("moderation"),
                help="Hold policy: none, links (N or more links), first-time (until the "
                "email has an approved comment), all.",
            ),
            click.option(
                "--link-limit",
                type=bounds("link_limit"),
                metavar="N",
                **default("link_limit"),
                help="Hold at N links (moderation links).",
            ),
            click.option(
                "--edit-window",
                type=bounds("edit_window"),
                metavar="SECONDS",
                **default("edit_window"),
                help="Seconds to edit or delete.",
            ),
            click.option(
                "--linkbacks/--no-linkbacks",
                **default("linkbacks"),
                help="Accept pingbacks and Webmentions.",
            ),
            click.option(
                "--gravatar/--no-gravatar",
                **default("gravatar"),
                help="Gravatar avatars.",
            ),
            click.option("--owner-email", help="Where notifications go."),
            click.option("--moderation-words", help="Comma-separated words that hold a comment."),
            click.option("--disallowed-words", help="Comma-separated words that mark spam."),
            click.option(
                "--sign-in",
                "sign_in",
                metavar="A,B",
                help="The sign-in providers the widget offers (names given to `auth add`); "
                "'' for none.",
            ),
            click.option(
                "--anonymous",
                metavar=choices("anonymous"),
                **default("anonymous"),
                help="Comments without signing in: on, name-required, or off.",
            ),
            click.option(
                "--cache-max-age",
                type=bounds("cache_max_age"),
                metavar="SECONDS",
                **default("cache_max_age"),
                help="Seconds a CDN may keep thread and count answers (0: revalidate).",
            ),
            click.option(
                "--fediverse-accounts",
                help="Comma-separated fediverse accounts (@me@example.social) whose posts "
                "may be linked to the site's pages.",
            ),
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


class _ShownRange(click.IntRange):
    """A whole-number setting's range, shown in --help; shapes.SiteSettings checks the value."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        return value


def _setting_schema(key: str) -> dict[str, Any]:
    return shapes.SiteSettings.model_fields[key].json_schema_extra or {}


@contextmanager
def _site_option_errors() -> Iterator[None]:
    """Name the option (or NAME) at fault in a site's settings error, as click names its own."""
    try:
        yield
    except ValidationError as exc:
        if exc.field not in shapes.NewSite.model_fields and exc.field != "origin":
            raise
        option = "NAME" if exc.field == "name" else "--" + exc.field.replace("_", "-")
        raise click.ClickException(f"Invalid value for {option!r}: {exc.message}") from None


@site_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The site's address, e.g. https://blog.example.org")
@click.option(
    "--origin",
    "origins",
    multiple=True,
    help="An allowed origin (repeatable).  [default: the URL's origin]",
)
@_site_options(for_add=True)
@domain_command
def site_add(name: str, url: str, origins: tuple[str, ...], **settings: Any) -> None:
    """Add a site."""
    with _site_option_errors():
        site = sites.add_site(name, url, origins=origins, **settings)
    click.echo(
        f"added site {site.name!r} ({site.url}); origins: {_origin_list(site)}; "
        f"moderation: {site.moderation}"
    )


@site_group.command("set")
@click.argument("name")
@click.option("--url", help="The site's new address.")
@click.option("--origin", "origins", multiple=True, help="Replace the allowed origins.")
@_site_options(for_add=False)
@domain_command
def site_set(name: str, url: str | None, origins: tuple[str, ...], **settings: Any) -> None:
    """Change a site's URL, origins or settings."""
    with _site_option_errors():
        site = sites.update_site(name, url=url, origins=origins or None, **settings)
    click.echo(f"updated site {site.name!r}")
    _echo_site(site)


@site_group.command("list")
@domain_command
def site_list() -> None:
    """List the sites."""
    all_sites = sites.list_sites()
    if not all_sites:
        click.echo("no sites yet: add one with `commentsvc site add NAME --url URL`")
    for site in all_sites:
        _echo_site(site)


@site_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@domain_command
def site_remove(name: str, yes: bool) -> None:
    """Remove a site with all its threads, comments and linkbacks."""
    threads, count = sites.site_contents(name)
    if not yes:
        click.confirm(
            f"Remove the site {name!r} with its {threads} thread(s) and {count} comment(s) "
            "and linkback(s)? This cannot be undone",
            abort=True,
        )
    threads, count = sites.remove_site(name)
    click.echo(
        f"removed site {name!r} with {threads} thread(s) and {count} comment(s) and linkback(s)"
    )


# --- fediverse -----------------------------------------------------------------------------


@main.group("fediverse")
def fediverse_group() -> None:
    """Link pages to their fediverse posts, whose replies then show in the thread."""


@fediverse_group.command("link")
@click.argument("site_name", metavar="SITE")
@click.argument("uri")
@click.argument("post_url")
@domain_command
def fediverse_link(site_name: str, uri: str, post_url: str) -> None:
    """Link the page URI (its path) of SITE to the post at POST_URL; its replies are fetched
    by the queue (the web process or `commentsvc worker`)."""
    from commentsvc import comments
    from commentsvc import fediverse

    site = sites.get_site(site_name)
    post = fediverse.link_post(
        site, comments.parse_uri(uri), post_url, by="owner", now=current_app.extensions["clock"]()
    )
    click.echo(f"linked {post.url} to {site.name} {uri}; its replies are fetched by the queue")


@fediverse_group.command("list")
@click.argument("site_name", metavar="SITE")
@domain_command
def fediverse_list(site_name: str) -> None:
    """List the posts linked to SITE's pages, with what the last fetch gave."""
    from commentsvc import fediverse

    site = sites.get_site(site_name)
    posts = fediverse.site_posts(site)
    for uri, post in posts:
        click.echo(
            f"{uri}\t{post.url}\t{post.state}\tboosts={post.boosts}\tfavourites={post.favourites}"
            f"\tnext={post.next_fetch:%Y-%m-%d %H:%M}" + (f"\t{post.reason}" if post.reason else "")
        )


def _echo_site(site) -> None:
    click.echo(
        f"{site.name}\t{site.url}\torigins={_origin_list(site)}\tmoderation={site.moderation}"
        f"\tlink_limit={site.link_limit}\tedit_window={site.edit_window}s"
        f"\tlinkbacks={'on' if site.linkbacks else 'off'}"
        f"\tsign_in={site.sign_in or '-'}\tanonymous={site.anonymous}"
        + (
            f"\tfediverse={','.join('@' + a for a in site.fediverse_accounts.split())}"
            if site.fediverse_accounts
            else ""
        )
    )


def _origin_list(site) -> str:
    return ",".join(o.origin for o in site.origins)


# --- admins --------------------------------------------------------------------------------


@main.group("admin")
def admin_group() -> None:
    """Manage the accounts of the moderation pages."""


def _read_password() -> str:
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@admin_group.command("add")
@click.argument("username")
@domain_command
def admin_add(username: str) -> None:
    """Add an admin; the password comes from a prompt, or standard input when piped."""
    admin = admins.add_admin(username, _read_password())
    click.echo(f"added admin {admin.username!r}")


@admin_group.command("list")
@domain_command
def admin_list() -> None:
    """List the admins."""
    accounts = admins.list_admins()
    if not accounts:
        click.echo("no admins yet: add one with `commentsvc admin add USERNAME`")
    for admin in accounts:
        click.echo(f"{admin.username}\tsince {admin.created:%Y-%m-%d}")


@admin_group.command("remove")
@click.argument("username")
@domain_command
def admin_remove(username: str) -> None:
    """Remove an admin (not the last one); their sessions end at once."""
    admins.remove_admin(username)
    click.echo(f"removed admin {username!r}")


@admin_group.command("link")
@click.argument("username")
@click.argument("identity", required=False)
@domain_command
def admin_link(username: str, identity: str | None) -> None:
    """Make IDENTITY (provider:subject, once signed in through the widget) the admin's own: their
    widget comments are then the owner's. Without IDENTITY: unlink."""
    from commentsvc import identities

    found = identities.find_identity(identity) if identity else None
    identities.link_admin(username, found.id if found else None)
    click.echo(f"linked {identity} to {username!r}" if found else f"unlinked {username!r}")


@admin_group.command("passwd")
@click.argument("username")
@domain_command
def admin_passwd(username: str) -> None:
    """Set an admin's password (prompt, or standard input when piped); their sessions end."""
    if username not in {admin.username for admin in admins.list_admins()}:
        raise click.ClickException(f"There is no admin called {username!r}.")
    admins.set_password(username, _read_password())
    click.echo(f"changed the password of {username!r}; their sessions have ended")


# --- sign-in providers -----------------------------------------------------------------------


@main.group("auth")
def auth_group() -> None:
    """Configure the providers readers sign in with (see the README for each kind)."""


def _read_secret() -> str:
    if sys.stdin.isatty():
        return click.prompt("Client secret", hide_input=True, default="", show_default=False)
    return sys.stdin.readline().rstrip("\r\n")


@auth_group.command("add")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(PROVIDER_KINDS), help="The protocol.")
@click.option("--issuer", default="", help="The OpenID Connect issuer URL (kind oidc).")
@click.option("--client-id", default="", help="The client id the provider gave you.")
@domain_command
def auth_add(name: str, kind: str, issuer: str, client_id: str) -> None:
    """Add a provider; the client secret comes from a prompt, or standard input when piped
    (never the command line, where other users could read it)."""
    from commentsvc import identities

    secret = _read_secret() if kind in identities.NEEDS_CLIENT else ""
    provider = identities.add_provider(
        name,
        kind,
        issuer=issuer,
        client_id=client_id,
        secret=secret,
        key=current_app.config["SECRET_KEY"],
    )
    click.echo(
        f"added sign-in provider {provider.name!r} ({provider.kind}); give it the redirect URL "
        f"{_callback_url(provider.name)} and offer it with "
        f"`commentsvc site set SITE --sign-in {provider.name}`"
    )


def _callback_url(name: str) -> str:
    public = current_app.config["PUBLIC_URL"].rstrip("/") or "https://COMMENTSVC_PUBLIC_URL"
    return f"{public}/auth/{name}/callback"


@auth_group.command("list")
@domain_command
def auth_list() -> None:
    """List the providers (never their secrets)."""
    from commentsvc import identities

    found = identities.list_providers()
    if not found:
        click.echo("no sign-in providers yet: add one with `commentsvc auth add NAME --kind KIND`")
    for provider in found:
        click.echo(
            f"{provider.name}\tkind={provider.kind}\tissuer={provider.issuer or '-'}"
            f"\tclient_id={provider.client_id or '-'}"
            f"\tsecret={'set' if provider.secret else 'none'}"
            f"\tredirect={_callback_url(provider.name)}"
        )


@auth_group.command("remove")
@click.argument("name")
@domain_command
def auth_remove(name: str) -> None:
    """Remove a provider; sites stop offering it; its readers' comments keep their names."""
    from commentsvc import identities

    identities.remove_provider(name)
    click.echo(f"removed sign-in provider {name!r}")
