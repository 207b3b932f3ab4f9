"""Re-extraction: read stored versions again with the current extractor and record corrections.

What the stored text said does not change; what we read from it may, when the extractor improves.
Each difference between the observations of one version under its latest earlier extractor and
under the current one is a ``StanceChange(is_correction=True)``, visible in the history and marked.
Corrections are not alerted unless asked (``notify``): subscribers already heard about the version.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.changes import (
    add_outbox_event,
    compare_stances,
    store_observations,
    stored_observations,
    to_observation,
)
from services.errors import NotFoundError
from services.models import (
    EVENT_COUNTRY_STANCE_CHANGED,
    EVENT_STANCE_CHANGED,
    Article,
    ArticleVersion,
    CountryStance,
    StanceChange,
    StanceObservation,
)
from services.types import Stance

if TYPE_CHECKING:
    from services.stance import Topic

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReextractOutcome:
    """What one re-extraction run did."""

    extractor_version: str
    versions_seen: int  # versions selected
    versions_reextracted: int  # of those, not yet read by this extractor version
    observations: int  # observations stored
    corrections: int  # StanceChange rows with is_correction=True
    events: int  # outbox events written (only with notify)


def _previous_extractor_version(session: Session, version_id: int, target: str, current: str) -> str | None:
    # The most recent extractor that read this version before the current one.
    return session.scalar(
        select(StanceObservation.extractor_version)
        .where(
            StanceObservation.version_id == version_id,
            StanceObservation.target == target,
            StanceObservation.extractor_version != current,
        )
        .order_by(StanceObservation.created_at.desc(), StanceObservation.id.desc())
        .limit(1)
    )


def reextract(
    session: Session,
    *,
    article_id: int | None = None,
    since: datetime | None = None,
    notify: bool = False,
    now: datetime,
    topic: Topic | None = None,
) -> ReextractOutcome:
    """Recompute observations of stored versions with the current extractor; record differences as corrections.

    Selects every non-suspect version, or one article's (``article_id``), or those fetched at or after
    ``since``. A version already read by the current extractor version is skipped, so a second run
    changes nothing. Raises NotFoundError for an unknown article. Never commits.
    """
    from services.stance import EXTRACTOR_VERSION, extract_stances, load_topic

    topic = topic if topic is not None else load_topic(None)
    target = topic.name
    if article_id is not None and session.get(Article, article_id) is None:
        raise NotFoundError(f"article {article_id} not found")
    query = select(ArticleVersion).where(ArticleVersion.suspect.is_(False))
    if article_id is not None:
        query = query.where(ArticleVersion.article_id == article_id)
    if since is not None:
        query = query.where(ArticleVersion.fetched_at >= since)
    versions = list(session.scalars(query.order_by(ArticleVersion.fetched_at, ArticleVersion.id)))

    reextracted = observations = corrections = events = 0
    for version in versions:
        if stored_observations(session, version.id, target, EXTRACTOR_VERSION):
            continue  # already read by this extractor version
        already_changed = session.scalar(
            select(StanceChange.id)
            .where(
                StanceChange.to_version_id == version.id, StanceChange.extractor_version == EXTRACTOR_VERSION
            )
            .limit(1)
        )
        if already_changed is not None:
            continue  # read by this version and found nothing to observe, but changes were recorded
        old_extractor = _previous_extractor_version(session, version.id, target, EXTRACTOR_VERSION)
        old_rows = stored_observations(session, version.id, target, old_extractor) if old_extractor else []
        new_rows = store_observations(
            session,
            version,
            extract_stances(version.text, topic),
            target=target,
            extractor_version=EXTRACTOR_VERSION,
            now=now,
        )
        reextracted += 1
        observations += len(new_rows)
        before = {row.country: to_observation(row) for row in old_rows}
        after = {row.country: to_observation(row) for row in new_rows}
        new_changes: list[StanceChange] = []
        for intent in compare_stances(before, after):
            change = StanceChange(
                kind=EVENT_STANCE_CHANGED,
                article_id=version.article_id,
                target=target,
                country=intent.country,
                from_stance=intent.from_stance,
                to_stance=intent.to_stance,
                from_version_id=version.id,
                to_version_id=version.id,
                evidence_before=intent.evidence_before,
                evidence_after=intent.evidence_after,
                confidence=intent.confidence,
                extractor_version=EXTRACTOR_VERSION,
                is_correction=True,
                detected_at=now,
            )
            session.add(change)
            new_changes.append(change)
        new_changes.extend(_correct_country_stances(session, version, old_rows, new_rows, now=now))
        corrections += len(new_changes)
        if notify:
            for change in new_changes:
                add_outbox_event(session, change, now=now)
            events += len(new_changes)
    session.flush()
    outcome = ReextractOutcome(
        EXTRACTOR_VERSION, len(versions), reextracted, observations, corrections, events
    )
    logger.info("reextract done %s", outcome)
    return outcome


def _correct_country_stances(
    session: Session,
    version: ArticleVersion,
    old_rows: list[StanceObservation],
    new_rows: list[StanceObservation],
    *,
    now: datetime,
) -> list[StanceChange]:
    # A country's current stance rests on one observation; when that observation belongs to this
    # version, the re-read replaces it (and a different stance is a country-level correction).
    old_ids = {row.id: row for row in old_rows}
    new_by_country = {row.country: row for row in new_rows}
    changes = []
    for old_id, old in old_ids.items():
        current = session.scalar(
            select(CountryStance).where(CountryStance.observation_id == old_id).with_for_update()
        )
        if current is None:
            continue
        new = new_by_country.get(old.country)
        if new is None:
            continue  # the new reading has no stance here; the last known stance stands
        current.observation_id = new.id
        if Stance(current.stance) == Stance(new.stance):
            continue
        change = StanceChange(
            kind=EVENT_COUNTRY_STANCE_CHANGED,
            article_id=version.article_id,
            target=new.target,
            country=new.country,
            from_stance=Stance(current.stance),
            to_stance=Stance(new.stance),
            from_version_id=version.id,
            to_version_id=version.id,
            evidence_before=old.evidence,
            evidence_after=new.evidence,
            confidence=new.confidence,
            extractor_version=new.extractor_version,
            is_correction=True,
            detected_at=now,
        )
        current.stance = new.stance
        current.updated_at = max(current.updated_at, now)
        session.add(change)
        changes.append(change)
    return changes
