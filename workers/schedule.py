"""The beat schedule, and a scheduler that refuses to run twice.

Beat only rings the doorbell: one ``sweep`` task every ``sweep_interval`` seconds reads what is due
from the database. A second beat would double the sweeps, not the work (claims are leases in the
database), but we still hold a database lease so an operator who starts two sees the second refuse.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery.beat import Scheduler

from services.db import make_engine, make_session_factory, utcnow
from services.leases import acquire_lease, lease_holder, release_lease

logger = logging.getLogger(__name__)

BEAT_LEASE = "beat"
LEASE_TTL = 30.0  # seconds; a beat killed with SIGKILL is replaced this long after
RENEW_EVERY = 10.0


def beat_schedule(sweep_interval: float) -> dict[str, dict[str, Any]]:
    return {"sweep": {"task": "workers.sweep.sweep", "schedule": sweep_interval, "options": {"expires": 30}}}


class LeasedScheduler(Scheduler):
    """An in-memory beat scheduler that holds the ``beat`` lease in the database while it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._holder = f"{socket.gethostname()}:{os.getpid()}"
        self._renewed_at = 0.0
        self._session_factory: Any = None
        super().__init__(*args, **kwargs)

    def setup_schedule(self) -> None:
        settings = self.app.conf.stancewatch_settings
        self._session_factory = make_session_factory(make_engine(settings.database_url))
        if not self._renew():
            with self._session_factory() as session:
                holder = lease_holder(session, BEAT_LEASE, now=utcnow())
            raise SystemExit(
                f"another beat scheduler is running ({holder}); only one may run. "
                f"If it was killed, this one can start within {LEASE_TTL:.0f} s."
            )
        self.merge_inplace(beat_schedule(settings.sweep_interval))

    def _renew(self) -> bool:
        with self._session_factory.begin() as session:
            ok = acquire_lease(session, BEAT_LEASE, self._holder, ttl=LEASE_TTL, now=utcnow())
        self._renewed_at = time.monotonic()
        return ok

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if time.monotonic() - self._renewed_at > RENEW_EVERY:
            try:
                if not self._renew():
                    raise SystemExit("lost the beat lease to another scheduler; stopping")
            except SystemExit:
                raise
            except Exception:  # the database may be restarting; keep ticking and retry
                logger.warning("beat lease renewal failed; retrying", exc_info=True)
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        try:
            with self._session_factory.begin() as session:
                release_lease(session, BEAT_LEASE, self._holder)
        except Exception:
            logger.warning("could not release the beat lease", exc_info=True)
        super().close()
