"""record_version on a real database with the seed pair, and the alerts it causes end to end."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support_receiver import WebhookReceiver

from services.changes import change_to_dict, record_version
from services.db import utcnow
from services.delivery import DELIVERED, attempt_delivery, dispatch_events, make_webhook_client
from services.models import (
    Article,
    ArticleVersion,
    CountryStance,
    Feed,
    OutboxEvent,
    StanceChange,
    StanceObservation,
)
from services.subscriptions import create_subscription
from services.types import Stance

pytestmark = pytest.mark.db
SEEDS = Path(__file__).resolve().parents[2] / "seeds"
V1 = (SEEDS / "article-v1.txt").read_text()
V2 = (SEEDS / "article-v2.txt").read_text()
V1_COUNTRIES = {"AM", "BY", "CN", "IR", "KP", "KZ", "SY", "VE"}


def add_article(session: Session, key: str = "allies") -> Article:
    feed = session.scalar(select(Feed)) or Feed(url="http://127.0.0.1:9/feed.xml")
    article = Article(feed=feed, entry_key=key, url=f"http://127.0.0.1:9/{key}", title="Russian allies")
    session.add(article)
    session.flush()
    return article


def add_version(
    session: Session, article: Article, text: str, *, now, suspect: bool = False
) -> ArticleVersion:
    number = 1 + (
        session.scalar(select(func.max(ArticleVersion.number)).where(ArticleVersion.article_id == article.id))
        or 0
    )
    version = ArticleVersion(
        article_id=article.id,
        number=number,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        title=f"Allies v{number}",
        text=text,
        url=article.url,
        text_extractor="test",
        suspect=suspect,
        fetched_at=now,
    )
    session.add(version)
    session.flush()
    article.current_version_id = version.id  # as ingestion does before calling record_version
    return version


def changes_of(session: Session, version: ArticleVersion) -> list[tuple[str, str, str | None, str | None]]:
    rows = session.scalars(
        select(StanceChange)
        .where(StanceChange.to_version_id == version.id)
        .order_by(StanceChange.kind, StanceChange.country)
    )
    return [
        (c.kind, c.country, c.from_stance and c.from_stance.value, c.to_stance and c.to_stance.value)
        for c in rows
    ]


def count(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_seed_pair_gives_exactly_the_nicaragua_change(session):
    now = utcnow()
    article = add_article(session)
    v1 = add_version(session, article, V1, now=now)
    assert record_version(session, v1, now=now) == 2 * len(V1_COUNTRIES)
    first = changes_of(session, v1)
    assert {(k, c) for k, c, f, t in first} == {
        (k, c) for k in ("country.stance_changed", "stance.changed") for c in V1_COUNTRIES
    }
    assert all(f is None for _, _, f, _ in first)

    v2 = add_version(session, article, V2, now=now + timedelta(minutes=5))
    assert record_version(session, v2, now=now + timedelta(minutes=5)) == 2
    assert changes_of(session, v2) == [
        ("country.stance_changed", "NI", None, "supports"),
        ("stance.changed", "NI", None, "supports"),
    ]
    change = session.scalar(
        select(StanceChange).where(StanceChange.to_version_id == v2.id, StanceChange.kind == "stance.changed")
    )
    assert change.from_version_id == v1.id and "Nicaragua" in change.evidence_after
    shape = change_to_dict(change)
    assert shape == {
        "id": change.id,
        "kind": "stance.changed",
        "country": "NI",
        "country_name": "Nicaragua",
        "target": "Russia",
        "from": None,
        "to": "supports",
        "article": {"id": article.id, "url": article.url, "title": "Allies v2", "version": 2},
        "evidence": {"before": None, "after": change.evidence_after},
        "detected_at": shape["detected_at"],
        "is_correction": False,
    }
    assert shape["detected_at"].endswith("Z")
    event = session.scalar(select(OutboxEvent).where(OutboxEvent.change_id == change.id))
    assert event.msg_id.startswith("msg_") and event.type == "stance.changed"
    assert event.payload == {
        "type": "stance.changed",
        "timestamp": shape["detected_at"],
        "data": {
            "change_id": change.id,
            **{
                k: shape[k]
                for k in (
                    "country",
                    "country_name",
                    "target",
                    "from",
                    "to",
                    "article",
                    "evidence",
                    "detected_at",
                )
            },
        },
    }
    assert count(session, OutboxEvent) == count(session, StanceChange) == 2 * len(V1_COUNTRIES) + 2
    assert session.get(CountryStance, ("Russia", "NI")).stance == Stance.SUPPORTS


def test_record_version_twice_adds_nothing(session):
    now = utcnow()
    article = add_article(session)
    v1 = add_version(session, article, V1, now=now)
    record_version(session, v1, now=now)
    v2 = add_version(session, article, V2, now=now)
    record_version(session, v2, now=now)
    before = [count(session, m) for m in (StanceObservation, StanceChange, OutboxEvent, CountryStance)]
    assert record_version(session, v2, now=now + timedelta(seconds=1)) == 0
    assert record_version(session, v1, now=now + timedelta(seconds=1)) == 0
    assert [
        count(session, m) for m in (StanceObservation, StanceChange, OutboxEvent, CountryStance)
    ] == before


def test_country_level_change_only_when_the_current_stance_flips(session):
    now = utcnow()
    first = add_article(session, "first")
    record_version(session, add_version(session, first, V2, now=now), now=now)
    # Another article repeating the same stances: article-level changes, no country-level ones.
    second = add_article(session, "second")
    v = add_version(session, second, V2, now=now + timedelta(minutes=1))
    assert record_version(session, v, now=now + timedelta(minutes=1)) == 9
    assert {k for k, *_ in changes_of(session, v)} == {"stance.changed"}
    # A third says Kazakhstan condemned the invasion: its current stance flips undeclared -> opposes.
    third = add_article(session, "third")
    text = "Kazakhstan's President Kassym-Jomart Tokayev condemned the invasion of Ukraine as unacceptable."
    v3 = add_version(session, third, text, now=now + timedelta(minutes=2))
    assert record_version(session, v3, now=now + timedelta(minutes=2)) == 2
    assert changes_of(session, v3) == [
        ("country.stance_changed", "KZ", "undeclared", "opposes"),
        ("stance.changed", "KZ", None, "opposes"),
    ]
    flip = session.scalar(
        select(StanceChange).where(
            StanceChange.kind == "country.stance_changed", StanceChange.to_version_id == v3.id
        )
    )
    # Before: the second article's observation, which was the country's current stance.
    assert flip.from_version_id == v.id and "Kazakhstan" in flip.evidence_before
    assert session.get(CountryStance, ("Russia", "KZ")).stance == Stance.OPPOSES


def test_suspect_previous_version_is_skipped(session):
    now = utcnow()
    article = add_article(session)
    record_version(session, add_version(session, article, V1, now=now), now=now)
    add_version(session, article, "Subscribe to read this article.", now=now, suspect=True)
    v3 = add_version(session, article, V2, now=now)
    record_version(session, v3, now=now)
    assert [c for k, c, *_ in changes_of(session, v3) if k == "stance.changed"] == ["NI"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


def test_seed_update_alerts_nicaragua_only_and_verifies(session_factory, settings, receiver):
    now = utcnow()
    with session_factory.begin() as session:
        article = add_article(session)
        record_version(session, add_version(session, article, V1, now=now), now=now)
        article_id = article.id
    with session_factory.begin() as session:
        dispatch_events(session, now=now)  # the first version's alerts went out before anyone subscribed
        _, secret = create_subscription(session, receiver.url, settings=settings)
    receiver.secret = secret
    with session_factory.begin() as session:
        article = session.get(Article, article_id)
        record_version(session, add_version(session, article, V2, now=now), now=now)
    with session_factory.begin() as session:
        delivery_ids = dispatch_events(session, now=utcnow())
    with make_webhook_client(settings) as client:
        for delivery_id in delivery_ids:
            assert (
                attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow()).status
                == DELIVERED
            )
    got = receiver.wait_for(2)
    assert all(d.verified for d in got)
    assert sorted(
        (d.payload["type"], d.payload["data"]["country"], d.payload["data"]["from"], d.payload["data"]["to"])
        for d in got
    ) == [
        ("country.stance_changed", "NI", None, "supports"),
        ("stance.changed", "NI", None, "supports"),
    ]
    assert len({d.msg_id for d in got}) == 2
    assert got[0].payload["data"]["country_name"] == "Nicaragua"
