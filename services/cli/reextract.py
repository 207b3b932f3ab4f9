"""``stancewatch reextract``: read stored versions again with the current stance extractor."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import click

from services.cli import AppContext, emit_json, format_option, main, pass_app
from services.db import utcnow
from services.errors import InvalidInputError
from services.reextract import reextract


def parse_since(raw: str) -> datetime:
    """A date or ISO 8601 time; naive values are taken as UTC."""
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            f"--since: expected a date like 2024-05-01 or 2024-05-01T12:00Z, got {raw!r}"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@main.command("reextract")
@click.option("--article", "article_id", type=int, help="Only this article's versions.")
@click.option("--since", help="Only versions fetched at or after this date/time (UTC).")
@click.option("--notify", is_flag=True, help="Also send webhooks for the corrections (off by default).")
@format_option
@pass_app
def reextract_command(
    app: AppContext, article_id: int | None, since: str | None, notify: bool, fmt: str
) -> None:
    """Recompute stances of stored versions; differences are recorded as corrections."""
    if article_id is not None and since is not None:
        raise click.UsageError("use --article or --since, not both")
    since_at = parse_since(since) if since is not None else None
    with app.transaction() as session:
        outcome = reextract(session, article_id=article_id, since=since_at, notify=notify, now=utcnow())
    if fmt == "json":
        emit_json(dataclasses.asdict(outcome))
        return
    click.echo(
        f"extractor {outcome.extractor_version}: {outcome.versions_reextracted} of {outcome.versions_seen} "
        f"versions re-read, {outcome.observations} observations, {outcome.corrections} corrections"
        + (f", {outcome.events} webhook events" if notify else " (no webhooks; use --notify to send them)")
    )
