"""Re-extraction: stored versions read again by the current extractor; differences become corrections."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.db import utcnow
from services.errors import NotFoundError
from services.models import (
    Article,
    ArticleVersion,
    CountryStance,
    Feed,
    OutboxEvent,
    StanceChange,
    StanceObservation,
)
from services.reextract import reextract
from services.stance import EXTRACTOR_VERSION
from services.types import Stance

pytestmark = pytest.mark.db
V2 = (Path(__file__).resolve().parents[2] / "seeds" / "article-v2.txt").read_text()
OLD = "old-extractor-0"


def stored_by_old_extractor(session: Session, *, now, key: str = "allies") -> ArticleVersion:
    """A version as an older extractor left it: Nicaragua missed, Kazakhstan read as opposing."""
    feed = session.scalar(select(Feed)) or Feed(url="http://127.0.0.1:9/feed.xml")
    article = Article(feed=feed, entry_key=key, url=f"http://127.0.0.1:9/{key}", title="Allies")
    session.add(article)
    session.flush()
    version = ArticleVersion(
        article_id=article.id,
        number=1,
        content_hash=hashlib.sha256(V2.encode()).hexdigest(),
        text=V2,
        text_extractor="test",
        fetched_at=now,
    )
    session.add(version)
    session.flush()
    for country, stance in [("BY", Stance.SUPPORTS), ("KZ", Stance.OPPOSES)]:
        row = StanceObservation(
            version_id=version.id,
            target="Russia",
            country=country,
            stance=stance,
            confidence=0.5,
            evidence=f"old reading of {country}",
            evidence_start=0,
            evidence_end=1,
            extractor_version=OLD,
            created_at=now,
        )
        session.add(row)
        session.flush()
        if session.get(CountryStance, ("Russia", country)) is None:
            session.add(
                CountryStance(
                    target="Russia", country=country, stance=stance, observation_id=row.id, updated_at=now
                )
            )
    session.flush()
    return version


def count(session: Session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_differences_become_corrections_without_alerts(session):
    now = utcnow()
    version = stored_by_old_extractor(session, now=now)
    outcome = reextract(session, now=now)
    assert outcome.extractor_version == EXTRACTOR_VERSION
    assert (outcome.versions_seen, outcome.versions_reextracted, outcome.observations) == (1, 1, 9)
    corrections = {
        (c.kind, c.country, c.from_stance and c.from_stance.value, c.to_stance and c.to_stance.value)
        for c in session.scalars(select(StanceChange))
    }
    assert ("stance.changed", "NI", None, "supports") in corrections
    assert ("stance.changed", "KZ", "opposes", "undeclared") in corrections
    assert ("country.stance_changed", "KZ", "opposes", "undeclared") in corrections
    assert not any(country == "BY" for _, country, *_ in corrections)  # read the same way: no correction
    assert outcome.corrections == len(corrections) == 9  # 7 newly read, KZ moved, KZ's current stance
    assert all(
        c.is_correction and c.to_version_id == version.id for c in session.scalars(select(StanceChange))
    )
    assert count(session, OutboxEvent) == outcome.events == 0
    assert session.get(CountryStance, ("Russia", "KZ")).stance == Stance.UNDECLARED
    # Old observations are kept beside the new ones.
    assert count(session, StanceObservation, StanceObservation.extractor_version == OLD) == 2


def test_running_twice_changes_nothing_the_second_time(session):
    now = utcnow()
    stored_by_old_extractor(session, now=now)
    reextract(session, now=now)
    before = [count(session, m) for m in (StanceObservation, StanceChange, OutboxEvent)]
    again = reextract(session, now=now + timedelta(minutes=1), notify=True)
    assert (again.versions_reextracted, again.observations, again.corrections, again.events) == (0, 0, 0, 0)
    assert [count(session, m) for m in (StanceObservation, StanceChange, OutboxEvent)] == before


def test_notify_writes_outbox_events_marked_as_corrections(session):
    now = utcnow()
    stored_by_old_extractor(session, now=now)
    outcome = reextract(session, now=now, notify=True)
    assert outcome.events == outcome.corrections == count(session, OutboxEvent)
    payloads = [e.payload for e in session.scalars(select(OutboxEvent))]
    assert all(p["data"]["is_correction"] is True for p in payloads)


def test_selection_by_article_and_since(session):
    now = utcnow()
    first = stored_by_old_extractor(session, now=now - timedelta(days=3), key="old")
    second = stored_by_old_extractor(session, now=now, key="new")
    assert reextract(session, since=now - timedelta(days=1), now=now).versions_seen == 1
    assert (
        count(
            session,
            StanceObservation,
            StanceObservation.version_id == first.id,
            StanceObservation.extractor_version == EXTRACTOR_VERSION,
        )
        == 0
    )
    assert reextract(session, article_id=first.article_id, now=now).versions_reextracted == 1
    assert reextract(session, article_id=second.article_id, now=now).versions_reextracted == 0
    with pytest.raises(NotFoundError, match="article 999 not found"):
        reextract(session, article_id=999, now=now)
