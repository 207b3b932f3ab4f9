from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.leases import acquire_lease, lease_holder, release_lease

pytestmark = pytest.mark.db
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_one_holder_at_a_time(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        assert acquire_lease(s, "beat", "a", ttl=30, now=T0)
    with session_factory.begin() as s:
        assert not acquire_lease(s, "beat", "b", ttl=30, now=T0 + timedelta(seconds=10))
        assert acquire_lease(s, "beat", "a", ttl=30, now=T0 + timedelta(seconds=10))  # renewal
        assert lease_holder(s, "beat", now=T0 + timedelta(seconds=20)) == "a"


def test_an_expired_lease_can_be_taken_over(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        assert acquire_lease(s, "beat", "a", ttl=30, now=T0)
    with session_factory.begin() as s:
        assert acquire_lease(s, "beat", "b", ttl=30, now=T0 + timedelta(seconds=31))
        assert lease_holder(s, "beat", now=T0 + timedelta(seconds=31)) == "b"


def test_a_released_lease_is_free_at_once(session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as s:
        assert acquire_lease(s, "beat", "a", ttl=30, now=T0)
        release_lease(s, "beat", "a")
    with session_factory.begin() as s:
        assert lease_holder(s, "beat", now=T0) is None
        assert acquire_lease(s, "beat", "b", ttl=30, now=T0)
