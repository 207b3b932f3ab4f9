"""Stance changes: compare two versions' observations, record the differences and their outbox events.

``compare_stances`` is the pure decision; ``record_version`` loads and stores around it inside the
caller's transaction (the one that created the version), so a version, its observations, its changes
and the outbox events commit together or not at all.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.db import utcnow
from services.models import (
    EVENT_COUNTRY_STANCE_CHANGED,
    EVENT_STANCE_CHANGED,
    ArticleVersion,
    CountryStance,
    OutboxEvent,
    StanceChange,
    StanceObservation,
)
from services.types import Observation, Stance

if TYPE_CHECKING:
    from services.stance import Topic

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChangeIntent:
    """One country's stance differs between two versions (``None``: absent from that version)."""

    country: str
    from_stance: Stance | None
    to_stance: Stance | None
    evidence_before: str | None
    evidence_after: str | None
    confidence: float | None  # of the ``after`` observation, when there is one


def compare_stances(
    before: Mapping[str, Observation], after: Mapping[str, Observation]
) -> list[ChangeIntent]:
    """The countries whose stance differs between ``before`` and ``after``, sorted by country code."""
    intents = []
    for country in sorted(before.keys() | after.keys()):
        old, new = before.get(country), after.get(country)
        old_stance = old.stance if old else None
        new_stance = new.stance if new else None
        if old_stance == new_stance:
            # Same stance with different wording or confidence is not a change worth alerting.
            continue
        intents.append(
            ChangeIntent(
                country=country,
                from_stance=old_stance,
                to_stance=new_stance,
                evidence_before=old.evidence if old else None,
                evidence_after=new.evidence if new else None,
                confidence=new.confidence if new else None,
            )
        )
    return intents


def observations_by_country(observations: Iterable[Observation]) -> dict[str, Observation]:
    """Index observations by country (the extractor gives at most one per country)."""
    return {o.country: o for o in observations}


def to_observation(row: StanceObservation) -> Observation:
    """The plain-data view of a stored observation."""
    return Observation(
        country=row.country,
        stance=Stance(row.stance),
        confidence=row.confidence,
        evidence=row.evidence,
        start=row.evidence_start,
        end=row.evidence_end,
    )


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with a trailing Z (the API's and the webhooks' time format)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def country_name(code: str) -> str:
    """The display name of an ISO 3166-1 alpha-2 code."""
    try:
        from services.gazetteer import country_name as gazetteer_name
    except ImportError:  # the gazetteer is built in parallel; pycountry gives the same names meanwhile
        gazetteer_name = None
    if gazetteer_name is not None:
        try:
            return gazetteer_name(code)
        except (KeyError, LookupError):
            pass
    import pycountry

    found = pycountry.countries.get(alpha_2=code)
    return (getattr(found, "common_name", None) or found.name) if found else code


def _stance_value(stance: Stance | str | None) -> str | None:
    return None if stance is None else Stance(stance).value


def change_to_dict(change: StanceChange) -> dict[str, Any]:
    """The API shape of one change (``/api/changes``)."""
    version = change.to_version
    article = change.article
    return {
        "id": change.id,
        "kind": change.kind,
        "country": change.country,
        "country_name": country_name(change.country),
        "target": change.target,
        "from": _stance_value(change.from_stance),
        "to": _stance_value(change.to_stance),
        "article": {
            "id": article.id,
            "url": (version.url if version is not None and version.url else article.url),
            "title": (version.title if version is not None and version.title else article.title),
            "version": version.number if version is not None else None,
        },
        "evidence": {"before": change.evidence_before, "after": change.evidence_after},
        "detected_at": iso(change.detected_at),
        "is_correction": bool(change.is_correction),
    }


