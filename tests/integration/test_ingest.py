"""Feed management and claiming due work, against the real database (SQLite or PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.config import Settings
from services.db import utcnow
from services.errors import ConflictError, InvalidInputError, NotFoundError, UnsafeURLError
from services.ingest import (
    add_feed,
    claim_due_articles,
    claim_due_feeds,
    feed_to_dict,
    get_feed,
    list_feeds,
    remove_feed,
)
from services.models import Article, ArticleVersion, Feed

pytestmark = pytest.mark.db


def test_add_list_get_remove(session, settings: Settings) -> None:
    feed = add_feed(session, "http://127.0.0.1:9/feed.xml", interval=60, settings=settings)
    session.commit()
    assert feed.id and feed.interval_seconds == 60 and feed.status == "new" and feed.enabled
    assert [f.id for f in list_feeds(session)] == [feed.id]
    assert get_feed(session, feed.id) is feed
    data = feed_to_dict(feed)
    assert set(data) == {
        "id",
        "url",
        "title",
        "interval",
        "status",
        "enabled",
        "last_polled_at",
        "last_success_at",
        "last_error",
        "bozo_warning",
        "error_count",
        "next_check_at",
    }
    assert data["next_check_at"].endswith("Z") and data["last_success_at"] is None
    remove_feed(session, feed.id)
    session.commit()
    assert list_feeds(session) == []
    with pytest.raises(NotFoundError, match=str(feed.id)):
        remove_feed(session, feed.id)


def test_default_interval_comes_from_settings(session, settings: Settings) -> None:
    feed = add_feed(session, "http://127.0.0.1:9/f", interval=None, settings=settings)
    assert feed.interval_seconds == settings.default_interval


def test_duplicate_url_names_the_existing_feed(session, settings: Settings) -> None:
    first = add_feed(session, "http://127.0.0.1:9/feed.xml", interval=60, settings=settings)
    session.commit()
    with pytest.raises(ConflictError, match=f"id {first.id}"):
        add_feed(session, "http://127.0.0.1:9/feed.xml", interval=60, settings=settings)


@pytest.mark.parametrize("url", ["not-a-url", "ftp://example.com/feed", "http://", ""])
def test_bad_urls_are_refused(session, settings: Settings, url: str) -> None:
    with pytest.raises(InvalidInputError):
        add_feed(session, url, interval=60, settings=settings)


@pytest.mark.parametrize("interval", [0, -5])
def test_interval_must_be_at_least_one_second(session, settings: Settings, interval: int) -> None:
    with pytest.raises(InvalidInputError, match="interval"):
        add_feed(session, "http://127.0.0.1:9/f", interval=interval, settings=settings)


def test_private_urls_are_refused_unless_allowed(session, settings: Settings) -> None:
    strict = Settings(database_url=settings.database_url, allow_private_urls=False)
    with pytest.raises(UnsafeURLError):
        add_feed(session, "http://127.0.0.1:9/feed.xml", interval=60, settings=strict)
    with pytest.raises(UnsafeURLError):
        add_feed(session, "http://169.254.169.254/latest", interval=60, settings=strict)


def test_remove_deletes_articles_and_versions(session, settings: Settings) -> None:
    feed = add_feed(session, "http://127.0.0.1:9/f", interval=60, settings=settings)
    article = Article(feed_id=feed.id, entry_key="k", url="http://127.0.0.1:9/a")
    session.add(article)
    session.flush()
    version = ArticleVersion(article_id=article.id, number=1, content_hash="h", text="t", text_extractor="x")
    session.add(version)
    session.flush()
    article.current_version_id = version.id
    session.commit()
    remove_feed(session, feed.id)
    session.commit()
    assert session.scalars(select(Article)).all() == []
    assert session.scalars(select(ArticleVersion)).all() == []


def test_claim_due_feeds_leases_them(session, settings: Settings) -> None:
    now = utcnow()
    due = add_feed(session, "http://127.0.0.1:9/due", interval=60, settings=settings)
    later = add_feed(session, "http://127.0.0.1:9/later", interval=60, settings=settings)
    off = add_feed(session, "http://127.0.0.1:9/off", interval=60, settings=settings)
    due.next_check_at = now - timedelta(seconds=1)
    later.next_check_at = now + timedelta(hours=1)
    off.next_check_at = now - timedelta(seconds=1)
    off.enabled = False
    session.commit()
    assert claim_due_feeds(session, now=now, limit=10) == [due.id]
    session.commit()
    # A second sweep right after finds nothing: the claim moved next_check_at forward.
    assert claim_due_feeds(session, now=now, limit=10) == []
    session.refresh(due)
    assert due.next_check_at > now


def test_claim_respects_the_limit_and_order(session, settings: Settings) -> None:
    now = utcnow()
    ids = []
    for i in range(5):
        feed = add_feed(session, f"http://127.0.0.1:9/f{i}", interval=60, settings=settings)
        feed.next_check_at = now - timedelta(seconds=10 - i)
        ids.append(feed.id)
    session.commit()
    assert claim_due_feeds(session, now=now, limit=2) == ids[:2]
    assert claim_due_feeds(session, now=now, limit=10) == ids[2:]


def test_claim_due_articles(session, settings: Settings) -> None:
    now = utcnow()
    feed = add_feed(session, "http://127.0.0.1:9/f", interval=60, settings=settings)
    session.flush()
    due = Article(feed_id=feed.id, entry_key="a", url="u", next_check_at=now - timedelta(seconds=1))
    done = Article(feed_id=feed.id, entry_key="b", url="u", next_check_at=None)
    future = Article(feed_id=feed.id, entry_key="c", url="u", next_check_at=now + timedelta(hours=1))
    session.add_all([due, done, future])
    session.commit()
    assert claim_due_articles(session, now=now, limit=10) == [due.id]
    session.commit()
    assert claim_due_articles(session, now=now, limit=10) == []
    feed.enabled = False
    due.next_check_at = now - timedelta(seconds=1)
    session.commit()
    assert claim_due_articles(session, now=now, limit=10) == []  # a disabled feed's articles wait


def test_feed_to_dict_hides_next_poll_of_disabled_feed(session, settings: Settings) -> None:
    feed = add_feed(session, "http://127.0.0.1:9/f", interval=60, settings=settings)
    feed.enabled = False
    session.flush()
    assert feed_to_dict(feed)["next_check_at"] is None
    assert isinstance(session.get(Feed, feed.id), Feed)
