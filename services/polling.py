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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import repeat
from typing import Any

import httpx
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from services.config import Settings
from services.errors import FetchError, ParseError, TransientFetchError
from services.feeds import ParsedFeed, parse_feed
from services.fetch import FEED_ACCEPT, FetchResult, fetch
from services.ingest import (
    ArticleState,
    EntryUpsert,
    OnNewVersion,
    add_alias,
    load_article_state,
    load_article_states,
    load_feed_state,
    lock_feed,
    move_feed,
    record_check,
    record_checks,
    record_feed_not_modified,
    store_text,
    upsert_entries,
)
from services.text import ExtractedText, extract_text
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

# Pages of new entries fetched at once during a poll: the wait is the network, so a few threads
# overlap it; writes stay on the polling thread.
PAGE_FETCH_CONCURRENCY = 8

# Jitter needs no cryptographic randomness (SystemRandom would cost a system call per draw).
_rng = random.Random()


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
    # One pooled connection serves both short transactions of the common 304 case (no transaction
    # is open while the fetch runs; only the checkout, and PostgreSQL's pre-ping, is saved).
    with _held_connection(session_factory) as held:
        with _light_transaction(session_factory, held) as db:
            state = load_feed_state(db, feed_id)
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

        if error is None and result is not None and result.not_modified and result.permanent_url is None:
            # The common case, kept off the ORM: nothing changed, only the schedule moves.
            delay = next_feed_delay(state.interval, error_count=0)
            with _light_transaction(session_factory, held) as db:
                record_feed_not_modified(
                    db,
                    feed_id,
                    now=now,
                    etag=result.etag,
                    last_modified=result.last_modified,
                    next_check_at=now + timedelta(seconds=delay),
                )
            return PollOutcome(feed_id, state.url, "not_modified")

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
    outcomes = check_new_entries(
        session_factory, client, upserts, settings, now=now, on_new_version=on_new_version
    )
    new_versions = sum(o.new_versions for o in outcomes)
    changes = sum(o.changes for o in outcomes)
    return PollOutcome(feed_id, feed_url, "ok", new_entries, new_versions, changes, None, len(outcomes))


# --- article check -------------------------------------------------------------------------------


@contextmanager
def _light_transaction(
    session_factory: sessionmaker[Session], connection: Connection | None = None
) -> Iterator[Session | Connection]:
    """A short transaction on a Core connection when the factory is bound to an engine.

    An ORM session costs about 0.6 ms of CPU per transaction in bookkeeping alone; the unchanged
    re-check path, which only reads one row and updates its schedule, needs none of it.
    """
    if connection is not None:
        with connection.begin():
            yield connection
        return
    bind = session_factory.kw.get("bind")
    if isinstance(bind, Engine):
        with bind.begin() as connection:
            yield connection
    else:
        with session_factory.begin() as session:
            yield session


@contextmanager
def _held_connection(session_factory: sessionmaker[Session]) -> Iterator[Connection | None]:
    """A pooled Core connection kept across several short transactions (None if not engine-bound)."""
    bind = session_factory.kw.get("bind")
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            yield connection
    else:
        yield None


@dataclass(frozen=True, slots=True)
class _Fetched:
    """A page fetched (or not) and its text extracted: everything decided without the database."""

    state: ArticleState
    result: FetchResult | None
    error: FetchError | None
    body_hash: str | None
    extracted: ExtractedText | None
    text_hash: str | None


def _fetch_page(
    client: httpx.Client, state: ArticleState, settings: Settings, fallback_html: str | None
) -> _Fetched:
    """Network and extraction for one article; touches no database (safe to run in a thread)."""
    result: FetchResult | None = None
    error: FetchError | None = None
    if state.url:
        try:
            result = fetch(
                client, state.url, settings=settings, etag=state.etag, last_modified=state.last_modified
            )
        except FetchError as exc:
            error = exc
    if result is not None and (result.not_modified or result.gone):
        return _Fetched(state, result, error, None, None, None)
    body_hash = raw_hash(result.content) if result is not None and result.content is not None else None
    if body_hash is not None and body_hash == state.raw_hash:
        # Same bytes as last time: nothing to extract (the cheap path for unchanged pages).
        return _Fetched(state, result, error, body_hash, None, None)
    if result is None and not fallback_html:
        return _Fetched(state, None, error, None, None, None)
    content = result.content if result is not None else None
    final_url = result.final_url if result is not None else (state.url or None)
    extracted = extract_text(content, fallback_html=fallback_html, url=final_url)
    if result is None and not extracted.text:
        # Page unreachable and the entry body empty: nothing to keep, so no (empty) version.
        return _Fetched(state, None, error, None, None, None)
    return _Fetched(state, result, error, body_hash, extracted, content_hash(extracted.text))