def webhook_payload(change: StanceChange) -> dict[str, Any]:
    """The Standard Webhooks body of one change (DESIGN.md)."""
    shape = change_to_dict(change)
    data = {
        "change_id": shape["id"],
        "country": shape["country"],
        "country_name": shape["country_name"],
        "target": shape["target"],
        "from": shape["from"],
        "to": shape["to"],
        "article": shape["article"],
        "evidence": shape["evidence"],
        "detected_at": shape["detected_at"],
    }
    if change.is_correction:
        data["is_correction"] = True
    return {"type": change.kind, "timestamp": shape["detected_at"], "data": data}


def new_msg_id() -> str:
    """A Standard Webhooks message id: random, stored once, so stable across retries."""
    return "msg_" + uuid.uuid4().hex


def add_outbox_event(session: Session, change: StanceChange, *, now: datetime) -> OutboxEvent:
    """Write the outbox event for ``change`` (flushed, so the change has its id); never twice."""
    session.flush()
    existing = session.scalar(select(OutboxEvent).where(OutboxEvent.change_id == change.id))
    if existing is not None:
        return existing
    event = OutboxEvent(
        msg_id=new_msg_id(),
        type=change.kind,
        change_id=change.id,
        payload=webhook_payload(change),
        created_at=now,
    )
    session.add(event)
    return event


def previous_version(session: Session, version: ArticleVersion) -> ArticleVersion | None:
    """The version the article showed before ``version``.

    That is the article's current version when it still points elsewhere (a page may flip back to
    an older text without a new version), else the highest-numbered earlier version. Suspect versions
    (error pages, paywalls) never had stances recorded, so they are skipped.
    """
    article = version.article
    if article.current_version_id is not None and article.current_version_id != version.id:
        current = session.get(ArticleVersion, article.current_version_id)
        if current is not None and not current.suspect:
            return current
    return session.scalar(
        select(ArticleVersion)
        .where(
            ArticleVersion.article_id == version.article_id,
            ArticleVersion.number < version.number,
            ArticleVersion.suspect.is_(False),
        )
        .order_by(ArticleVersion.number.desc())
        .limit(1)
    )


def stored_observations(
    session: Session, version_id: int, target: str, extractor_version: str
) -> list[StanceObservation]:
    """The observations stored for one version, target and extractor version."""
    return list(
        session.scalars(
            select(StanceObservation)
            .where(
                StanceObservation.version_id == version_id,
                StanceObservation.target == target,
                StanceObservation.extractor_version == extractor_version,
            )
            .order_by(StanceObservation.country)
        )
    )


def _already_recorded(session: Session, version_id: int, target: str, extractor_version: str) -> bool:
    seen_observation = session.scalar(
        select(StanceObservation.id)
        .where(
            StanceObservation.version_id == version_id,
            StanceObservation.target == target,
            StanceObservation.extractor_version == extractor_version,
        )
        .limit(1)
    )
    if seen_observation is not None:
        return True
    seen_change = session.scalar(
        select(StanceChange.id)
        .where(
            StanceChange.to_version_id == version_id,
            StanceChange.target == target,
            StanceChange.extractor_version == extractor_version,
        )
        .limit(1)
    )
    return seen_change is not None


def update_country_stance(
    session: Session,
    row: StanceObservation,
    version: ArticleVersion,
    *,
    now: datetime,
    is_correction: bool = False,
) -> StanceChange | None:
    """Make ``row`` the country's current stance; return the country-level change when the stance flips."""
    # FOR UPDATE on PostgreSQL: two articles naming the same country serialise here instead of
    # both reading the old stance and both alerting the flip.
    current = session.get(CountryStance, (row.target, row.country), with_for_update=True)
    if current is None:
        session.add(
            CountryStance(
                target=row.target,
                country=row.country,
                stance=row.stance,
                observation_id=row.id,
                updated_at=now,
            )
        )
        from_stance, before = None, None
    else:
        if current.updated_at > now:
            return None  # a later observation already decided the current stance
        from_stance = Stance(current.stance)
        before = session.get(StanceObservation, current.observation_id) if current.observation_id else None
        current.observation_id = row.id
        current.updated_at = now
        if from_stance == Stance(row.stance):
            return None
        current.stance = row.stance
    change = StanceChange(
        kind=EVENT_COUNTRY_STANCE_CHANGED,
        article_id=version.article_id,
        target=row.target,
        country=row.country,
        from_stance=from_stance,
        to_stance=Stance(row.stance),
        from_version_id=before.version_id if before is not None else None,
        to_version_id=version.id,
        evidence_before=before.evidence if before is not None else None,
        evidence_after=row.evidence,
        confidence=row.confidence,
        extractor_version=row.extractor_version,
        is_correction=is_correction,
        detected_at=now,
    )
    session.add(change)
    return change


