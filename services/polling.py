"""Orchestration of one feed poll and one article re-check.

Why the transactions are split: a fetch can take up to the fetch timeout (30 s by default). Holding
a transaction open across it would keep a row lock (PostgreSQL) or the single write lock (SQLite,
``BEGIN IMMEDIATE``) for that long and stall every other worker, the web app and the scheduler. So
each step reads what it needs in one short transaction, does the network I/O with no transaction
open, and writes the results in another short one, re-reading under a row lock whatever it decides
on (another worker may have written in between).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.errors import FetchError, NotFoundError, ParseError, TransientFetchError
from services.feeds import ParsedFeed, parse_feed
from services.fetch import FEED_ACCEPT, FetchResult, fetch
from services.ingest import (
    OnNewVersion,
    add_alias,
    load_article_state,
    load_feed_state,
    lock_feed,
    move_feed,
    record_check,
    store_text,
    upsert_entries,
)
from services.text import extract_text
from services.urls import canonical_url
from services.versions import content_hash, raw_hash

logger = logging.getLogger(__name__)

# A failing feed is retried at most this far apart.
MAX_FEED_BACKOFF_SECONDS = 24 * 3600
# A server's Retry-After is honoured up to a week.
MAX_RETRY_AFTER_SECONDS = 7 * 24 * 3600
# Jitter spreads feeds (and articles) that share an interval, so they do not all fire at once.
JITTER_FRACTION = 0.1
MAX_JITTER_SECONDS = 300.0

_rng = random.SystemRandom()


# --- pure scheduling decisions -------------------------------------------------------------------


def jitter(interval: float, rng: random.Random | None = None) -> float:
    """A random delay in [0, 10% of ``interval``], at most 5 minutes."""
    return (rng or _rng).uniform(0, min(interval * JITTER_FRACTION, MAX_JITTER_SECONDS))


def next_feed_delay(
    interval: int, *, error_count: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds until the next poll: the interval after a success, exponential backoff after failures."""
    if error_count <= 0:
        delay = float(interval)
    else:
        delay = min(interval * 2.0 ** min(error_count, 20), max(MAX_FEED_BACKOFF_SECONDS, interval))
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    return delay + jitter(delay, rng)


