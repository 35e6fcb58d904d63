"""The `commentsvc` command: Flask's own commands plus serve, site and admin."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup
from flask.cli import with_appcontext
from flask_migrate import upgrade as migrate_upgrade

from commentsvc import create_app
from commentsvc import sites
from commentsvc.admins import add_admin
from commentsvc.config import ConfigError
from commentsvc.errors import ServiceError
from commentsvc.models import MODERATION_POLICIES


def _create_app():
    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """Comments, pingbacks and Webmentions for any website."""


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


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@domain_command
def serve(host: str, port: int, workers: int) -> None:
    """Migrate the database, then serve with gunicorn."""
    from commentsvc.server import run_gunicorn

    migrate_upgrade(directory=current_app.extensions["migrate"].directory)
    if current_app.config["DEMO"]:
        _ensure_demo_site(host, port)
    click.echo(f"commentsvc listening on http://{host}:{port}/ with {workers} workers")
    run_gunicorn(host, port, workers)


def _ensure_demo_site(host: str, port: int) -> None:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104
    url = f"http://{shown}:{port}"
    origins = [url, f"http://localhost:{port}"]
    try:
        sites.get_site("demo")
    except ServiceError:
        sites.add_site("demo", url, origins=origins, moderation="links")
        click.echo(f"created the site 'demo' for {url}")


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


@main.command("import")
@click.argument("format", type=click.Choice(["wordpress"]), metavar="wordpress")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--site", "site_name", required=True, help="The site to import into.")
@domain_command
def import_command(format: str, file: Path, site_name: str) -> None:
    """Import comments from another system's export (WordPress WXR for now)."""
    from commentsvc.importers import import_records
    from commentsvc.importers import wordpress

    site = sites.get_site(site_name)
    records = wordpress.parse(file)
    report = import_records(
        site,
        records,
        secret=current_app.config["SECRET_KEY"],
        now=current_app.extensions["clock"](),
    )
    kinds = (
        ", ".join(f"{n} {kind}(s)" for kind, n in sorted(report.by_kind.items())) or "nothing new"
    )
    click.echo(
        f"imported {report.imported} into {len(report.threads)} page(s): {kinds}; "
        f"{report.skipped} were there already"
    )


@main.command("export")
@click.option("--site", "site_name", required=True, help="The site to export.")
@domain_command
def export_command(site_name: str) -> None:
    """Write a site's threads and comments as JSON to standard output (a backup)."""
    import json

    from commentsvc.exports import export_site

    click.echo(json.dumps(export_site(sites.get_site(site_name)), ensure_ascii=False, indent=1))


# --- sites ---------------------------------------------------------------------------------


@main.group("site")
def site_group() -> None:
    """Add, list and change the sites that embed the service."""


def _site_options(func: Callable) -> Callable:
    options = [
        click.option("--moderation", type=click.Choice(MODERATION_POLICIES), help="Hold policy."),
        click.option("--link-limit", type=click.IntRange(1, 1000), help="Hold at N links."),
        click.option("--edit-window", type=click.IntRange(0), help="Seconds to edit or delete."),
        click.option("--linkbacks/--no-linkbacks", default=None, help="Accept linkbacks."),
        click.option("--gravatar/--no-gravatar", default=None, help="Gravatar avatars."),
        click.option("--owner-email", help="Where notifications go."),
        click.option("--moderation-words", help="Comma-separated words that hold a comment."),
        click.option("--disallowed-words", help="Comma-separated words that mark spam."),
        click.option(
            "--cache-max-age",
            type=click.IntRange(0, 3600),
            help="Seconds a CDN may keep thread and count answers (default 0: revalidate).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@site_group.command("add")
@click.argument("name")
@click.option("--url", required=True, help="The site's address, e.g. https://blog.example.org")
@click.option("--origin", "origins", multiple=True, help="An allowed origin (repeatable).")
@_site_options
@domain_command
def site_add(name: str, url: str, origins: tuple[str, ...], **settings: Any) -> None:
    """Add a site."""
    site = sites.add_site(name, url, origins=origins, **settings)
    click.echo(f"added site {site.name!r} ({site.url}); origins: {_origin_list(site)}")


@site_group.command("set")
@click.argument("name")
@click.option("--url", help="The site's new address.")
@click.option("--origin", "origins", multiple=True, help="Replace the allowed origins.")
@_site_options
@domain_command
def site_set(name: str, url: str | None, origins: tuple[str, ...], **settings: Any) -> None:
    """Change a site's URL, origins or settings."""
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


def _echo_site(site) -> None:
    click.echo(
        f"{site.name}\t{site.url}\torigins={_origin_list(site)}\tmoderation={site.moderation}"
        f"\tlink_limit={site.link_limit}\tedit_window={site.edit_window}s"
        f"\tlinkbacks={'on' if site.linkbacks else 'off'}"
    )


def _origin_list(site) -> str:
    return ",".join(o.origin for o in site.origins)


# --- admins --------------------------------------------------------------------------------


@main.group("admin")
def admin_group() -> None:
    """Manage the accounts of the moderation pages."""


@admin_group.command("add")
@click.argument("username")
@domain_command
def admin_add(username: str) -> None:
    """Add an admin; the password comes from a prompt, or standard input when piped."""
    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    admin = add_admin(username, password)
    click.echo(f"added admin {admin.username!r}")
