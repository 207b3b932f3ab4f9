"""Named leases in the database: at most one holder at a time (used for the single beat scheduler)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.models import Lease


def acquire_lease(session: Session, name: str, holder: str, *, ttl: float, now: datetime) -> bool:
    """Take or renew lease ``name`` for ``holder``; False while another holder's lease is unexpired."""
    expires = now + timedelta(seconds=ttl)
    taken = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=expires)
    ).rowcount
    if taken:
        return True
    if session.scalar(select(Lease.name).where(Lease.name == name)) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, expires_at=expires))
    except IntegrityError:
        return False  # another process inserted it first
    return True


def release_lease(session: Session, name: str, holder: str) -> None:
    """Give the lease up so a successor need not wait for it to expire."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.holder == holder))


def lease_holder(session: Session, name: str, *, now: datetime) -> str | None:
    """Who holds lease ``name`` now, if anyone."""
    return session.scalar(select(Lease.holder).where(Lease.name == name, Lease.expires_at >= now))
