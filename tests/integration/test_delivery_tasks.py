"""The deliver-queue tasks on a real Redis broker: redelivered tasks create no duplicate rows."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy import func, select
from support_receiver import WebhookReceiver

from services.config import Settings
from services.db import utcnow
from services.models import DeliveryAttempt, OutboxEvent, WebhookDelivery
from services.subscriptions import create_subscription

pytestmark = [pytest.mark.db, pytest.mark.redis]


@pytest.fixture
def isolated_metrics() -> Iterator[None]:
    """Worker metrics set up afresh (the tasks count attempts), prometheus-client's globals restored after.

    Multiprocess mode is process-wide; left on, later tests' metrics would share its mmap files.
    """
    from prometheus_client import values

    from workers import metrics

    saved_class, saved_dir = values.ValueClass, os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics._metrics.clear()
    yield
    metrics._metrics.clear()
    values.ValueClass = saved_class
    if saved_dir is None:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved_dir


@pytest.fixture
def celery_app(settings: Settings, redis_url: str, isolated_metrics: None) -> Iterator[object]:
    """The workers' app pointed at this test's database and a real Redis broker."""
    from workers.app import app

    keys = ("stancewatch_settings", "broker_url", "broker_transport", "broker_transport_options")
    saved = {key: app.conf.get(key) for key in keys}
    app.conf.update(
        stancewatch_settings=settings,
        broker_url=redis_url,
        # The app may have been built for the embedded broker, whose transport would win over the URL.
        broker_transport=None,
        broker_transport_options={"visibility_timeout": 3600},
    )
    app._pool = None  # connect to this broker, not one used by an earlier test
    client = redis.Redis.from_url(redis_url)
    client.delete("deliver")
    yield app
    client.delete("deliver")
    client.close()
    app.conf.update(saved)
    app._pool = None


def queued_deliveries(redis_url: str) -> list[tuple[str, list]]:
    client = redis.Redis.from_url(redis_url)
    try:
        messages = [json.loads(raw) for raw in client.lrange("deliver", 0, -1)]
    finally:
        client.close()
    result = []
    for message in messages:
        args, _kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        result.append((message["headers"]["task"], args))
    return result


def test_dispatch_enqueues_each_new_delivery_at_once_and_redelivery_duplicates_nothing(
    celery_app, settings, session_factory, redis_url
):
    from workers.delivery_tasks import deliver, dispatch_outbox

    with WebhookReceiver() as receiver:
        with session_factory.begin() as session:
            _, receiver.secret = create_subscription(session, receiver.url, settings=settings)
            session.add(
                OutboxEvent(
                    msg_id="msg_task_1",
                    type="stance.changed",
                    created_at=utcnow(),
                    payload={
                        "type": "stance.changed",
                        "timestamp": "2022-02-27T14:03:00Z",
                        "data": {"country": "NI", "from": None, "to": "supports"},
                    },
                )
            )
        assert dispatch_outbox() == 1
        assert dispatch_outbox() == 0  # the same task delivered twice by the broker
        queued = queued_deliveries(redis_url)
        assert len(queued) == 1 and queued[0][0] == "workers.delivery_tasks.deliver"
        delivery_id = queued[0][1][0]

        assert deliver(delivery_id) == "delivered"
        assert deliver(delivery_id) == "skipped"  # redelivered deliver task
        [got] = receiver.wait_for(1)
        assert got.verified and got.msg_id == "msg_task_1"
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 1
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == 1


def test_sweep_enqueues_due_retries(celery_app, settings, session_factory, redis_url):
    from workers.delivery_tasks import deliver, dispatch_outbox, sweep_deliveries

    with WebhookReceiver() as receiver:
        receiver.respond(500, 200)
        with session_factory.begin() as session:
            _, receiver.secret = create_subscription(session, receiver.url, settings=settings)
            session.add(
                OutboxEvent(
                    msg_id="msg_task_2",
                    type="stance.changed",
                    created_at=utcnow(),
                    payload={
                        "type": "stance.changed",
                        "timestamp": "2022-02-27T14:03:00Z",
                        "data": {"country": "NI", "from": None, "to": "supports"},
                    },
                )
            )
        dispatch_outbox()
        [(_, [delivery_id])] = queued_deliveries(redis_url)
        assert deliver(delivery_id) == "retrying"
        with session_factory.begin() as session:  # make the retry due now instead of waiting for it
            session.get(WebhookDelivery, delivery_id).next_attempt_at = utcnow()
        assert sweep_deliveries() == 1
        assert sweep_deliveries() == 0  # claimed: a second sweep does not enqueue it again
        assert [args for _, args in queued_deliveries(redis_url)] == [[delivery_id], [delivery_id]]
        assert deliver(delivery_id) == "delivered"
        got = receiver.wait_for(2)
        assert [d.status for d in got] == [500, 200] and len({d.msg_id for d in got}) == 1


def add_events(session_factory, count: int) -> None:
    with session_factory.begin() as session:
        session.add_all(
            OutboxEvent(
                msg_id=f"msg_batch_{n}",
                type="stance.changed",
                created_at=utcnow(),
                payload={
                    "type": "stance.changed",
                    "timestamp": "2022-02-27T14:03:00Z",
                    "data": {"country": "NI", "from": None, "to": "supports", "change_id": n},
                },
            )
            for n in range(count)
        )


def test_dispatch_enqueues_one_batch_for_many_deliveries(celery_app, settings, session_factory, redis_url):
    from workers.delivery_tasks import BATCH_SIZE, deliver_batch, dispatch_outbox

    with WebhookReceiver() as receiver:
        with session_factory.begin() as session:
            _, receiver.secret = create_subscription(session, receiver.url, settings=settings)
        add_events(session_factory, BATCH_SIZE + 5)
        assert dispatch_outbox() == BATCH_SIZE + 5
        queued = queued_deliveries(redis_url)
        assert [name for name, _ in queued] == ["workers.delivery_tasks.deliver_batch"] * 2
        batches = sorted((args[0] for _, args in queued), key=len, reverse=True)
        assert [len(b) for b in batches] == [BATCH_SIZE, 5]

        assert deliver_batch(batches[0]) == {"delivered": BATCH_SIZE}
        assert deliver_batch(batches[1]) == {"delivered": 5}
        assert deliver_batch(batches[1]) == {"skipped": 5}  # a redelivered batch message
        got = receiver.wait_for(BATCH_SIZE + 5)
        assert all(d.verified for d in got) and len({d.msg_id for d in got}) == BATCH_SIZE + 5
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(DeliveryAttempt)) == BATCH_SIZE + 5


def test_sweep_enqueues_due_retries_as_a_batch(celery_app, settings, session_factory, redis_url):
    from workers.delivery_tasks import deliver_batch, dispatch_outbox, sweep_deliveries

    with WebhookReceiver() as receiver:
        receiver.respond(500, 500, 500, 200)
        with session_factory.begin() as session:
            _, receiver.secret = create_subscription(session, receiver.url, settings=settings)
        add_events(session_factory, 3)
        dispatch_outbox()
        [(_, [delivery_ids])] = queued_deliveries(redis_url)
        assert deliver_batch(delivery_ids) == {"retrying": 3}
        with session_factory.begin() as session:  # make the retries due now instead of waiting
            for delivery in session.scalars(select(WebhookDelivery)):
                delivery.next_attempt_at = utcnow()
        assert sweep_deliveries() == 3
        assert sweep_deliveries() == 0
        [_, (name, [again])] = queued_deliveries(redis_url)
        assert name == "workers.delivery_tasks.deliver_batch" and sorted(again) == sorted(delivery_ids)
        assert deliver_batch(again) == {"delivered": 3}
