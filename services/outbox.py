"""Queries over the outbox that the scheduler needs."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.models import OutboxEvent


def has_undispatched_events(session: Session) -> bool:
    """True when some event has not yet been turned into deliveries (e.g. its task was lost)."""
    return (
        session.scalar(select(OutboxEvent.id).where(OutboxEvent.dispatched_at.is_(None)).limit(1)) is not None
    )
