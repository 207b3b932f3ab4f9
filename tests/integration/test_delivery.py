"""Webhook delivery against a real loopback receiver that verifies every request with ``standardwebhooks``."""

from __future__ import annotations

import dataclasses
import itertools
import threading
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from support_receiver import Reply, WebhookReceiver

from services.config import Settings
from services.db import utcnow
from services.delivery import (
    CLAIM_LEASE_SECONDS,
    DELIVERED,
    DISABLED,
    FAILED,
    RETRYING,
    SKIPPED,
    attempt_deliveries,
    attempt_delivery,
    batch_lease_seconds,
    claim_due_deliveries,
    dispatch_events,
    make_webhook_client,
    redeliver,
    send_test,
)
from services.errors import InvalidInputError, UnsafeURLError
from services.models import DeliveryAttempt, OutboxEvent, WebhookDelivery, WebhookSubscription
from services.subscriptions import create_subscription

pytestmark = pytest.mark.db


def add_event(
    session: Session,
    *,
    country: str = "NI",
    to: str | None = "supports",
    frm: str | None = None,
    kind: str = "stance.changed",
    n: int = 1,
) -> OutboxEvent:
    payload = {
        "type": kind,
        "timestamp": "2022-02-27T14:03:00Z",
        "data": {
            "change_id": n,
            "country": country,
            "country_name": "Nicaragua",
            "target": "Russia",
            "from": frm,
            "to": to,
            "article": {"id": 1, "url": "http://news.example/a", "title": "Allies", "version": 2},
            "evidence": {"before": None, "after": "Nicaragua's President Daniel Ortega ..."},
            "detected_at": "2022-02-27T14:03:00Z",
        },
    }
    event = OutboxEvent(
        msg_id=f"msg_test_{n}_{country}_{kind}", type=kind, payload=payload, created_at=utcnow()
    )
    session.add(event)
    session.flush()
    return event


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as r:
        yield r


@pytest.fixture
def client(settings: Settings) -> Iterator[httpx.Client]:
    with make_webhook_client(settings) as c:
        yield c


def subscribe(
    session_factory: sessionmaker[Session], settings: Settings, receiver: WebhookReceiver, **filters
):
    with session_factory.begin() as session:
        sub, secret = create_subscription(session, receiver.url, settings=settings, **filters)
        sub_id = sub.id
    receiver.secret = secret
    return sub_id


def dispatch(session_factory: sessionmaker[Session], *, now=None, **event) -> list[int]:
    with session_factory.begin() as session:
        add_event(session, **event)
    with session_factory.begin() as session:
        return dispatch_events(session, now=now or utcnow())


def attempts_of(session_factory, delivery_id: int) -> list[DeliveryAttempt]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.number)
            )
        )


def get_delivery(session_factory, delivery_id: int) -> WebhookDelivery:
    with session_factory() as session:
        return session.get(WebhookDelivery, delivery_id)


def test_delivery_is_signed_and_verifies(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    [delivery_id] = dispatch(session_factory)
    outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow())

    assert outcome.status == DELIVERED
    [got] = receiver.wait_for(1)
    assert got.verified, got.error
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-id"] == "msg_test_1_NI_stance.changed"
    assert got.headers["webhook-signature"].startswith("v1,")
    assert got.payload["type"] == "stance.changed"
    assert got.payload["data"]["country"] == "NI" and got.payload["data"]["to"] == "supports"
    delivery = get_delivery(session_factory, delivery_id)
    assert (
        delivery.status == "delivered" and delivery.attempt_count == 1 and delivery.delivered_at is not None
    )
    [attempt] = attempts_of(session_factory, delivery_id)
    assert attempt.status_code == 200 and attempt.response_excerpt == "ok" and attempt.duration_ms >= 0


def test_a_wrong_secret_does_not_verify(session_factory, settings, receiver, client):
    """The receiver's check can fail: a delivery signed for another secret is rejected."""
    subscribe(session_factory, settings, receiver)
    receiver.secret = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"  # 24 bytes, not the subscription's
    [delivery_id] = dispatch(session_factory)
    attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow())
    [got] = receiver.wait_for(1)
    assert not got.verified and "signature" in (got.error or "").lower()


