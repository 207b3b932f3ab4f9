from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.models import Article, ArticleVersion, Feed

pytestmark = pytest.mark.db


def _article(session: Session) -> Article:
    feed = Feed(url="http://127.0.0.1:1/feed.xml", interval_seconds=60)
    session.add(feed)
    session.flush()
    article = Article(feed_id=feed.id, entry_key="guid-1", url="http://127.0.0.1:1/a")
    session.add(article)
    session.flush()
    return article


def test_datetimes_come_back_timezone_aware_in_utc(session: Session) -> None:
    stamp = datetime(2022, 2, 27, 15, 3, tzinfo=timezone(timedelta(hours=1)))
    feed = Feed(url="http://127.0.0.1:1/feed.xml", next_check_at=stamp)
    session.add(feed)
    session.commit()
    session.expire_all()
    loaded = session.scalars(select(Feed)).one()
    assert loaded.next_check_at == stamp
    assert loaded.next_check_at.tzinfo is not None
    assert loaded.next_check_at.utcoffset() == timedelta(0)


def test_naive_datetimes_are_refused(session: Session) -> None:
    session.add(Feed(url="http://127.0.0.1:1/x", next_check_at=datetime(2022, 1, 1)))
    with pytest.raises(Exception, match="naive datetime"):
        session.flush()


def test_one_version_per_article_and_content_hash(session: Session) -> None:
    article = _article(session)
    session.add(
        ArticleVersion(article_id=article.id, number=1, content_hash="h", text="t", text_extractor="x")
    )
    session.flush()
    session.add(
        ArticleVersion(article_id=article.id, number=2, content_hash="h", text="t", text_extractor="x")
    )
    with pytest.raises(IntegrityError):
        session.flush()


def test_one_article_per_feed_and_entry(session: Session) -> None:
    article = _article(session)
    session.add(Article(feed_id=article.feed_id, entry_key="guid-1", url="http://127.0.0.1:1/b"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_foreign_keys_are_enforced(session: Session) -> None:
    session.add(
        Article(feed_id=999, entry_key="x", url="http://127.0.0.1:1/c", first_seen_at=datetime.now(UTC))
    )
    with pytest.raises(IntegrityError):
        session.flush()