def next_recheck(
    current_interval: int,
    *,
    changed: bool,
    feed_interval: int,
    max_interval: int,
    now: datetime,
    recheck_until: datetime | None,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> tuple[int, datetime | None]:
    """The article's next re-check interval and time (None: stop, the re-check window is over).

    A change resets the interval to the feed's; no change doubles it, up to ``max_interval``.
    """
    if changed:
        interval = feed_interval
    else:
        interval = min(max(current_interval, 1) * 2, max(max_interval, feed_interval))
    delay = float(interval)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
    when = now + timedelta(seconds=delay + jitter(delay, rng))
    if recheck_until is not None and when > recheck_until:
        return interval, None
    return interval, when


# --- outcomes ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """One article check: ``new``, ``suspect``, ``reverted``, ``unchanged``, ``not_modified`` or ``error``."""

    article_id: int
    status: str
    version_number: int | None = None
    new_versions: int = 0
    changes: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PollOutcome:
    """One feed poll: ``ok``, ``not_modified``, ``error`` or ``disabled``, and what it stored."""

    feed_id: int
    url: str
    status: str
    new_entries: int = 0
    new_versions: int = 0
    changes: int = 0
    error: str | None = None
    articles_checked: int = 0


# --- feed poll -----------------------------------------------------------------------------------


def poll_feed(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    feed_id: int,
    settings: Settings,
    *,
    now: datetime,
    on_new_version: OnNewVersion | None = None,
) -> PollOutcome:
    """Poll one feed: conditional GET, parse, store new entries, fetch their pages, schedule the next poll.

    Fetch and parse failures are recorded on the feed (status, last_error, backoff in next_check_at)
    and returned in the outcome, not raised; :raise NotFoundError: for an unknown feed id.
    """
    with session_factory.begin() as session:
        state = load_feed_state(session, feed_id)
    if not state.enabled:
        return PollOutcome(feed_id, state.url, "disabled")

    result: FetchResult | None = None
    parsed: ParsedFeed | None = None
    error: FetchError | ParseError | None = None
    try:
        result = fetch(
            client,
            state.url,
            settings=settings,
            etag=state.etag,
            last_modified=state.last_modified,
            accept=FEED_ACCEPT,
        )
        if result.content is not None:
            parsed = parse_feed(result.content, url=result.final_url, headers=result.headers)
    except (FetchError, ParseError) as exc:
        error = exc

    with session_factory.begin() as session:
        feed = lock_feed(session, feed_id)
        feed.last_polled_at = now
        if error is not None:
            feed.error_count += 1
            feed.status = "error"
            feed.last_error = error.message
            retry_after = error.retry_after if isinstance(error, TransientFetchError) else None
            delay = next_feed_delay(
                feed.interval_seconds, error_count=feed.error_count, retry_after=retry_after
            )
            feed.next_check_at = now + timedelta(seconds=delay)
            logger.warning(
                "feed poll failed feed_id=%s error=%s retry_in=%.0fs", feed_id, error.message, delay
            )
            return PollOutcome(feed_id, feed.url, "error", error=error.message)
        assert result is not None
        if result.permanent_url and result.permanent_url != feed.url:
            logger.info("feed moved permanently feed_id=%s to=%s", feed_id, result.permanent_url)
            move_feed(session, feed, result.permanent_url)
        if result.gone:
            feed.enabled = False
            feed.status = "disabled"
            feed.last_error = "HTTP 410 Gone: the feed was removed; polling stopped"
            logger.warning("feed gone, disabled feed_id=%s", feed_id)
            return PollOutcome(feed_id, feed.url, "disabled", error=feed.last_error)
        feed.etag = result.etag
        feed.last_modified = result.last_modified
        feed.error_count = 0
        feed.last_error = None
        feed.last_success_at = now
        feed.next_check_at = now + timedelta(seconds=next_feed_delay(feed.interval_seconds, error_count=0))
        if result.not_modified:
            feed.status = "not_modified"
            return PollOutcome(feed_id, feed.url, "not_modified")
        assert parsed is not None
        feed.status = "ok"
        feed.bozo_warning = parsed.bozo_warning
        if parsed.title and feed.title != parsed.title:
            feed.title = parsed.title[:1000]
        interval = feed.interval_seconds
        feed_url = feed.url
        upserts = upsert_entries(
            session,
            feed_id,
            parsed.entries,
            now=now,
            interval=interval,
            recheck_window=settings.recheck_window,
        )

    new_entries = sum(1 for u in upserts if u.is_new)
    new_versions = changes = checked = 0
    for upsert in upserts:
        if not (upsert.is_new or upsert.changed):
            continue
        outcome = check_article(
            session_factory,
            client,
            upsert.article_id,
            settings,
            now=now,
            on_new_version=on_new_version,
            fallback_html=upsert.fallback_html,
        )
        checked += 1
        new_versions += outcome.new_versions
        changes += outcome.changes
    return PollOutcome(feed_id, feed_url, "ok", new_entries, new_versions, changes, None, checked)


# --- article check -------------------------------------------------------------------------------


def check_article(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    article_id: int,
    settings: Settings,
    *,
    now: datetime,
    on_new_version: OnNewVersion | None = None,
    fallback_html: str | None = None,
) -> CheckOutcome:
    """Fetch an article's page and store a new version if its normalised text changed.

    Unchanged bytes (same sha256 as the last fetch) or a 304 stop before any extraction, which is
    what keeps an unchanged re-check cheap. ``fallback_html`` (the entry's own body) is used when the
    page cannot be fetched or yields no text. :raise NotFoundError: for an unknown article id.
    """
    with session_factory.begin() as session:
        state = load_article_state(session, article_id)

    result: FetchResult | None = None
    fetch_error: FetchError | None = None
    if state.url:
        try:
            result = fetch(
                client, state.url, settings=settings, etag=state.etag, last_modified=state.last_modified
            )
        except FetchError as exc:
            fetch_error = exc

    def schedule(
        session: Session,
        *,
        changed: bool,
        error: str | None = None,
        retry_after: float | None = None,
        cache: FetchResult | None = None,
    ) -> None:
        interval, when = next_recheck(
            state.check_interval,
            changed=changed,
            feed_interval=state.feed_interval,
            max_interval=settings.recheck_max_interval,
            now=now,
            recheck_until=state.recheck_until,
            retry_after=retry_after,
        )
        if not state.url:
            when = None
        record_check(
            session,
            article_id,
            now=now,
            interval=interval,
            next_check_at=when,
            error=error,
            etag=cache.etag if cache else None,
            last_modified=cache.last_modified if cache else None,
            update_cache=cache is not None,
        )

    if result is not None and (result.not_modified or result.gone):
        with session_factory.begin() as session:
            error = "HTTP 410 Gone" if result.gone else None
            schedule(session, changed=False, error=error, cache=result)
        return CheckOutcome(article_id, "not_modified" if result.not_modified else "error", error=error)

    body_hash = raw_hash(result.content) if result is not None and result.content is not None else None
    if body_hash is not None and body_hash == state.raw_hash:
        # Same bytes as last time: nothing to extract (the cheap path for unchanged pages).
        with session_factory.begin() as session:
            schedule(session, changed=False, cache=result)
        return CheckOutcome(article_id, "unchanged")

    if result is None and not fallback_html:
        message = fetch_error.message if fetch_error is not None else "no URL and no entry body"
        retry_after = fetch_error.retry_after if isinstance(fetch_error, TransientFetchError) else None
        with session_factory.begin() as session:
            schedule(session, changed=False, error=message, retry_after=retry_after)
        return CheckOutcome(article_id, "error", error=message)

    content = result.content if result is not None else None
    final_url = result.final_url if result is not None else (state.url or None)
    extracted = extract_text(content, fallback_html=fallback_html, url=final_url)
    text_hash = content_hash(extracted.text)

    with session_factory.begin() as session:
        stored = store_text(
            session,
            article_id,
            text=extracted.text,
            text_hash=text_hash,
            extractor=extracted.extractor,
            raw=content if content is not None else (fallback_html or "").encode("utf-8"),
            raw_hash=body_hash,
            content_type=result.content_type if result is not None else "text/html; source=feed-entry",
            url=final_url,
            title=state.title,
            etag=result.etag if result is not None else None,
            last_modified=result.last_modified if result is not None else None,
            now=now,
            on_new_version=on_new_version,
        )
        if final_url:
            add_alias(session, state.feed_id, article_id, canonical_url(final_url))
        error = fetch_error.message if fetch_error is not None else None
        schedule(session, changed=stored.kind in {"new", "reverted"}, error=error)
    return CheckOutcome(
        article_id,
        stored.kind,
        stored.number,
        new_versions=1 if stored.kind in {"new", "suspect"} else 0,
        changes=stored.changes,
        error=error,
    )


__all__ = [
    "CheckOutcome",
    "NotFoundError",
    "PollOutcome",
    "check_article",
    "jitter",
    "next_feed_delay",
    "next_recheck",
    "poll_feed",
]