def test_receiver_down_then_up_is_retried_on_the_schedule_with_a_stable_id(
    session_factory, settings, receiver, client
):
    subscribe(session_factory, settings, receiver)
    receiver.respond(500, 500, 200)
    [delivery_id] = dispatch(session_factory)
    now = utcnow()
    outcomes = []
    for _ in range(10):  # bounded: three attempts are expected
        outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=now)
        outcomes.append(outcome)
        if outcome.status != RETRYING:
            break
        # The schedule lives in the row: before next_attempt_at the delivery is neither claimed nor sent.
        with session_factory.begin() as session:
            assert claim_due_deliveries(session, now=now, limit=10) == []
        assert attempt_delivery(session_factory, client, delivery_id, settings, now=now).status == SKIPPED
        now = outcome.next_attempt_at
        with session_factory.begin() as session:
            assert claim_due_deliveries(session, now=now, limit=10) == [delivery_id]

    assert [o.status for o in outcomes] == [RETRYING, RETRYING, DELIVERED]
    # Delays follow the compressed schedule (0, 0.2, 0.5, 1.0) stretched by at most 10 % jitter.
    first_gap = (outcomes[0].next_attempt_at - utcnow()).total_seconds()
    assert first_gap < 1.0
    attempts = attempts_of(session_factory, delivery_id)
    assert [a.status_code for a in attempts] == [500, 500, 200]
    assert [a.number for a in attempts] == [1, 2, 3]
    assert attempts[0].error == "HTTP 500"
    gaps = [(b.attempted_at - a.attempted_at).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert 0.2 <= gaps[0] <= 0.2 * 1.1 + 0.5 and 0.5 <= gaps[1] <= 0.5 * 1.1 + 0.5
    got = receiver.wait_for(3)
    assert all(d.verified for d in got)
    assert len({d.msg_id for d in got}) == 1
    # Each attempt carries its own timestamp header (signed with it).
    assert [d.headers["webhook-timestamp"] for d in got] == sorted(
        d.headers["webhook-timestamp"] for d in got
    )
    delivery = get_delivery(session_factory, delivery_id)
    assert delivery.status == "delivered" and delivery.attempt_count == 3
    with session_factory() as session:
        assert session.scalar(select(WebhookSubscription.failing_since)) is None


def test_exhausted_schedule_marks_the_delivery_failed(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    receiver.respond(500)
    [delivery_id] = dispatch(session_factory)
    now = utcnow()
    statuses = []
    for _ in range(20):
        outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=now)
        statuses.append(outcome.status)
        if outcome.status != RETRYING:
            break
        now = outcome.next_attempt_at
    assert statuses == [RETRYING] * (len(settings.webhook_schedule) - 1) + [FAILED]
    delivery = get_delivery(session_factory, delivery_id)
    assert delivery.status == "failed" and delivery.next_attempt_at is None
    assert len(attempts_of(session_factory, delivery_id)) == len(settings.webhook_schedule)
    with session_factory() as session:
        sub = session.scalar(select(WebhookSubscription))
        assert sub.enabled and sub.failing_since is not None


def test_410_disables_the_endpoint(session_factory, settings, receiver, client):
    sub_id = subscribe(session_factory, settings, receiver)
    receiver.respond(410)
    [delivery_id] = dispatch(session_factory)
    outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow())
    assert outcome.status == DISABLED
    with session_factory() as session:
        sub = session.get(WebhookSubscription, sub_id)
        assert not sub.enabled and "410" in sub.disabled_reason
    assert get_delivery(session_factory, delivery_id).status == "failed"
    # No new deliveries for a disabled endpoint, and redeliver says why.
    assert dispatch(session_factory, n=2) == []
    with session_factory.begin() as session, pytest.raises(InvalidInputError, match="disabled"):
        redeliver(session, delivery_id, now=utcnow())


