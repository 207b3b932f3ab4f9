"""Persistence for ingestion: feeds, articles, aliases and versions.

Every function takes a ``Session`` first and never commits; the caller (a task, a request, a CLI
command, ``services.polling``) owns the transaction. The functions that write under concurrency lock
the row they decide on (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite serialises writers with
``BEGIN IMMEDIATE``) and insert with ``ON CONFLICT DO NOTHING`` where two workers may race, so two
workers polling one feed or checking one article never duplicate an article or a version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.config import Settings
from services.errors import ConflictError, InvalidInputError, NotFoundError
from services.feeds import EntryData
from services.models import Article, ArticleAlias, ArticleVersion, Feed
from services.netguard import check_url
from services.urls import canonical_url
from services.versions import diff_words, suspect_reason

logger = logging.getLogger(__name__)

OnNewVersion = Callable[[Session, ArticleVersion], int]

# How far a claim pushes next_check_at: long enough that a second sweep does not enqueue the row again,
# short enough that a lost message only delays the work.
CLAIM_LEASE_SECONDS = 300.0
_IN_CHUNK = 500


def _insert(session: Session) -> Any:
    # Both dialects have INSERT ... ON CONFLICT DO NOTHING, behind dialect-specific constructs.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


# --- feeds -----------------------------------------------------------------------------------------


def add_feed(session: Session, url: str, *, interval: int | None, settings: Settings) -> Feed:
    """Add a feed to watch (due at once).

    :raise InvalidInputError: bad URL or interval; UnsafeURLError for a private address.
    :raise ConflictError: the URL is already watched (the message names the existing id).
    """
    url = check_url(url, settings.allow_private_urls)
    if interval is None:
        interval = settings.default_interval
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise InvalidInputError(f"invalid interval {interval!r}: a whole number of seconds, at least 1")
    existing = session.scalar(select(Feed.id).where(Feed.url == url))
    if existing is not None:
        raise ConflictError(f"feed {url} is already watched (id {existing})")
    feed = Feed(url=url, interval_seconds=interval, status="new", enabled=True, error_count=0)
    try:
        with session.begin_nested():
            session.add(feed)
            session.flush()
    except IntegrityError:
        existing = session.scalar(select(Feed.id).where(Feed.url == url))
        raise ConflictError(f"feed {url} is already watched (id {existing})") from None
    return feed


def get_feed(session: Session, feed_id: int) -> Feed:
    """The feed with this id; :raise NotFoundError: if there is none."""
    feed = session.get(Feed, feed_id)
    if feed is None:
        raise NotFoundError(f"no feed with id {feed_id}")
    return feed


def remove_feed(session: Session, feed_id: int) -> None:
    """Stop watching a feed and delete its articles; :raise NotFoundError: if there is none."""
    feed = get_feed(session, feed_id)
    # current_version_id points into article_versions; clear it so the cascade has no cycle to break.
    session.execute(update(Article).where(Article.feed_id == feed_id).values(current_version_id=None))
    session.delete(feed)
    session.flush()


def list_feeds(session: Session) -> list[Feed]:
    """Every feed, oldest first."""
    return list(session.scalars(select(Feed).order_by(Feed.id)))


def feed_to_dict(feed: Feed) -> dict[str, Any]:
    """A feed as plain JSON-able data (CLI ``feeds list --format json`` and ``/api/feeds``)."""
    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "interval": feed.interval_seconds,
        "status": feed.status,
        "enabled": feed.enabled,
        "last_polled_at": _iso(feed.last_polled_at),
        "last_success_at": _iso(feed.last_success_at),
        "last_error": feed.last_error,
        "bozo_warning": feed.bozo_warning,
        "error_count": feed.error_count,
        "next_check_at": _iso(feed.next_check_at) if feed.enabled else None,
    }


# --- claiming due work -----------------------------------------------------------------------------


def claim_due_feeds(
    session: Session, *, now: datetime, limit: int, lease_seconds: float = CLAIM_LEASE_SECONDS
) -> list[int]:
    """Ids of enabled feeds due at ``now`` (oldest due first), leased so a second sweep skips them."""
    query = (
        select(Feed.id)
        .where(Feed.enabled.is_(True), Feed.next_check_at <= now)
        .order_by(Feed.next_check_at, Feed.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Feed).where(Feed.id.in_(ids)).values(next_check_at=now + timedelta(seconds=lease_seconds))
        )
    return ids


def claim_due_articles(
    session: Session, *, now: datetime, limit: int, lease_seconds: float = CLAIM_LEASE_SECONDS
) -> list[int]:
    """Ids of articles due for a re-check at ``now`` (enabled feeds only), leased like ``claim_due_feeds``."""
    query = (
        select(Article.id)
        .join(Feed, Feed.id == Article.feed_id)
        .where(Feed.enabled.is_(True), Article.next_check_at.is_not(None), Article.next_check_at <= now)
        .order_by(Article.next_check_at, Article.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Article)
    )
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(Article)
            .where(Article.id.in_(ids))
            .values(next_check_at=now + timedelta(seconds=lease_seconds))
        )
    return ids


def all_feed_ids(session: Session) -> list[int]:
    """Every enabled feed (``poll --once --all``)."""
    return list(session.scalars(select(Feed.id).where(Feed.enabled.is_(True)).order_by(Feed.id)))


def all_article_ids(session: Session) -> list[int]:
    """Every article still inside its re-check window, of an enabled feed (``poll --once --all``)."""
    query = (
        select(Article.id)
        .join(Feed, Feed.id == Article.feed_id)
        .where(Feed.enabled.is_(True), Article.next_check_at.is_not(None))
        .order_by(Article.id)
    )
    return list(session.scalars(query))


# --- feed poll results -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FeedState:
    """What a poll needs to know about a feed before it fetches."""

    id: int
    url: str
    enabled: bool
    etag: str | None
    last_modified: str | None
    interval: int
    error_count: int


def load_feed_state(db: Session | Connection, feed_id: int) -> FeedState:
    """The feed's fetch state (a Session or a Core Connection); :raise NotFoundError: if there is none."""
    row = db.execute(
        select(
            Feed.id,
            Feed.url,
            Feed.enabled,
            Feed.etag,
            Feed.last_modified,
            Feed.interval_seconds,
            Feed.error_count,
        ).where(Feed.id == feed_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no feed with id {feed_id}")
    return FeedState(*row)


def record_feed_not_modified(
    db: Session | Connection,
    feed_id: int,
    *,
    now: datetime,
    etag: str | None,
    last_modified: str | None,
    next_check_at: datetime,
) -> None:
    """Store a poll answered 304: success, the validators, and the next poll time."""
    db.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(
            status="not_modified",
            last_polled_at=now,
            last_success_at=now,
            etag=etag,
            last_modified=last_modified,
            error_count=0,
            last_error=None,
            next_check_at=next_check_at,
        )
    )


def lock_feed(session: Session, feed_id: int) -> Feed:
    """The feed row, locked for the rest of the transaction on PostgreSQL; :raise NotFoundError:."""
    feed = session.scalar(select(Feed).where(Feed.id == feed_id).with_for_update())
    if feed is None:
        raise NotFoundError(f"no feed with id {feed_id}")
    return feed


def move_feed(session: Session, feed: Feed, new_url: str) -> bool:
    """Store a permanent redirect's target as the feed URL; False if another feed already has it."""
    if new_url == feed.url:
        return True
    try:
        with session.begin_nested():
            feed.url = new_url
            session.flush()
    except IntegrityError:
        logger.warning("feed moved to a URL another feed has feed_id=%s url=%s", feed.id, new_url)
        return False
    return True


@dataclass(frozen=True, slots=True)
class EntryUpsert:
    """What an entry became: an article id, and whether its page must be fetched now."""

    article_id: int
    url: str
    is_new: bool
    changed: bool
    fallback_html: str | None
    title: str | None


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def upsert_entries(
    session: Session,
    feed_id: int,
    entries: Iterable[EntryData],
    *,
    now: datetime,
    interval: int,
    recheck_window: int,
) -> list[EntryUpsert]:
    """Create articles for new entries and note changed ones; call with the feed row locked.

    Identity: the entry key (guid, link, or title+date hash), else any canonical URL already seen for
    the feed (``ArticleAlias``), so a story whose guid or URL changed stays one article.
    """
    entries = list(entries)
    if not entries:
        return []
    keys = [e.key for e in entries]
    known: dict[str, tuple[int, str | None]] = {}
    for chunk in _chunks(keys):
        rows = session.execute(
            select(Article.entry_key, Article.id, Article.entry_fingerprint).where(
                Article.feed_id == feed_id, Article.entry_key.in_(chunk)
            )
        )
        known.update({key: (article_id, fp) for key, article_id, fp in rows})
    canon = {e.key: canonical_url(e.link) for e in entries if e.link and e.key not in known}
    by_alias: dict[str, int] = {}
    alias_urls = sorted(set(canon.values()))
    for chunk in _chunks(alias_urls):
        rows = session.execute(
            select(ArticleAlias.url, ArticleAlias.article_id).where(
                ArticleAlias.feed_id == feed_id, ArticleAlias.url.in_(chunk)
            )
        )
        by_alias.update({alias_url: article_id for alias_url, article_id in rows})
    insert = _insert(session)
    window_end = now + timedelta(seconds=recheck_window)
    results: list[EntryUpsert] = []
    for entry in entries:
        fallback = entry.content or entry.summary
        if entry.key in known:
            article_id, fingerprint = known[entry.key]
            changed = fingerprint != entry.fingerprint
            if changed:
                # An edited entry restarts the re-check schedule and window.
                session.execute(
                    update(Article)
                    .where(Article.id == article_id)
                    .values(
                        entry_fingerprint=entry.fingerprint,
                        title=entry.title,
                        check_interval_seconds=interval,
                        recheck_until=window_end,
                        next_check_at=now,
                    )
                )
            results.append(EntryUpsert(article_id, entry.link or "", False, changed, fallback, entry.title))
            continue
        alias = canon.get(entry.key)
        if alias and alias in by_alias:
            article_id = by_alias[alias]
            known[entry.key] = (article_id, entry.fingerprint)
            results.append(EntryUpsert(article_id, entry.link or "", False, False, fallback, entry.title))
            continue
        values = dict(
            feed_id=feed_id,
            entry_key=entry.key,
            url=entry.link or "",
            title=entry.title,
            entry_fingerprint=entry.fingerprint,
            check_interval_seconds=interval,
            # Nothing to re-fetch without a link: the entry body is the whole article.
            next_check_at=now if entry.link else None,
            recheck_until=window_end,
            first_seen_at=now,
        )
        statement = (
            insert(Article)
            .values(**values)
            .on_conflict_do_nothing(index_elements=["feed_id", "entry_key"])
            .returning(Article.id)
        )
        article_id = session.scalar(statement)
        is_new = article_id is not None
        if article_id is None:  # another worker inserted it first
            article_id = session.scalar(
                select(Article.id).where(Article.feed_id == feed_id, Article.entry_key == entry.key)
            )
        known[entry.key] = (article_id, entry.fingerprint)
        if alias:
            add_alias(session, feed_id, article_id, alias)
            by_alias.setdefault(alias, article_id)
        results.append(EntryUpsert(article_id, entry.link or "", is_new, False, fallback, entry.title))
    return results


def add_alias(session: Session, feed_id: int, article_id: int, url: str) -> None:
    """Remember that ``article_id`` was seen under ``url`` (canonical); a URL already taken is left alone."""
    statement = (
        _insert(session)(ArticleAlias)
        .values(feed_id=feed_id, article_id=article_id, url=url)
        .on_conflict_do_nothing(index_elements=["feed_id", "url"])
    )
    session.execute(statement)


# --- article checks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ArticleState:
    """What a re-check needs to know about an article before it fetches."""

    id: int
    feed_id: int
    url: str
    title: str | None
    etag: str | None
    last_modified: str | None
    raw_hash: str | None
    check_interval: int
    recheck_until: datetime | None
    feed_interval: int


_ARTICLE_STATE_COLUMNS = (
    Article.id,
    Article.feed_id,
    Article.url,
    Article.title,
    Article.etag,
    Article.last_modified,
    Article.raw_hash,
    Article.check_interval_seconds,
    Article.recheck_until,
    Feed.interval_seconds,
)


def load_article_state(db: Session | Connection, article_id: int) -> ArticleState:
    """The article's fetch state; :raise NotFoundError: if there is none.

    Accepts a Core ``Connection`` too: the unchanged re-check path skips the ORM session, whose
    bookkeeping would otherwise be most of that path's CPU.
    """
    row = db.execute(
        select(*_ARTICLE_STATE_COLUMNS).join(Feed, Feed.id == Article.feed_id).where(Article.id == article_id)
    ).one_or_none()
    if row is None:
        raise NotFoundError(f"no article with id {article_id}")
    return ArticleState(*row)


def load_article_states(db: Session | Connection, article_ids: list[int]) -> dict[int, ArticleState]:
    """Fetch states of many articles in one query (ids that do not exist are left out)."""
    states: dict[int, ArticleState] = {}
    for start in range(0, len(article_ids), _IN_CHUNK):
        chunk = article_ids[start : start + _IN_CHUNK]
        rows = db.execute(
            select(*_ARTICLE_STATE_COLUMNS)
            .join(Feed, Feed.id == Article.feed_id)
            .where(Article.id.in_(chunk))
        )
        states.update({row[0]: ArticleState(*row) for row in rows})
    return states


def record_check(
    db: Session | Connection,
    article_id: int,
    *,
    now: datetime,
    interval: int,
    next_check_at: datetime | None,
    error: str | None = None,
    etag: str | None = None,
    last_modified: str | None = None,
    update_cache: bool = False,
) -> None:
    """Store a re-check that made no version: its schedule, its error, and new caching headers."""
    values: dict[str, Any] = dict(
        last_checked_at=now, check_interval_seconds=interval, next_check_at=next_check_at, last_error=error
    )
    if update_cache:
        values.update(etag=etag, last_modified=last_modified)
    db.execute(update(Article).where(Article.id == article_id).values(**values))


_RECORD_CHECKS = (
    update(Article)
    .where(Article.id == bindparam("b_id"))
    .values(
        last_checked_at=bindparam("b_now"),
        check_interval_seconds=bindparam("b_interval"),
        next_check_at=bindparam("b_next"),
        last_error=None,
        etag=bindparam("b_etag"),
        last_modified=bindparam("b_last_modified"),
    )
)


def record_checks(db: Session | Connection, checks: list[dict[str, Any]], *, now: datetime) -> None:
    """Store many unchanged re-checks in one statement (executemany).

    Each item: ``article_id``, ``interval``, ``next_check_at``, ``etag``, ``last_modified``.
    """
    if not checks:
        return
    params = [
        {
            "b_id": c["article_id"],
            "b_now": now,
            "b_interval": c["interval"],
            "b_next": c["next_check_at"],
            "b_etag": c["etag"],
            "b_last_modified": c["last_modified"],
        }
        for c in checks
    ]
    connection = db.connection() if isinstance(db, Session) else db
    connection.execute(_RECORD_CHECKS, params)


@dataclass(frozen=True, slots=True)
class StoredText:
    """What storing a fetched text did: ``new``, ``suspect``, ``unchanged`` or ``reverted``."""

    kind: str
    version_id: int | None
    number: int | None
    changes: int = 0


def store_text(
    session: Session,
    article_id: int,
    *,
    text: str,
    text_hash: str,
    extractor: str,
    raw: bytes | None,
    raw_hash: str | None,
    content_type: str | None,
    url: str | None,
    title: str | None,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
    on_new_version: OnNewVersion | None = None,
) -> StoredText:
    """Make a new version of the article if ``text_hash`` is new to it; decide under the article's row lock.

    The same hash as the current version changes nothing; the hash of an earlier version points the
    article back at that version (an A/B flip is recorded once, never as endless versions); a new
    hash becomes version N+1 with its diff to the current text, flagged suspect (and not made current,
    and not passed to ``on_new_version``) when it looks like an error or paywall page.

    A lost race cannot happen under the row lock (PostgreSQL) or ``BEGIN IMMEDIATE`` (SQLite); the
    unique constraints stay the last line and raise IntegrityError, which the caller treats as
    "another worker stored it" after its transaction rolled back.
    """
    locked = session.execute(
        select(Article.current_version_id, Article.title).where(Article.id == article_id).with_for_update()
    ).one_or_none()
    if locked is None:
        raise NotFoundError(f"no article with id {article_id}")
    current_id, article_title = locked
    known = session.execute(
        select(
            ArticleVersion.id, ArticleVersion.number, ArticleVersion.content_hash, ArticleVersion.suspect
        ).where(ArticleVersion.article_id == article_id)
    ).all()
    values: dict[str, Any] = dict(
        raw_hash=raw_hash, etag=etag, last_modified=last_modified, last_checked_at=now, last_error=None
    )
    if title and not article_title:
        values["title"] = title
    by_hash = {row.content_hash: row for row in known}
    same = by_hash.get(text_hash)
    if same is not None:
        kind = "unchanged"
        if same.id != current_id and not same.suspect:
            logger.info(
                "article returned to an earlier text article_id=%s version=%s", article_id, same.number
            )
            values["current_version_id"] = same.id
            kind = "reverted"
        session.execute(update(Article).where(Article.id == article_id).values(**values))
        return StoredText(kind, same.id, same.number)
    number = max((row.number for row in known), default=0) + 1
    previous_text = (
        session.scalar(select(ArticleVersion.text).where(ArticleVersion.id == current_id))
        if current_id is not None
        else None
    )
    reason = suspect_reason(previous_text, text)
    version = ArticleVersion(
        article_id=article_id,
        number=number,
        content_hash=text_hash,
        title=title or article_title,
        text=text,
        url=url,
        raw_html=raw,
        raw_content_type=content_type,
        text_extractor=extractor[:64],
        diff=diff_words(previous_text, text) if previous_text is not None else None,
        suspect=reason is not None,
        suspect_reason=reason,
        fetched_at=now,
    )
    session.add(version)
    session.flush()
    if reason is not None:
        logger.warning("suspect version article_id=%s number=%s reason=%s", article_id, number, reason)
        session.execute(update(Article).where(Article.id == article_id).values(**values))
        return StoredText("suspect", version.id, number)
    values["current_version_id"] = version.id
    session.execute(update(Article).where(Article.id == article_id).values(**values))
    changes = on_new_version(session, version) if on_new_version is not None else 0
    return StoredText("new", version.id, number, changes)