def _recheck_for(
    state: ArticleState, settings: Settings, *, now: datetime, changed: bool, retry_after: float | None = None
) -> tuple[int, datetime | None]:
    """``next_recheck`` for one article's loaded state under these settings."""
    return next_recheck(
        state.check_interval,
        changed=changed,
        feed_interval=state.feed_interval,
        max_interval=settings.recheck_max_interval,
        now=now,
        recheck_until=state.recheck_until,
        retry_after=retry_after,
    )


def _store_fetched(
    session_factory: sessionmaker[Session],
    fetched: _Fetched,
    settings: Settings,
    *,
    now: datetime,
    fallback_html: str | None,
    on_new_version: OnNewVersion | None,
    connection: Connection | None = None,
) -> CheckOutcome:
    """Write what ``_fetch_page`` found, in one short transaction."""
    state, result, fetch_error = fetched.state, fetched.result, fetched.error
    article_id = state.id

    def schedule(
        db: Session | Connection,
        *,
        changed: bool,
        error: str | None = None,
        retry_after: float | None = None,
        cache: FetchResult | None = None,
    ) -> None:
        interval, when = _recheck_for(state, settings, now=now, changed=changed, retry_after=retry_after)
        record_check(
            db,
            article_id,
            now=now,
            interval=interval,
            next_check_at=when if state.url else None,
            error=error,
            etag=cache.etag if cache else None,
            last_modified=cache.last_modified if cache else None,
            update_cache=cache is not None,
        )

    if result is not None and (result.not_modified or result.gone):
        error = "HTTP 410 Gone" if result.gone else None
        with _light_transaction(session_factory, connection) as db:
            schedule(db, changed=False, error=error, cache=result)
        return CheckOutcome(article_id, "not_modified" if result.not_modified else "error", error=error)

    if fetched.extracted is None or fetched.text_hash is None:
        if result is not None:  # unchanged bytes
            with _light_transaction(session_factory, connection) as db:
                schedule(db, changed=False, cache=result)
            return CheckOutcome(article_id, "unchanged")
        message = fetch_error.message if fetch_error is not None else "no URL and no entry body"
        retry_after = fetch_error.retry_after if isinstance(fetch_error, TransientFetchError) else None
        with _light_transaction(session_factory, connection) as db:
            schedule(db, changed=False, error=message, retry_after=retry_after)
        return CheckOutcome(article_id, "error", error=message)

    content = result.content if result is not None else None
    final_url = result.final_url if result is not None else (state.url or None)
    error = fetch_error.message if fetch_error is not None else None
    try:
        with session_factory.begin() as session:
            stored = store_text(
                session,
                article_id,
                text=fetched.extracted.text,
                text_hash=fetched.text_hash,
                extractor=fetched.extracted.extractor,
                raw=content if content is not None else (fallback_html or "").encode("utf-8"),
                raw_hash=fetched.body_hash,
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
            schedule(session, changed=stored.kind in {"new", "reverted"}, error=error)
    except IntegrityError:
        # Only reachable if another worker stored this very version between our lock and insert
        # (the row lock and BEGIN IMMEDIATE make that impossible in practice); it is stored, once.
        logger.warning("version stored concurrently by another worker article_id=%s", article_id)
        return CheckOutcome(article_id, "unchanged")
    return CheckOutcome(
        article_id,
        stored.kind,
        stored.number,
        new_versions=1 if stored.kind in {"new", "suspect"} else 0,
        changes=stored.changes,
        error=error,
    )


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
    with _held_connection(session_factory) as held:
        with _light_transaction(session_factory, held) as db:
            state = load_article_state(db, article_id)
        fetched = _fetch_page(client, state, settings, fallback_html)
        if fetched.extracted is None:  # nothing new to store: the schedule moves on the same connection
            return _store_fetched(
                session_factory,
                fetched,
                settings,
                now=now,
                fallback_html=fallback_html,
                on_new_version=on_new_version,
                connection=held,
            )
    return _store_fetched(
        session_factory,
        fetched,
        settings,
        now=now,
        fallback_html=fallback_html,
        on_new_version=on_new_version,
    )


def check_new_entries(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    upserts: list[EntryUpsert],
    settings: Settings,
    *,
    now: datetime,
    on_new_version: OnNewVersion | None = None,
) -> list[CheckOutcome]:
    """Fetch the pages of new or changed entries concurrently; store each in its own transaction.

    Pages are fetched and extracted in a small thread pool (the wait is the network, not the CPU);
    all writes happen here, one after another, so SQLite never has writers queueing on its lock.
    """
    wanted = [u for u in upserts if u.is_new or u.changed]
    if not wanted:
        return []
    with _light_transaction(session_factory) as db:
        states = load_article_states(db, [u.article_id for u in wanted])
    wanted = [u for u in wanted if u.article_id in states]
    fallbacks = {u.article_id: u.fallback_html for u in wanted}
    outcomes: list[CheckOutcome] = []
    workers = min(PAGE_FETCH_CONCURRENCY, len(wanted))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page-fetch") as pool:
        fetched_pages = pool.map(
            lambda u: _fetch_page(client, states[u.article_id], settings, u.fallback_html), wanted
        )
        for fetched in fetched_pages:
            outcomes.append(
                _store_fetched(
                    session_factory,
                    fetched,
                    settings,
                    now=now,
                    fallback_html=fallbacks[fetched.state.id],
                    on_new_version=on_new_version,
                )
            )
    return outcomes


def check_articles(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    article_ids: list[int],
    settings: Settings,
    *,
    now: datetime,
    on_new_version: OnNewVersion | None = None,
    batch_size: int = 64,
) -> list[CheckOutcome]:
    """Re-check many articles: states read in one query per batch, pages fetched concurrently.

    Unchanged pages (the common case) are rescheduled in one transaction per batch; any page with
    new text is stored in its own transaction, as ``check_article`` does. Ids that no longer exist
    are skipped.
    """
    outcomes: list[CheckOutcome] = []
    with ThreadPoolExecutor(max_workers=PAGE_FETCH_CONCURRENCY, thread_name_prefix="page-check") as pool:
        for start in range(0, len(article_ids), batch_size):
            batch = article_ids[start : start + batch_size]
            with _light_transaction(session_factory) as db:
                states = load_article_states(db, batch)
            pages = pool.map(
                _fetch_page,
                repeat(client),
                [states[a] for a in batch if a in states],
                repeat(settings),
                repeat(None),
            )
            unchanged: list[dict[str, Any]] = []
            for fetched in pages:
                if fetched.extracted is None and fetched.result is not None and not fetched.result.gone:
                    # Unchanged bytes or a 304: only the schedule moves, written below in one go.
                    state, result = fetched.state, fetched.result
                    interval, when = _recheck_for(state, settings, now=now, changed=False)
                    unchanged.append(
                        dict(
                            article_id=state.id,
                            interval=interval,
                            next_check_at=when,
                            etag=result.etag,
                            last_modified=result.last_modified,
                        )
                    )
                    status = "not_modified" if result.not_modified else "unchanged"
                    outcomes.append(CheckOutcome(state.id, status))
                    continue
                outcomes.append(
                    _store_fetched(
                        session_factory,
                        fetched,
                        settings,
                        now=now,
                        fallback_html=None,
                        on_new_version=on_new_version,
                    )
                )
            if unchanged:
                with _light_transaction(session_factory) as db:
                    record_checks(db, unchanged, now=now)
    return outcomes


__all__ = [
    "CheckOutcome",
    "PollOutcome",
    "check_article",
    "check_articles",
    "check_new_entries",
    "jitter",
    "next_feed_delay",
    "next_recheck",
    "poll_feed",
]
