"""Row counts and lease handling shared by the fault tests (plain SQLAlchemy on the test's database)."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import create_engine, func, select, update
from sqlalchemy.orm import Session

from services.db import utcnow
from services.models import (
    Article,
    ArticleVersion,
    DeliveryAttempt,
    Feed,
    OutboxEvent,
    StanceChange,
    StanceObservation,
    WebhookDelivery,
)

COUNTED = {
    "articles": Article,
    "versions": ArticleVersion,
    "observations": StanceObservation,
    "changes": StanceChange,
    "events": OutboxEvent,
    "deliveries": WebhookDelivery,
    "attempts": DeliveryAttempt,
}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


@contextmanager
def db_session(url: str) -> Iterator[Session]:
    engine = create_engine(url, pool_pre_ping=True)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    """How many rows each table of the flow holds."""
    with db_session(url) as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in COUNTED.items()
        }


def delivered_count(url: str) -> int:
    with db_session(url) as session:
        return session.scalar(select(func.count()).where(WebhookDelivery.status == "delivered")) or 0


def duplicates(url: str) -> dict[str, list[Any]]:
    """Rows that would be duplicates of one another (the constraints should make these impossible)."""
    with db_session(url) as session:
        versions = session.execute(
            select(ArticleVersion.article_id, ArticleVersion.content_hash, func.count())
            .group_by(ArticleVersion.article_id, ArticleVersion.content_hash)
            .having(func.count() > 1)
        ).all()
        changes = session.execute(
            select(StanceChange.to_version_id, StanceChange.country, StanceChange.kind, func.count())
            .group_by(StanceChange.to_version_id, StanceChange.country, StanceChange.kind)
            .having(func.count() > 1)
        ).all()
        deliveries = session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.event_id, func.count())
            .group_by(WebhookDelivery.subscription_id, WebhookDelivery.event_id)
            .having(func.count() > 1)
        ).all()
    return {"versions": list(versions), "changes": list(changes), "deliveries": list(deliveries)}


def msg_ids(url: str) -> set[str]:
    with db_session(url) as session:
        return set(session.scalars(select(OutboxEvent.msg_id)))


def delivery_msg_ids(url: str) -> set[str]:
    """The webhook-ids of the events that have a delivery (matched some subscription)."""
    with db_session(url) as session:
        return set(
            session.scalars(
                select(OutboxEvent.msg_id).join(WebhookDelivery, WebhookDelivery.event_id == OutboxEvent.id)
            )
        )


def changes_seen(url: str) -> list[tuple[str, str, str | None, str | None]]:
    with db_session(url) as session:
        rows = session.execute(
            select(StanceChange.kind, StanceChange.country, StanceChange.from_stance, StanceChange.to_stance)
        ).all()
    return sorted(
        ((kind, country, f.value if f else None, t.value if t else None) for kind, country, f, t in rows),
        key=repr,
    )


def expire_leases(url: str) -> None:
    """Make every leased feed, article and delivery due now, as if its claim lease had run out.

    Claims lease a row for minutes (feeds and articles 300 s, deliveries 60 s) so that a lost task only
    delays the work. A test cannot wait that long; moving the lease end to now is what time would do.
    """
    now = utcnow()
    engine = create_engine(url)
    try:
        with Session(engine) as session, session.begin():
            session.execute(
                update(Feed).where(Feed.next_check_at > now + timedelta(seconds=5)).values(next_check_at=now)
            )
            session.execute(
                update(Article)
                .where(Article.next_check_at.is_not(None), Article.next_check_at > now + timedelta(seconds=5))
                .values(next_check_at=now)
            )
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.status == "pending")
                .values(locked_until=None, next_attempt_at=now)
            )
    finally:
        engine.dispose()


def attempts_of(url: str) -> list[tuple[int, int | None, str | None, Any]]:
    """(number, status_code, error, attempted_at) of every attempt, in order."""
    with db_session(url) as session:
        rows = session.execute(
            select(
                DeliveryAttempt.number,
                DeliveryAttempt.status_code,
                DeliveryAttempt.error,
                DeliveryAttempt.attempted_at,
            ).order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)
        ).all()
    return [tuple(r) for r in rows]


def describe(url: str) -> str:
    """The state of feeds, articles and deliveries, for a failure message."""
    lines = [f"counts: {counts(url)}"]
    with db_session(url) as session:
        for f in session.scalars(select(Feed)):
            lines.append(f"feed {f.id} status={f.status} next={f.next_check_at} error={f.last_error!r}")
        for a in session.scalars(select(Article)):
            lines.append(
                f"article {a.id} next={a.next_check_at} interval={a.check_interval_seconds} "
                f"until={a.recheck_until} error={a.last_error!r}"
            )
        for d in session.scalars(select(WebhookDelivery)):
            lines.append(
                f"delivery {d.id} status={d.status} attempts={d.attempt_count} next={d.next_attempt_at} "
                f"locked={d.locked_until} error={d.last_error!r}"
            )
    lines.append(f"now={utcnow()}")
    return "\n".join(lines)