def test_redirect_is_a_failure_and_not_followed(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    receiver.respond(Reply(302, {"location": receiver.url + "/elsewhere"}), 200)
    [delivery_id] = dispatch(session_factory)
    outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow())
    assert outcome.status == RETRYING and outcome.status_code == 302
    assert "redirect" in outcome.error
    assert len(receiver.deliveries) == 1  # the Location was not requested


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(session_factory, settings, receiver, client, status):
    subscribe(session_factory, settings, receiver)
    receiver.respond(Reply(status, {"retry-after": "7"}), 200)
    [delivery_id] = dispatch(session_factory)
    now = utcnow()
    outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=now)
    assert outcome.status == RETRYING
    wait = (outcome.next_attempt_at - now).total_seconds()
    # 7 s from the end of the attempt (the schedule alone would say 0.2 s).
    assert 7.0 <= wait <= 7.0 + outcome.duration_ms / 1000 + 0.001


def test_endpoint_failing_for_too_long_is_disabled(session_factory, settings, receiver, client):
    sub_id = subscribe(session_factory, settings, receiver)
    receiver.respond(500)
    now = utcnow()
    with session_factory.begin() as session:
        session.get(WebhookSubscription, sub_id).failing_since = now - timedelta(days=6)
    [delivery_id] = dispatch(session_factory, now=now)
    outcome = attempt_delivery(session_factory, client, delivery_id, settings, now=now)
    assert outcome.status == DISABLED
    with session_factory() as session:
        sub = session.get(WebhookSubscription, sub_id)
        assert not sub.enabled and "failing since" in sub.disabled_reason


def test_ssrf_refused_when_private_urls_are_not_allowed(session_factory, settings, receiver):
    strict = dataclasses.replace(settings, allow_private_urls=False)
    with session_factory.begin() as session, pytest.raises(UnsafeURLError, match=r"127\.0\.0\.1"):
        create_subscription(session, receiver.url, settings=strict)
    # A subscription that got in anyway (e.g. DNS changed later) is refused at connect time.
    subscribe(session_factory, settings, receiver)
    [delivery_id] = dispatch(session_factory)
    with make_webhook_client(strict) as strict_client:
        outcome = attempt_delivery(session_factory, strict_client, delivery_id, strict, now=utcnow())
    assert outcome.status == RETRYING and "refused" in outcome.error
    assert receiver.deliveries == []


def test_filters_choose_the_subscriptions(session_factory, settings, receiver):
    everything = subscribe(session_factory, settings, receiver)
    only_by = subscribe(session_factory, settings, receiver, countries=["by"])
    only_opposes = subscribe(session_factory, settings, receiver, stances=["opposes"])
    only_country_events = subscribe(session_factory, settings, receiver, events=["country.stance_changed"])
    dispatch(session_factory, country="NI", to="supports", n=1)
    dispatch(session_factory, country="BY", to="supports", n=2)
    dispatch(session_factory, country="NI", frm="opposes", to=None, n=3)
    dispatch(session_factory, country="NI", kind="country.stance_changed", n=4)
    with session_factory() as session:
        pairs = session.execute(
            select(WebhookDelivery.subscription_id, OutboxEvent.payload).join(
                OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id
            )
        ).all()
    seen: dict[int, list[int]] = {}
    for sub_id, payload in pairs:
        seen.setdefault(sub_id, []).append(payload["data"]["change_id"])
    assert sorted(seen[everything]) == [1, 2, 3, 4]
    assert seen[only_by] == [2]
    assert seen[only_opposes] == [3]  # matches "from" as well as "to"
    assert seen[only_country_events] == [4]


