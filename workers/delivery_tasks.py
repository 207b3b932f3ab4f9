"""Thin tasks on the ``deliver`` queue: dispatch the outbox, send attempts, sweep what is due.

No task retries itself through Celery: the retry schedule lives in ``next_attempt_at`` and the sweep
reads it. Every task is idempotent, so redelivered messages (acks_late) do no harm.

One due delivery goes out through ``deliver`` (the immediate path: a change with one subscriber);
more go out through ``deliver_batch``, one task per BATCH_SIZE deliveries, which leases, sends
concurrently and records each batch in two transactions instead of two per webhook.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from functools import cache

import httpx

from services.config import Settings
from services.db import utcnow
from services.delivery import (
    BATCH_SIZE,
    DELIVERED,
    DISABLED,
    FAILED,
    RETRYING,
    AttemptOutcome,
    attempt_deliveries,
    attempt_delivery,
    claim_due_deliveries,
    dispatch_events,
    make_webhook_client,
)
from workers import metrics
from workers.app import app
from workers.context import session_factory, settings

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 500
# Bounds one dispatch_outbox run; whatever is left is picked up by the next run or the sweep.
DISPATCH_ROUNDS = 20

# Metric labels (workers.metrics.observe_delivery) for the outcomes of an attempt; skips are no attempt.
OUTCOME_LABELS = {DELIVERED: "delivered", RETRYING: "retry", FAILED: "failed", DISABLED: "disabled"}


@cache
def _client(pid: int, config: Settings) -> httpx.Client:
    # One client per process so connections to the same receiver are reused (keyed by pid: no
    # sharing of sockets across a prefork fork).
    return make_webhook_client(config)


def webhook_client() -> httpx.Client:
    """The process-wide HTTP client for webhook attempts."""
    return _client(os.getpid(), settings())


def observe(outcome: AttemptOutcome) -> None:
    """Count one attempt by outcome; a delivered one also times the alert from its event's creation."""
    label = OUTCOME_LABELS.get(outcome.status)
    if label is None:
        return
    latency = None
    if outcome.status == DELIVERED and outcome.event_created_at and outcome.finished_at:
        latency = (outcome.finished_at - outcome.event_created_at).total_seconds()
    metrics.observe_delivery(label, latency_seconds=latency)


def plan_batches(delivery_ids: Sequence[int], size: int = BATCH_SIZE) -> list[list[int]]:
    """Cut delivery ids into batches of at most ``size``; a single id stays alone (the ``deliver`` path)."""
    return [list(delivery_ids[start : start + size]) for start in range(0, len(delivery_ids), size)]


def enqueue_deliveries(delivery_ids: Sequence[int]) -> None:
    """Ring the doorbell for leased deliveries: one ``deliver`` for a single one, else batches."""
    for batch in plan_batches(delivery_ids):
        if len(batch) == 1:
            deliver.delay(batch[0])
        else:
            deliver_batch.delay(batch)


@app.task(name="workers.delivery_tasks.dispatch_outbox", ignore_result=True)
def dispatch_outbox() -> int:
    """Turn undispatched outbox events into deliveries, then enqueue the new deliveries at once."""
    total = 0
    for _ in range(DISPATCH_ROUNDS):
        with session_factory().begin() as session:
            delivery_ids = dispatch_events(session, now=utcnow())
        # After commit: the deliver task must find the rows.
        enqueue_deliveries(delivery_ids)
        total += len(delivery_ids)
        if not delivery_ids:
            break
    return total


@app.task(name="workers.delivery_tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> str:
    """Send one attempt of a delivery if it is due (skips delivered, failed or not-yet-due ones)."""
    outcome = attempt_delivery(session_factory(), webhook_client(), delivery_id, settings(), now=utcnow())
    observe(outcome)
    return outcome.status


@app.task(name="workers.delivery_tasks.deliver_batch", ignore_result=True)
def deliver_batch(delivery_ids: list[int]) -> dict[str, int]:
    """Send one attempt of each due delivery among ``delivery_ids`` concurrently; counts by outcome."""
    outcomes = attempt_deliveries(session_factory(), webhook_client(), delivery_ids, settings(), now=utcnow())
    counts: dict[str, int] = {}
    for outcome in outcomes:
        observe(outcome)
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts


@app.task(name="workers.delivery_tasks.sweep_deliveries", ignore_result=True, acks_late=False)
def sweep_deliveries() -> int:
    """Dispatch leftover outbox events and enqueue every delivery whose next attempt is due."""
    dispatch_outbox()
    with session_factory().begin() as session:
        delivery_ids = claim_due_deliveries(session, now=utcnow(), limit=SWEEP_LIMIT)
    enqueue_deliveries(delivery_ids)
    return len(delivery_ids)
