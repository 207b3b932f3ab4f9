"""``stancewatch poll --once``: one synchronous pass over due feeds and articles, no worker needed."""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.orm import Session, sessionmaker

from services.changes import on_new_version
from services.cli import AppContext, emit_json, format_option, main, pass_app
from services.config import Settings
from services.db import utcnow
from services.delivery import attempt_deliveries, claim_due_deliveries, dispatch_events, make_webhook_client
from services.errors import NotFoundError
from services.fetch import make_fetch_client
from services.ingest import all_article_ids, all_feed_ids, claim_due_articles, claim_due_feeds
from services.polling import check_articles, poll_feed

# One pass takes everything due; the limit only bounds one claim query.
_CLAIM_LIMIT = 100_000
_ARTICLE_BATCH = 64


def _progress(enabled: bool, message: str) -> None:
    if enabled:
        click.echo(f"\r\033[K{message}", nl=False, err=True)


def send_due_webhooks(factory: sessionmaker[Session], settings: Settings) -> int:
    """Dispatch new events and send one attempt of every due delivery, as a worker would; so that
    ``poll --once`` from cron alerts subscribers with no worker running. Returns how many were delivered."""
    now = utcnow()
    with factory.begin() as session:
        delivery_ids = dispatch_events(session, now=now)
        delivery_ids += claim_due_deliveries(session, now=now, limit=_CLAIM_LIMIT)
    if not delivery_ids:
        return 0
    with make_webhook_client(settings) as client:
        outcomes = attempt_deliveries(factory, client, delivery_ids, settings, now=utcnow())
    return sum(1 for outcome in outcomes if outcome.status == "delivered")


@main.command()
@click.option(
    "--once", is_flag=True, help="Run one pass and exit (the only mode; workers poll continuously)."
)
@click.option("--all", "everything", is_flag=True, help="Poll every feed and re-check every article now.")
@format_option
@pass_app
def poll(app: AppContext, once: bool, everything: bool, fmt: str) -> None:
    """Poll due feeds and re-check due articles once, synchronously."""
    if not once:
        raise click.UsageError("only `poll --once` is supported; `stancewatch worker` polls continuously")
    settings = app.settings
    factory = app.session_factory
    hook = on_new_version
    show = sys.stderr.isatty()
    now = utcnow()
    with factory.begin() as session:
        if everything:
            feed_ids = all_feed_ids(session)
        else:
            feed_ids = claim_due_feeds(session, now=now, limit=_CLAIM_LIMIT)
    feeds_out: list[dict[str, Any]] = []
    total_versions = total_changes = 0
    with make_fetch_client(settings) as client:
        for index, feed_id in enumerate(feed_ids, 1):
            _progress(show, f"feed {index}/{len(feed_ids)} (id {feed_id})")
            try:
                outcome = poll_feed(factory, client, feed_id, settings, now=utcnow(), on_new_version=hook)
            except NotFoundError:
                continue  # removed while the pass ran
            feeds_out.append(
                {
                    "id": outcome.feed_id,
                    "url": outcome.url,
                    "status": outcome.status,
                    "new_entries": outcome.new_entries,
                    "new_versions": outcome.new_versions,
                    "error": outcome.error,
                }
            )
            total_versions += outcome.new_versions
            total_changes += outcome.changes
        # Claimed after the feeds: the pages this pass just fetched are scheduled ahead, not due again.
        with factory.begin() as session:
            if everything:
                article_ids = all_article_ids(session)
            else:
                article_ids = claim_due_articles(session, now=utcnow(), limit=_CLAIM_LIMIT)
        checked = 0
        for start in range(0, len(article_ids), _ARTICLE_BATCH):
            batch = article_ids[start : start + _ARTICLE_BATCH]
            _progress(show, f"articles {start + len(batch)}/{len(article_ids)}")
            for result in check_articles(factory, client, batch, settings, now=utcnow(), on_new_version=hook):
                checked += 1
                total_versions += result.new_versions
                total_changes += result.changes
    _progress(show, "")
    sent = send_due_webhooks(factory, settings)
    report = {
        "feeds": feeds_out,
        "articles_checked": checked,
        "new_versions": total_versions,
        "changes": total_changes,
        "webhooks_sent": sent,
    }
    if fmt == "json":
        emit_json(report)
        return
    if feeds_out:
        click.echo(f"{'ID':>4}  {'STATUS':<12}  {'NEW':>4}  {'VERSIONS':>8}  URL / ERROR")
        for row in feeds_out:
            click.echo(
                f"{row['id']:>4}  {row['status']:<12}  {row['new_entries']:>4}  {row['new_versions']:>8}  {row['url']}"
            )
            if row["error"]:
                click.echo(f"{'':>4}  error: {row['error']}")
    else:
        click.echo("no feed due")
    click.echo(
        f"{len(feeds_out)} feeds polled, {checked} articles re-checked, "
        f"{total_versions} new versions, {total_changes} stance changes, {sent} webhooks delivered"
    )