def test_dispatch_and_attempt_are_idempotent(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    [delivery_id] = dispatch(session_factory)
    with session_factory.begin() as session:
        assert dispatch_events(session, now=utcnow()) == []  # a redelivered dispatch task
        # Even an event marked undispatched again (crash between steps) gets no second delivery.
        session.scalar(select(OutboxEvent)).dispatched_at = None
    with session_factory.begin() as session:
        assert dispatch_events(session, now=utcnow()) == []
    now = utcnow()
    first = attempt_delivery(session_factory, client, delivery_id, settings, now=now)
    again = attempt_delivery(session_factory, client, delivery_id, settings, now=now)  # redelivered task
    assert first.status == DELIVERED and again.status == SKIPPED
    assert len(receiver.deliveries) == 1
    assert len(attempts_of(session_factory, delivery_id)) == 1
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1


def test_concurrent_dispatchers_create_one_delivery_per_event(session_factory, settings, receiver):
    subscribe(session_factory, settings, receiver)
    with session_factory.begin() as session:
        for n in range(40):
            add_event(session, n=n)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with session_factory.begin() as session:
                results.append(dispatch_events(session, now=utcnow(), limit=15))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    for _ in range(4):  # bounded rounds until everything is dispatched
        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert not errors
    ids = [i for batch in results for i in batch]
    assert len(ids) == len(set(ids)) == 40
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 40
        assert session.scalar(select(func.count()).where(OutboxEvent.dispatched_at.is_(None))) == 0


def test_claim_leases_deliveries(session_factory, settings, receiver):
    subscribe(session_factory, settings, receiver)
    [delivery_id] = dispatch(session_factory)
    now = utcnow()
    with session_factory.begin() as session:
        # Freshly dispatched deliveries are leased to the task enqueued right after the dispatch.
        assert claim_due_deliveries(session, now=now, limit=10) == []
    later = now + timedelta(seconds=61)
    with session_factory.begin() as session:
        assert claim_due_deliveries(session, now=later, limit=10) == [delivery_id]
    with session_factory.begin() as session:
        assert claim_due_deliveries(session, now=later, limit=10) == []  # a second sweep


def test_redeliver_resends_with_the_same_id(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    [delivery_id] = dispatch(session_factory)
    assert attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow()).status == DELIVERED
    with session_factory.begin() as session:
        redeliver(session, delivery_id, now=utcnow())
    assert attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow()).status == DELIVERED
    got = receiver.wait_for(2)
    assert got[0].msg_id == got[1].msg_id and all(d.verified for d in got)
    assert [a.number for a in attempts_of(session_factory, delivery_id)] == [1, 2]


def test_send_test_reaches_one_subscription_once(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)  # another one, which must not get the test
    sub_id = subscribe(session_factory, settings, receiver)  # the receiver verifies with this secret
    outcome = send_test(session_factory, client, sub_id, settings, now=utcnow())
    assert outcome.status == DELIVERED
    [got] = receiver.wait_for(1)
    assert got.payload["type"] == "webhook.test"
    with session_factory.begin() as session:
        assert dispatch_events(session, now=utcnow()) == []
    receiver.respond(500)
    failed = send_test(session_factory, client, sub_id, settings, now=utcnow())
    assert failed.status == FAILED and failed.status_code == 500  # a test is sent once, not retried


# --- batches --------------------------------------------------------------------------------------


def dispatch_many(session_factory: sessionmaker[Session], count: int, *, first: int = 1) -> list[int]:
    with session_factory.begin() as session:
        for n in range(first, first + count):
            add_event(session, n=n)
    with session_factory.begin() as session:
        return dispatch_events(session, now=utcnow())