def store_observations(
    session: Session,
    version: ArticleVersion,
    observations: Iterable[Observation],
    *,
    target: str,
    extractor_version: str,
    now: datetime,
) -> list[StanceObservation]:
    """Add one StanceObservation row per observation (flushed, so they have ids)."""
    rows = [
        StanceObservation(
            version_id=version.id,
            target=target,
            country=o.country,
            stance=o.stance,
            confidence=o.confidence,
            evidence=o.evidence,
            evidence_start=o.start,
            evidence_end=o.end,
            extractor_version=extractor_version,
            created_at=now,
        )
        for o in observations
    ]
    session.add_all(rows)
    session.flush()
    return rows


def record_version(
    session: Session, version: ArticleVersion, *, now: datetime, topic: Topic | None = None
) -> int:
    """Extract stances of a new version, store observations, changes and outbox events; return the change count.

    Runs inside the caller's transaction and never commits. Running it again for the same version
    (a redelivered task) adds nothing. Suspect versions must not be passed.
    """
    # Imported here so that readers of changes (the web app's change_to_dict) do not load the extractor.
    from services.stance import EXTRACTOR_VERSION, extract_stances, load_topic

    topic = topic if topic is not None else load_topic(None)
    target = topic.name
    session.flush()  # the version needs its id
    if _already_recorded(session, version.id, target, EXTRACTOR_VERSION):
        logger.info("version already recorded version_id=%s", version.id)
        return 0

    after_rows = store_observations(
        session,
        version,
        extract_stances(version.text, topic),
        target=target,
        extractor_version=EXTRACTOR_VERSION,
        now=now,
    )
    after = {row.country: to_observation(row) for row in after_rows}

    previous = previous_version(session, version)
    before: dict[str, Observation] = {}
    if previous is not None:
        stored = stored_observations(session, previous.id, target, EXTRACTOR_VERSION)
        if stored:
            before = {row.country: to_observation(row) for row in stored}
        else:
            # The previous version was read by an older extractor (or said nothing): read it again with
            # this one, in memory, so an extractor upgrade is not mistaken for an edit of the article.
            before = observations_by_country(extract_stances(previous.text, topic))

    changes: list[StanceChange] = []
    for intent in compare_stances(before, after):
        change = StanceChange(
            kind=EVENT_STANCE_CHANGED,
            article_id=version.article_id,
            target=target,
            country=intent.country,
            from_stance=intent.from_stance,
            to_stance=intent.to_stance,
            from_version_id=previous.id if previous is not None else None,
            to_version_id=version.id,
            evidence_before=intent.evidence_before,
            evidence_after=intent.evidence_after,
            confidence=intent.confidence,
            extractor_version=EXTRACTOR_VERSION,
            is_correction=False,
            detected_at=now,
        )
        session.add(change)
        changes.append(change)

    for row in after_rows:
        country_change = update_country_stance(session, row, version, now=now)
        if country_change is not None:
            changes.append(country_change)

    for change in changes:
        add_outbox_event(session, change, now=now)
    session.flush()
    logger.info(
        "version recorded version_id=%s observations=%d changes=%d", version.id, len(after_rows), len(changes)
    )
    return len(changes)


def on_new_version(session: Session, version: ArticleVersion) -> int:
    """The ingestion hook: record a new version's stances and changes in the caller's transaction."""
    return record_version(session, version, now=utcnow())
