"""Webhook delivery: outbox events become deliveries; each attempt is signed, sent, logged and scheduled.

The retry schedule lives in the database (``WebhookDelivery.next_attempt_at``), never in broker
countdowns: a periodic sweep claims what is due. One attempt runs in three steps — load and lease
(short transaction), send (no transaction open), record (short transaction) — so a slow receiver
never holds a database lock, and a worker that dies mid-send only delays the delivery until the
lease ends (the receiver may then see the same ``webhook-id`` twice, which is what it is for).

``attempt_delivery`` does this for one delivery (the immediate path); ``attempt_deliveries`` does it
for a batch with the same rules and the same three steps — one transaction leases them all, the sends
run concurrently over one pooled client, one transaction records them all — so throughput is bounded
by HTTP, not by two commits per webhook.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload, sessionmaker
from standardwebhooks import Webhook

from services.changes import iso, new_msg_id
from services.config import Settings
from services.errors import InvalidInputError, NotFoundError, UnsafeURLError
from services.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookSubscription
from services.netguard import make_client, unsafe_error_from

logger = logging.getLogger(__name__)

EVENT_WEBHOOK_TEST = "webhook.test"
RESPONSE_EXCERPT_BYTES = 1024
# How long a claim by the sweep keeps other sweeps off a delivery while its task waits in the queue.
CLAIM_LEASE_SECONDS = 60.0
# Extra time beyond the request timeout before a send in progress is considered lost.
SEND_LEASE_MARGIN_SECONDS = 30.0
# Jitter only ever delays (up to this fraction), so no attempt comes earlier than the schedule says.
JITTER_FRACTION = 0.1
# Deliveries per batch attempt (dispatch and sweep cut larger sets into batches of this size), and
# sends in flight at once within one batch. Together they bound how long a batch's lease must be.
BATCH_SIZE = 64
BATCH_CONCURRENCY = 16
# A Retry-After beyond this is treated as this (a receiver should not park a delivery for weeks).
MAX_RETRY_AFTER_SECONDS = 24 * 3600.0

DELIVERED, RETRYING, FAILED, DISABLED, SKIPPED = "delivered", "retrying", "failed", "disabled", "skipped"


# --- pure decisions -----------------------------------------------------------------------------


def subscription_matches(
    *,
    event_type: str,
    data: dict[str, Any],
    countries: list[str] | None,
    stances: list[str] | None,
    events: list[str] | None,
) -> bool:
    """Whether an event passes a subscription's filters (None or empty: no filter)."""
    if events and event_type not in events:
        return False
    if countries and data.get("country") not in countries:
        return False
    return not (stances and data.get("to") not in stances and data.get("from") not in stances)


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if moment.tzinfo is None:
            return None
        seconds = (moment - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


@dataclass(frozen=True, slots=True)
class AttemptDecision:
    """What to do after one attempt."""

    status: str  # delivered | retrying | failed | disabled
    next_delay: float | None  # seconds until the next attempt when retrying
    disable_reason: str | None = None
    endpoint_failing: bool = False  # the endpoint's failing streak starts or continues


def decide_after_attempt(
    *,
    status_code: int | None,
    attempt_number: int,
    schedule: tuple[float, ...],
    retry_after: float | None,
    failing_since: datetime | None,
    now: datetime,
    disable_after: float,
    jitter: float,
) -> AttemptDecision:
    """Decide the outcome of attempt ``attempt_number`` (1-based) from its HTTP status (None: no response).

    ``schedule[n]`` is the delay before attempt n+1 (``schedule[0]`` is the first, immediate one);
    ``jitter`` in [0, 1) stretches a scheduled delay by up to JITTER_FRACTION.
    """
    if status_code is not None and 200 <= status_code < 300:
        return AttemptDecision(DELIVERED, None)
    if status_code == 410:
        return AttemptDecision(
            DISABLED, None, disable_reason=f"endpoint answered 410 Gone at {iso(now)}", endpoint_failing=True
        )
    if failing_since is not None and (now - failing_since).total_seconds() >= disable_after:
        return AttemptDecision(
            DISABLED,
            None,
            disable_reason=(
                f"endpoint failing since {iso(failing_since)} (more than {disable_after / 86400:g} days)"
            ),
            endpoint_failing=True,
        )
    if attempt_number >= len(schedule):
        return AttemptDecision(FAILED, None, endpoint_failing=True)
    if status_code in (429, 503) and retry_after is not None:
        return AttemptDecision(RETRYING, retry_after, endpoint_failing=True)
    delay = schedule[attempt_number] * (1.0 + JITTER_FRACTION * jitter)
    return AttemptDecision(RETRYING, delay, endpoint_failing=True)


def encode_body(payload: Any) -> str:
    """The exact JSON text that is signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def sign_headers(secret: str, msg_id: str, timestamp: datetime, body: str) -> dict[str, str]:
    """Standard Webhooks headers for one attempt, signed by the ``standardwebhooks`` package."""
    signature = Webhook(secret).sign(msg_id, timestamp, body)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }


# --- dispatch and claim -------------------------------------------------------------------------


def dispatch_events(session: Session, *, now: datetime, limit: int = 500) -> list[int]:
    """Turn undispatched outbox events into one pending delivery per matching enabled subscription.

    Returns the ids of the new deliveries, due now; they are leased for CLAIM_LEASE_SECONDS so the
    sweep leaves them to the task that enqueues them right after commit. Safe to run concurrently
    (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite) and to run again (one delivery per
    subscription and event).
    """
    events = list(
        session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.dispatched_at.is_(None))
            .order_by(OutboxEvent.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not events:
        return []
    subscriptions = list(
        session.scalars(
            select(WebhookSubscription)
            .where(WebhookSubscription.enabled.is_(True))
            .order_by(WebhookSubscription.id)
        )
    )
    existing = {
        (sub_id, event_id)
        for sub_id, event_id in session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.event_id).where(
                WebhookDelivery.event_id.in_([e.id for e in events])
            )
        )
    }
    created: list[WebhookDelivery] = []
    for event in events:
        data = (event.payload or {}).get("data") or {}
        for sub in subscriptions:
            if (sub.id, event.id) in existing:
                continue
            if not subscription_matches(
                event_type=event.type,
                data=data,
                countries=sub.countries,
                stances=sub.stances,
                events=sub.events,
            ):
                continue
            delivery = WebhookDelivery(
                subscription_id=sub.id,
                event_id=event.id,
                status="pending",
                attempt_count=0,
                next_attempt_at=now,
                locked_until=now + timedelta(seconds=CLAIM_LEASE_SECONDS),
                created_at=now,
            )
            session.add(delivery)
            created.append(delivery)
        event.dispatched_at = now
    session.flush()
    if created:
        logger.info("events dispatched events=%d deliveries=%d", len(events), len(created))
    return [d.id for d in created]


def claim_due_deliveries(
    session: Session, *, now: datetime, limit: int, lease: float = CLAIM_LEASE_SECONDS
) -> list[int]:
    """Lease up to ``limit`` pending deliveries that are due, for the caller to enqueue after commit."""
    ids = list(
        session.scalars(
            select(WebhookDelivery.id)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(
                WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until <= now),
                WebhookSubscription.enabled.is_(True),
            )
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDelivery)
        )
    )
    if ids:
        until = now + timedelta(seconds=lease)
        for delivery in session.scalars(select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))):
            delivery.locked_until = until
        session.flush()
    return ids


# --- one attempt ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttemptOutcome:
    """The result of ``attempt_delivery``: what happened and what comes next."""

    delivery_id: int
    status: str  # delivered | retrying | failed | disabled | skipped
    attempt_number: int | None = None
    status_code: int | None = None
    error: str | None = None
    duration_ms: float | None = None
    next_attempt_at: datetime | None = None
    reason: str | None = None  # why it was skipped, or why the endpoint was disabled
    # When the event was written (OutboxEvent.created_at): with finished_at, the alert's latency.
    event_created_at: datetime | None = None
    finished_at: datetime | None = None  # when the attempt's response (or error) came back


@dataclass(frozen=True, slots=True)
class _Send:
    delivery_id: int
    url: str
    secret: str = field(repr=False)  # never in a log line or a traceback's locals
    msg_id: str
    body: str
    number: int
    event_created_at: datetime


def make_webhook_client(settings: Settings) -> httpx.Client:
    """One client per process: connections are reused, redirects are not followed, the SSRF guard applies."""
    return make_client(
        allow_private=settings.allow_private_urls,
        timeout=httpx.Timeout(settings.webhook_timeout),
        user_agent=settings.user_agent,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=50),
    )


def _lock_delivery(session: Session, delivery_id: int, *, skip_locked: bool) -> WebhookDelivery | None:
    # One round trip for the delivery, its subscription and its event (inner joins, so FOR UPDATE
    # applies; only the delivery row is locked).
    return session.scalar(
        select(WebhookDelivery)
        .options(
            joinedload(WebhookDelivery.subscription, innerjoin=True),
            joinedload(WebhookDelivery.event, innerjoin=True),
        )
        .where(WebhookDelivery.id == delivery_id)
        .with_for_update(skip_locked=skip_locked, of=WebhookDelivery)
    )


def _lock_deliveries(
    session: Session, delivery_ids: list[int], *, skip_locked: bool
) -> list[WebhookDelivery]:
    # The batch form of _lock_delivery, in id order so concurrent batches lock rows in the same order.
    return list(
        session.scalars(
            select(WebhookDelivery)
            .options(
                joinedload(WebhookDelivery.subscription, innerjoin=True),
                joinedload(WebhookDelivery.event, innerjoin=True),
            )
            .where(WebhookDelivery.id.in_(delivery_ids))
            .order_by(WebhookDelivery.id)
            .with_for_update(skip_locked=skip_locked, of=WebhookDelivery)
        )
    )


def _begin_attempt(
    session: Session, delivery_id: int, settings: Settings, *, now: datetime, force: bool = False
) -> _Send | AttemptOutcome:
    # SKIP LOCKED: if another worker is between its load and its commit for this delivery, leave it.
    delivery = _lock_delivery(session, delivery_id, skip_locked=True)
    if delivery is None:
        exists = session.get(WebhookDelivery, delivery_id) is not None
        return AttemptOutcome(delivery_id, SKIPPED, reason="busy elsewhere" if exists else "not found")
    return _begin_loaded(
        delivery,
        now=now,
        force=force,
        lease_seconds=settings.webhook_timeout + SEND_LEASE_MARGIN_SECONDS,
    )


def _begin_loaded(
    delivery: WebhookDelivery, *, now: datetime, force: bool, lease_seconds: float
) -> _Send | AttemptOutcome:
    delivery_id = delivery.id
    if delivery.status != "pending":
        return AttemptOutcome(delivery_id, SKIPPED, reason=f"already {delivery.status}")
    if not force and (delivery.next_attempt_at is None or delivery.next_attempt_at > now):
        return AttemptOutcome(delivery_id, SKIPPED, reason="not due (or being sent by another worker)")
    subscription = delivery.subscription
    if not subscription.enabled:
        delivery.status = "cancelled"
        delivery.next_attempt_at = None
        delivery.last_error = f"webhook disabled: {subscription.disabled_reason or 'no reason given'}"
        return AttemptOutcome(delivery_id, SKIPPED, reason=delivery.last_error)
    # Pushing next_attempt_at past the send keeps a duplicate task or a sweep from sending it twice;
    # if this worker dies, the delivery becomes due again when the lease ends.
    delivery.next_attempt_at = now + timedelta(seconds=lease_seconds)
    event = delivery.event
    return _Send(
        delivery_id=delivery_id,
        url=subscription.url,
        secret=subscription.secret,
        msg_id=event.msg_id,
        body=encode_body(event.payload),
        number=delivery.attempt_count + 1,
        event_created_at=event.created_at,
    )


@dataclass(frozen=True, slots=True)
class _Response:
    status_code: int | None
    error: str | None
    excerpt: str | None
    duration_ms: float
    retry_after: str | None


def _send(client: httpx.Client, send: _Send, timestamp: datetime) -> _Response:
    headers = sign_headers(send.secret, send.msg_id, timestamp, send.body)
    started = time.perf_counter()
    status_code = None
    error = None
    excerpt = None
    retry_after = None
    try:
        with client.stream("POST", send.url, content=send.body.encode("utf-8"), headers=headers) as response:
            status_code = response.status_code
            retry_after = response.headers.get("retry-after")
            collected = bytearray()
            for chunk in response.iter_bytes():
                collected += chunk
                if len(collected) >= RESPONSE_EXCERPT_BYTES:
                    break  # the rest is not ours to read; the connection is dropped instead of reused
            excerpt = collected[:RESPONSE_EXCERPT_BYTES].decode("utf-8", errors="replace")
            if 300 <= status_code < 400:
                location = response.headers.get("location")
                error = f"redirect ({status_code}) to {location!r} not followed" if location else "redirect"
            elif not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
    except httpx.TimeoutException as exc:
        error = f"timeout: {type(exc).__name__}"
    except (httpx.HTTPError, UnsafeURLError, OSError) as exc:
        unsafe = unsafe_error_from(exc)
        error = unsafe.message if unsafe is not None else f"{type(exc).__name__}: {exc}"
    duration_ms = (time.perf_counter() - started) * 1000.0
    return _Response(status_code, error, excerpt, duration_ms, retry_after)


def _record_attempt(
    session: Session,
    delivery_id: int,
    send: _Send,
    response: _Response,
    settings: Settings,
    *,
    now: datetime,
    started_at: datetime,
    retry: bool,
) -> AttemptOutcome:
    delivery = _lock_delivery(session, delivery_id, skip_locked=False)
    outcome = _record_loaded(
        session, delivery, send, response, settings, now=now, started_at=started_at, retry=retry
    )
    session.flush()
    return outcome


def _record_loaded(
    session: Session,
    delivery: WebhookDelivery | None,
    send: _Send,
    response: _Response,
    settings: Settings,
    *,
    now: datetime,
    started_at: datetime,
    retry: bool,
) -> AttemptOutcome:
    # Records one attempt on a locked delivery (None: deleted meanwhile); the caller flushes.
    delivery_id = send.delivery_id
    if delivery is None:
        return AttemptOutcome(delivery_id, SKIPPED, reason="deleted during the attempt")
    if delivery.attempt_count != send.number - 1 or delivery.status != "pending":
        # Another worker recorded this attempt number first (its lease ran out under us); keep theirs.
        return AttemptOutcome(delivery_id, SKIPPED, reason="attempt recorded by another worker")
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            number=send.number,
            attempted_at=started_at,
            status_code=response.status_code,
            duration_ms=response.duration_ms,
            error=response.error,
            response_excerpt=response.excerpt,
        )
    )
    subscription = delivery.subscription
    decision = decide_after_attempt(
        status_code=response.status_code,
        attempt_number=send.number if retry else len(settings.webhook_schedule),
        schedule=settings.webhook_schedule,
        retry_after=parse_retry_after(response.retry_after, now=now),
        failing_since=subscription.failing_since,
        now=now,
        disable_after=settings.webhook_disable_after,
        jitter=random.random(),
    )
    delivery.attempt_count = send.number
    delivery.last_status_code = response.status_code
    delivery.last_error = response.error
    delivery.locked_until = None
    if decision.status == DELIVERED:
        delivery.status = "delivered"
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        subscription.failing_since = None
    elif decision.status == RETRYING:
        delivery.next_attempt_at = now + timedelta(seconds=decision.next_delay or 0.0)
    else:
        delivery.status = "failed"
        delivery.next_attempt_at = None
    if decision.endpoint_failing and subscription.failing_since is None:
        subscription.failing_since = now
    if decision.status == DISABLED:
        subscription.enabled = False
        subscription.disabled_reason = decision.disable_reason
        logger.warning(
            "webhook disabled subscription_id=%s reason=%s", subscription.id, decision.disable_reason
        )
    logger.info(
        "delivery attempt delivery_id=%s attempt=%s status_code=%s outcome=%s error=%s",
        delivery_id,
        send.number,
        response.status_code,
        decision.status,
        response.error,
        # As keys too: a batch task has no single delivery_id bound to its log context.
        extra={"delivery_id": delivery_id, "attempt": send.number, "outcome": decision.status},
    )
    return AttemptOutcome(
        delivery_id,
        decision.status,
        attempt_number=send.number,
        status_code=response.status_code,
        error=response.error,
        duration_ms=response.duration_ms,
        next_attempt_at=delivery.next_attempt_at,
        reason=decision.disable_reason,
        event_created_at=send.event_created_at,
        finished_at=now,
    )


def attempt_delivery(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    delivery_id: int,
    settings: Settings,
    *,
    now: datetime,
    retry: bool = True,
) -> AttemptOutcome:
    """Send one attempt of a due delivery and record it; skips deliveries that are done or not due.

    Opens its own short transactions (load, then record) and holds none during the HTTP request.
    ``retry=False`` makes a failure final (used by ``send_test``).
    """
    with session_factory.begin() as session:
        begun = _begin_attempt(session, delivery_id, settings, now=now, force=not retry)
    if isinstance(begun, AttemptOutcome):
        logger.debug("delivery skipped delivery_id=%s reason=%s", delivery_id, begun.reason)
        return begun
    response = _send(client, begun, now)
    finished = now + timedelta(milliseconds=response.duration_ms)
    with session_factory.begin() as session:
        return _record_attempt(
            session, delivery_id, begun, response, settings, now=finished, started_at=now, retry=retry
        )


def batch_lease_seconds(count: int, settings: Settings, *, concurrency: int = BATCH_CONCURRENCY) -> float:
    """How long a batch of ``count`` sends may take before its deliveries are considered lost.

    Every send may use the whole timeout, and ``concurrency`` run at once.
    """
    rounds = math.ceil(max(count, 1) / max(concurrency, 1))
    return settings.webhook_timeout * rounds + SEND_LEASE_MARGIN_SECONDS


def attempt_deliveries(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    delivery_ids: Iterable[int],
    settings: Settings,
    *,
    now: datetime,
    concurrency: int = BATCH_CONCURRENCY,
) -> list[AttemptOutcome]:
    """Send one attempt of every due delivery among ``delivery_ids`` and record them; skip the others.

    The rules are those of ``attempt_delivery``; the transactions are per batch, not per delivery. One
    locks the deliveries (SKIP LOCKED: another worker's are left to it) and leases the due ones by
    pushing ``next_attempt_at`` past the whole batch's sends; the sends run on up to ``concurrency``
    threads over ``client`` with no transaction open; one records every attempt and its outcome. A
    worker that dies in between loses nothing: the leases end, the sweep claims the deliveries again
    and they are resent with the same ``webhook-id``. Returns one outcome per distinct id, in id order.
    Keep batches to about BATCH_SIZE: one slow receiver stretches the whole batch's lease.
    """
    ids = sorted(set(delivery_ids))
    if not ids:
        return []
    clock = time.perf_counter()

    def elapsed() -> timedelta:
        # Attempt times follow the injected ``now``, advanced by real time spent in this batch.
        return timedelta(seconds=time.perf_counter() - clock)

    lease = batch_lease_seconds(len(ids), settings, concurrency=concurrency)
    outcomes: dict[int, AttemptOutcome] = {}
    sends: list[_Send] = []
    with session_factory.begin() as session:
        loaded = {d.id: d for d in _lock_deliveries(session, ids, skip_locked=True)}
        missing = [i for i in ids if i not in loaded]
        existing = (
            set(session.scalars(select(WebhookDelivery.id).where(WebhookDelivery.id.in_(missing))))
            if missing
            else set()
        )
        for delivery_id in ids:
            delivery = loaded.get(delivery_id)
            if delivery is None:
                reason = "busy elsewhere" if delivery_id in existing else "not found"
                outcomes[delivery_id] = AttemptOutcome(delivery_id, SKIPPED, reason=reason)
                continue
            begun = _begin_loaded(delivery, now=now, force=False, lease_seconds=lease)
            if isinstance(begun, AttemptOutcome):
                outcomes[delivery_id] = begun
            else:
                sends.append(begun)
    for outcome in outcomes.values():
        logger.debug(
            "delivery skipped delivery_id=%s reason=%s",
            outcome.delivery_id,
            outcome.reason,
            extra={"delivery_id": outcome.delivery_id},
        )
    if not sends:
        return [outcomes[i] for i in ids]

    def send_one(send: _Send) -> tuple[datetime, _Response]:
        started_at = now + elapsed()
        return started_at, _send(client, send, started_at)

    # Network errors are outcomes (_send returns them); anything else is a bug. The attempts that did
    # complete are still recorded before it propagates, so only the rest are sent again after the lease.
    results: list[tuple[datetime, _Response] | None] = []
    bug: BaseException | None = None
    if concurrency > 1 and len(sends) > 1:
        with ThreadPoolExecutor(min(concurrency, len(sends)), thread_name_prefix="webhook-send") as pool:
            futures = [pool.submit(send_one, send) for send in sends]
            for future in futures:
                if future.exception() is None:
                    results.append(future.result())
                else:
                    results.append(None)
                    bug = bug or future.exception()
    else:
        for send in sends:
            try:
                results.append(send_one(send))
            except Exception as exc:  # re-raised below, once the completed attempts are recorded
                results.append(None)
                bug = bug or exc

    done = [(send, result) for send, result in zip(sends, results, strict=True) if result is not None]
    if done:
        with session_factory.begin() as session:
            locked = {
                d.id: d
                for d in _lock_deliveries(session, [send.delivery_id for send, _ in done], skip_locked=False)
            }
            for send, (started_at, response) in done:
                finished = started_at + timedelta(milliseconds=response.duration_ms)
                outcomes[send.delivery_id] = _record_loaded(
                    session,
                    locked.get(send.delivery_id),
                    send,
                    response,
                    settings,
                    now=finished,
                    started_at=started_at,
                    retry=True,
                )
            session.flush()
    if bug is not None:
        raise bug
    return [outcomes[i] for i in ids]


# --- operator actions -----------------------------------------------------------------------------


def redeliver(session: Session, delivery_id: int, *, now: datetime) -> WebhookDelivery:
    """Make a delivery pending and due now again; it keeps its event, so its ``webhook-id`` is the same.

    Raises NotFoundError, or InvalidInputError when the webhook is disabled.
    """
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        raise NotFoundError(f"delivery {delivery_id} not found")
    subscription = delivery.subscription
    if not subscription.enabled:
        raise InvalidInputError(
            f"webhook {subscription.id} is disabled ({subscription.disabled_reason or 'no reason given'}); "
            "add it again to resume deliveries"
        )
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.locked_until = None
    delivery.delivered_at = None
    session.flush()
    return delivery


def create_test_delivery(session: Session, subscription_id: int, *, now: datetime) -> int:
    """Add a ``webhook.test`` event addressed to one subscription only; return its delivery id."""
    subscription = session.get(WebhookSubscription, subscription_id)
    if subscription is None:
        raise NotFoundError(f"webhook {subscription_id} not found")
    if not subscription.enabled:
        raise InvalidInputError(
            f"webhook {subscription_id} is disabled ({subscription.disabled_reason or 'no reason given'})"
        )
    event = OutboxEvent(
        msg_id=new_msg_id(),
        type=EVENT_WEBHOOK_TEST,
        change_id=None,
        payload={
            "type": EVENT_WEBHOOK_TEST,
            "timestamp": iso(now),
            "data": {"subscription_id": subscription_id, "message": "stancewatch test event"},
        },
        created_at=now,
        # Dispatched already: it goes to this subscription only, not to every matching one.
        dispatched_at=now,
    )
    session.add(event)
    session.flush()
    delivery = WebhookDelivery(
        subscription_id=subscription_id,
        event_id=event.id,
        status="pending",
        attempt_count=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery.id


def send_test(
    session_factory: sessionmaker[Session],
    client: httpx.Client,
    subscription_id: int,
    settings: Settings,
    *,
    now: datetime,
) -> AttemptOutcome:
    """Send a ``webhook.test`` event to one subscription now, once (logged like any delivery)."""
    with session_factory.begin() as session:
        delivery_id = create_test_delivery(session, subscription_id, now=now)
    return attempt_delivery(session_factory, client, delivery_id, settings, now=now, retry=False)