def test_batch_sends_each_due_delivery_once_and_skips_the_rest(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    ids = dispatch_many(session_factory, 6)
    assert attempt_delivery(session_factory, client, ids[0], settings, now=utcnow()).status == DELIVERED
    missing = max(ids) + 1000

    outcomes = attempt_deliveries(session_factory, client, [*ids, missing, ids[1]], settings, now=utcnow())

    assert [o.delivery_id for o in outcomes] == sorted([*ids, missing])  # one per distinct id, in id order
    by_id = {o.delivery_id: o for o in outcomes}
    assert by_id[ids[0]].status == SKIPPED and by_id[ids[0]].reason == "already delivered"
    assert by_id[missing].status == SKIPPED and by_id[missing].reason == "not found"
    assert all(by_id[i].status == DELIVERED and by_id[i].attempt_number == 1 for i in ids[1:])
    assert all(by_id[i].event_created_at is not None and by_id[i].finished_at is not None for i in ids[1:])
    got = receiver.wait_for(6)
    assert all(d.verified for d in got)
    assert sorted(d.msg_id for d in got) == sorted(f"msg_test_{n}_NI_stance.changed" for n in range(1, 7))
    for delivery_id in ids:
        [attempt] = attempts_of(session_factory, delivery_id)
        assert attempt.status_code == 200 and attempt.response_excerpt == "ok"
        delivery = get_delivery(session_factory, delivery_id)
        assert delivery.status == "delivered" and delivery.locked_until is None

    # A duplicated batch message sends nothing again.
    again = attempt_deliveries(session_factory, client, ids, settings, now=utcnow())
    assert {o.status for o in again} == {SKIPPED}
    assert len(receiver.deliveries) == 6


def test_batch_failures_follow_the_schedule_with_stable_ids(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    receiver.respond(500)
    ids = dispatch_many(session_factory, 4)
    now = utcnow()
    first = attempt_deliveries(session_factory, client, ids, settings, now=now)
    assert {o.status for o in first} == {RETRYING}
    assert all(o.error == "HTTP 500" and o.status_code == 500 for o in first)
    # Each retry is due on the schedule (0.2 s, stretched by at most 10 % jitter) after its own attempt.
    for o in first:
        wait = (o.next_attempt_at - now).total_seconds()
        assert 0.2 <= wait <= 0.2 * 1.1 + 1.0
    with session_factory.begin() as session:
        assert claim_due_deliveries(session, now=now, limit=10) == []
    assert {o.status for o in attempt_deliveries(session_factory, client, ids, settings, now=now)} == {
        SKIPPED
    }
    with session_factory() as session:
        assert session.scalar(select(WebhookSubscription.failing_since)) is not None

    receiver.respond(200)
    later = max(o.next_attempt_at for o in first)
    with session_factory.begin() as session:
        assert sorted(claim_due_deliveries(session, now=later, limit=10)) == sorted(ids)
    second = attempt_deliveries(session_factory, client, ids, settings, now=later)
    assert {o.status for o in second} == {DELIVERED}
    assert all(o.attempt_number == 2 for o in second)
    for delivery_id in ids:
        assert [a.status_code for a in attempts_of(session_factory, delivery_id)] == [500, 200]
    got = receiver.wait_for(8)
    assert all(d.verified for d in got)
    assert {d.msg_id for d in got[:4]} == {d.msg_id for d in got[4:]}  # the same webhook-ids again
    with session_factory() as session:
        assert session.scalar(select(WebhookSubscription.failing_since)) is None


def test_batch_outcomes_per_endpoint(session_factory, settings, client):
    """One batch, two receivers: one accepts, one answers 410 and is disabled; neither affects the other."""
    with WebhookReceiver() as gone:
        ok = WebhookReceiver().start()
        try:
            with session_factory.begin() as session:
                ok_sub, ok.secret = create_subscription(session, ok.url, settings=settings)
                gone_sub, gone.secret = create_subscription(session, gone.url, settings=settings)
                ok_id, gone_id = ok_sub.id, gone_sub.id
            gone.respond(410)
            ids = dispatch_many(session_factory, 3)
            assert len(ids) == 6
            outcomes = attempt_deliveries(session_factory, client, ids, settings, now=utcnow())
            ok.wait_for(3)
            gone.wait_for(3)
        finally:
            ok.stop()
    with session_factory() as session:
        subs = {s.id: s for s in session.scalars(select(WebhookSubscription))}
        deliveries = {d.id: d.subscription_id for d in session.scalars(select(WebhookDelivery))}
    assert subs[ok_id].enabled and subs[ok_id].failing_since is None
    assert not subs[gone_id].enabled and "410" in subs[gone_id].disabled_reason
    for outcome in outcomes:
        expected = DELIVERED if deliveries[outcome.delivery_id] == ok_id else DISABLED
        assert outcome.status == expected


def test_batch_crash_after_the_lease_loses_nothing(session_factory, settings, receiver, client):
    """A worker that dies between leasing and recording: the deliveries come back when the lease ends."""
    subscribe(session_factory, settings, receiver)
    ids = dispatch_many(session_factory, 3)

    def crash(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("worker killed mid-send")

    now = utcnow()
    with httpx.Client(transport=httpx.MockTransport(crash)) as dying, pytest.raises(RuntimeError):
        attempt_deliveries(session_factory, dying, ids, settings, now=now)
    lease = batch_lease_seconds(len(ids), settings)
    for delivery_id in ids:
        delivery = get_delivery(session_factory, delivery_id)
        assert delivery.status == "pending" and delivery.attempt_count == 0
        assert (delivery.next_attempt_at - now).total_seconds() == pytest.approx(lease)
        assert attempts_of(session_factory, delivery_id) == []
    # Leased: neither a sweep nor a duplicate batch sends them before the lease ends...
    with session_factory.begin() as session:
        assert claim_due_deliveries(session, now=now + timedelta(seconds=lease - 1), limit=10) == []
    assert {o.status for o in attempt_deliveries(session_factory, client, ids, settings, now=now)} == {
        SKIPPED
    }
    # ...and after it (and the dispatch's claim lease), the sweep claims them again and they go out
    # once, with their webhook-ids.
    after = now + timedelta(seconds=max(lease, CLAIM_LEASE_SECONDS) + 1)
    with session_factory.begin() as session:
        assert sorted(claim_due_deliveries(session, now=after, limit=10)) == sorted(ids)
    assert {o.status for o in attempt_deliveries(session_factory, client, ids, settings, now=after)} == {
        DELIVERED
    }
    got = receiver.wait_for(3)
    assert sorted(d.msg_id for d in got) == sorted(f"msg_test_{n}_NI_stance.changed" for n in range(1, 4))


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_bug_in_one_send_keeps_the_batchs_completed_attempts(session_factory, settings, concurrency):
    """Only the send that raised is left to its lease; the attempts that completed are recorded."""
    with session_factory.begin() as session:
        create_subscription(session, "http://127.0.0.1:9/hook", settings=settings)
    ids = dispatch_many(session_factory, 4)
    broken = "msg_test_2_NI_stance.changed"

    def answer(request: httpx.Request) -> httpx.Response:
        if request.headers["webhook-id"] == broken:
            raise RuntimeError("a bug, not a network error")
        return httpx.Response(200, text="ok")

    now = utcnow()
    with (
        httpx.Client(transport=httpx.MockTransport(answer)) as mocked,
        pytest.raises(RuntimeError, match="a bug"),
    ):
        attempt_deliveries(session_factory, mocked, ids, settings, now=now, concurrency=concurrency)
    with session_factory() as session:
        statuses = dict(
            session.execute(
                select(OutboxEvent.msg_id, WebhookDelivery.status).join(
                    OutboxEvent, OutboxEvent.id == WebhookDelivery.event_id
                )
            ).all()
        )
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 3
    assert statuses.pop(broken) == "pending"
    assert set(statuses.values()) == {"delivered"}


def test_concurrent_batches_send_each_delivery_once(session_factory, settings, receiver, client):
    subscribe(session_factory, settings, receiver)
    ids = dispatch_many(session_factory, 24)
    results: list[list] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(attempt_deliveries(session_factory, client, ids, settings, now=utcnow()))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    delivered = [o.delivery_id for batch in results for o in batch if o.status == DELIVERED]
    assert sorted(delivered) == sorted(ids)
    got = receiver.wait_for(24)
    assert len(got) == 24 and len({d.msg_id for d in got}) == 24
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 24
