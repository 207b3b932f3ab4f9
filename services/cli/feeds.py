"""``stancewatch feeds``: add, list and remove watched feeds."""

from __future__ import annotations

import click

from services.cli import AppContext, emit_json, format_option, main, pass_app
from services.ingest import add_feed, feed_to_dict, list_feeds, remove_feed


@main.group()
def feeds() -> None:
    """Manage the feeds stancewatch polls."""


@feeds.command("add")
@click.argument("url")
@click.option(
    "--interval", type=click.IntRange(min=1), default=None, help="Seconds between polls (default 600)."
)
@format_option
@pass_app
def feeds_add(app: AppContext, url: str, interval: int | None, fmt: str) -> None:
    """Watch the feed at URL."""
    with app.transaction() as session:
        feed = add_feed(session, url, interval=interval, settings=app.settings)
        data = feed_to_dict(feed)
    if fmt == "json":
        emit_json(data)
    else:
        click.echo(f"added feed {data['id']}: {data['url']} (every {data['interval']} s)")


def _short(value: str | None, width: int) -> str:
    if not value:
        return "-"
    value = " ".join(value.split())
    return value if len(value) <= width else value[: width - 1] + "…"


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "-"


@feeds.command("list")
@format_option
@pass_app
def feeds_list(app: AppContext, fmt: str) -> None:
    """List feeds with status, last success, last error and next poll."""
    with app.transaction() as session:
        rows = [feed_to_dict(feed) for feed in list_feeds(session)]
    if fmt == "json":
        emit_json({"feeds": rows})
        return
    if not rows:
        click.echo("no feeds (add one with `stancewatch feeds add URL`)")
        return
    header = f"{'ID':>4}  {'STATUS':<12}  {'EVERY':>6}  {'LAST SUCCESS':<19}  {'NEXT POLL':<19}  {'ERRORS':>6}  URL"
    click.echo(header)
    for row in rows:
        click.echo(
            f"{row['id']:>4}  {row['status']:<12}  {row['interval']:>5}s  {_when(row['last_success_at']):<19}  "
            f"{_when(row['next_check_at']):<19}  {row['error_count']:>6}  {row['url']}"
        )
        if row["last_error"]:
            click.echo(f"{'':>4}  last error: {_short(row['last_error'], 100)}")
        if row["bozo_warning"]:
            click.echo(f"{'':>4}  warning: {_short(row['bozo_warning'], 100)}")


@feeds.command("remove")
@click.argument("feed_id", type=int)
@pass_app
def feeds_remove(app: AppContext, feed_id: int) -> None:
    """Stop watching feed FEED_ID and delete its articles."""
    with app.transaction() as session:
        remove_feed(session, feed_id)
    click.echo(f"removed feed {feed_id}")
