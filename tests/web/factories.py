"""Rows for web tests, created directly with the models (flush only; the test commits when needed)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from services.models import (
    Article,
    ArticleVersion,
    CountryStance,
    DeliveryAttempt,
    Feed,
    OutboxEvent,
    StanceChange,
    WebhookDelivery,
    WebhookSubscription,
)
from services.types import Stance

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
T0 = datetime(2022, 2, 27, 14, 0, tzinfo=UTC)
SEED_TITLE = "Here is a list of Russian allies during the Ukraine invasion and the reasons why"


def make_feed(session: Session, url: str = "http://127.0.0.1:1/feed.xml", **fields: object) -> Feed:
    feed = Feed(url=url, title=fields.pop("title", "Local news"), **fields)
    session.add(feed)
    session.flush()
    return feed


def make_article(session: Session, feed: Feed, *, key: str = "a1", **fields: object) -> Article:
    fields.setdefault("url", f"http://127.0.0.1:1/articles/{key}.html")
    fields.setdefault("title", SEED_TITLE)
    article = Article(feed_id=feed.id, entry_key=key, **fields)
    session.add(article)
    session.flush()
    return article


def make_version(
    session: Session,
    article: Article,
    number: int,
    text: str,
    *,
    fetched_at: datetime | None = None,
    **fields: object,
) -> ArticleVersion:
    version = ArticleVersion(
        article_id=article.id,
        number=number,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        title=fields.pop("title", article.title),
        text=text,
        url=fields.pop("url", article.url),
        text_extractor="test",
        fetched_at=fetched_at or T0 + timedelta(hours=number),
        **fields,
    )
    session.add(version)
    session.flush()
    article.current_version_id = version.id
    session.flush()
    return version


def make_change(
    session: Session,
    version: ArticleVersion,
    country: str,
    before: Stance | None,
    after: Stance | None,
    *,
    from_version: ArticleVersion | None = None,
    evidence_before: str | None = None,
    evidence_after: str | None = None,
    detected_at: datetime | None = None,
    kind: str = "stance.changed",
    is_correction: bool = False,
) -> StanceChange:
    change = StanceChange(
        kind=kind,
        article_id=version.article_id,
        target="Russia",
        country=country,
        from_stance=before,
        to_stance=after,
        from_version_id=from_version.id if from_version else None,
        to_version_id=version.id,
        evidence_before=evidence_before,
        evidence_after=evidence_after,
        confidence=0.9,
        extractor_version="test",
        is_correction=is_correction,
        detected_at=detected_at or version.fetched_at,
    )
    session.add(change)
    session.flush()
    return change


def set_current(
    session: Session, country: str, stance: Stance, when: datetime | None = None
) -> CountryStance:
    current = CountryStance(target="Russia", country=country, stance=stance, updated_at=when or T0)
    session.add(current)
    session.flush()
    return current


def make_subscription(
    session: Session, url: str = "http://127.0.0.1:1/hook", **fields: object
) -> WebhookSubscription:
    sub = WebhookSubscription(
        url=url, secret=fields.pop("secret", "whsec_c2VjcmV0LXNob3VsZC1uZXZlci1zaG93"), **fields
    )
    session.add(sub)
    session.flush()
    return sub


def make_delivery(
    session: Session, sub: WebhookSubscription, change: StanceChange, status: str, *, error: str | None = None
) -> WebhookDelivery:
    event = OutboxEvent(
        msg_id=f"msg_{change.id}_{sub.id}", type="stance.changed", change_id=change.id, payload={}
    )
    session.add(event)
    session.flush()
    delivery = WebhookDelivery(
        subscription_id=sub.id,
        event_id=event.id,
        status=status,
        attempt_count=1,
        last_error=error,
        last_status_code=500 if error else 204,
    )
    session.add(delivery)
    session.flush()
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            number=1,
            status_code=500 if error else 204,
            duration_ms=12.0,
            error=error,
        )
    )
    session.flush()
    return delivery


def seed_texts() -> tuple[str, str]:
    return (SEEDS / "article-v1.txt").read_text(), (SEEDS / "article-v2.txt").read_text()


NICARAGUA_EVIDENCE = "On Monday, he blamed Ukraine for inciting the war by looking for NATO membership."
BELARUS_EVIDENCE = (
    "Belarus has been Russia's closest ally and allowed Russian troops to stage on its territory."
)


def seed_scenario(session: Session) -> dict[str, object]:
    """The seed article: v1 lists Belarus (and others) as supporters, v2 adds Nicaragua (null → supports)."""
    v1_text, v2_text = seed_texts()
    feed = make_feed(session)
    article = make_article(session, feed, key="5WGY0", url="http://127.0.0.1:1/articles/allies.html")
    v1 = make_version(session, article, 1, v1_text)
    v2 = make_version(session, article, 2, v2_text)
    by = make_change(session, v1, "BY", None, Stance.SUPPORTS, evidence_after=BELARUS_EVIDENCE)
    cn = make_change(
        session, v1, "IN", None, Stance.UNDECLARED, evidence_after="India has yet to take a stance."
    )
    ni = make_change(
        session, v2, "NI", None, Stance.SUPPORTS, from_version=v1, evidence_after=NICARAGUA_EVIDENCE
    )
    ni_country = make_change(
        session,
        v2,
        "NI",
        None,
        Stance.SUPPORTS,
        from_version=v1,
        evidence_after=NICARAGUA_EVIDENCE,
        kind="country.stance_changed",
    )
    set_current(session, "BY", Stance.SUPPORTS, v1.fetched_at)
    set_current(session, "IN", Stance.UNDECLARED, v1.fetched_at)
    set_current(session, "NI", Stance.SUPPORTS, v2.fetched_at)
    return {
        "feed": feed,
        "article": article,
        "v1": v1,
        "v2": v2,
        "by": by,
        "in": cn,
        "ni": ni,
        "ni_country": ni_country,
    }
