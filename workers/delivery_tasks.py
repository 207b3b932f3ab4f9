"""Thin tasks on the ``deliver`` queue: dispatch the outbox, send one attempt, sweep what is due.

No task retries itself through Celery: the retry schedule lives in ``next_attempt_at`` and the sweep
reads it. Every task is idempotent, so redelivered messages (acks_late) do no harm.
"""

from __future__ import annotations

import logging
import os
from functools import cache

import httpx

from services.config import Settings
from services.db import utcnow
from services.delivery import attempt_delivery, claim_due_deliveries, dispatch_events, make_webhook_client
from workers.app import app
from workers.context import session_factory, settings

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 500
# Bounds one dispatch_outbox run; whatever is left is picked up by the next run or the sweep.
DISPATCH_ROUNDS = 20


@cache
def _client(pid: int, config: Settings) -> httpx.Client:
    # One client per process so connections to the same receiver are reused (keyed by pid: no
    # sharing of sockets across a prefork fork).
    return make_webhook_client(config)


def webhook_client() -> httpx.Client:
    """The process-wide HTTP client for webhook attempts."""
    return _client(os.getpid(), settings())


@app.task(name="workers.delivery_tasks.dispatch_outbox", ignore_result=True)
def dispatch_outbox() -> int:
    """Turn undispatched outbox events into deliveries, then enqueue each new delivery at once."""
    total = 0
    for _ in range(DISPATCH_ROUNDS):
        with session_factory().begin() as session:
            delivery_ids = dispatch_events(session, now=utcnow())
        # After commit: the deliver task must find the row.
        for delivery_id in delivery_ids:
            deliver.delay(delivery_id)
        total += len(delivery_ids)
        if not delivery_ids:
            break
    return total


@app.task(name="workers.delivery_tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Send one attempt of a delivery if it is due (skips delivered, failed or not-yet-due ones)."""
    outcome = attempt_delivery(session_factory(), webhook_client(), delivery_id, settings(), now=utcnow())
    return outcome.status


@app.task(name="workers.delivery_tasks.sweep_deliveries", ignore_result=True, acks_late=False)
def sweep_deliveries() -> int:
    """Dispatch leftover outbox events and enqueue every delivery whose next attempt is due."""
    dispatch_outbox()
    with session_factory().begin() as session:
        delivery_ids = claim_due_deliveries(session, now=utcnow(), limit=SWEEP_LIMIT)
    for delivery_id in delivery_ids:
        deliver.delay(delivery_id)
    return len(delivery_ids)
