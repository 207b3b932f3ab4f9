"""Delivery tasks count every attempt by outcome, and time delivered ones from the event's creation."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from support_receiver import WebhookReceiver

from services.config import Settings
from services.db import utcnow
from services.delivery import dispatch_events
from services.metrics_registry import build_registry
from services.models import OutboxEvent
from services.subscriptions import create_subscription

pytestmark = pytest.mark.db


@pytest.fixture
def isolated_metrics() -> Iterator[None]:
    """Worker metrics set up afresh, as in a new worker process, and prometheus-client's globals restored.

    Multiprocess mode is process-wide (the value class and PROMETHEUS_MULTIPROC_DIR); left on, the
    per-app HTTP counters of later web tests would share one mmap slot and add up across apps.
    """
    from prometheus_client import values

    from workers import metrics

    saved_class, saved_dir = values.ValueClass, os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    metrics._metrics.clear()  # created again on first use, in this test's data directory
    yield
    metrics._metrics.clear()
    values.ValueClass = saved_class
    if saved_dir is None:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    else:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved_dir


@pytest.fixture
def tasks(settings: Settings, isolated_metrics: None) -> Iterator[object]:
    """The delivery tasks, reading this test's settings (called directly: no broker needed)."""
    from workers import delivery_tasks
    from workers.app import app

    saved = app.conf.get("stancewatch_settings")
    app.conf.stancewatch_settings = settings
    yield delivery_tasks
    app.conf.stancewatch_settings = saved


def sample(settings: Settings, name: str, labels: dict[str, str] | None = None) -> float:
    """A value as ``GET /metrics`` reports it: merged from the worker processes' metric files."""
    return build_registry(settings).get_sample_value(name, labels or {}) or 0.0


def counts(settings: Settings) -> dict[str, float]:
    result = {
        outcome: sample(settings, "stancewatch_deliveries_total", {"outcome": outcome})
        for outcome in ("delivered", "retry", "failed", "disabled")
    }
    result["latency_count"] = sample(settings, "stancewatch_delivery_latency_seconds_count")
    result["latency_sum"] = sample(settings, "stancewatch_delivery_latency_seconds_sum")
    return result


def moved(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


def dispatch(session_factory, count: int, first: int = 0) -> list[int]:
    with session_factory.begin() as session:
        session.add_all(
            OutboxEvent(
                msg_id=f"msg_metrics_{n}",
                type="stance.changed",
                created_at=utcnow(),
                payload={"type": "stance.changed", "data": {"country": "NI", "to": "supports"}},
            )
            for n in range(first, first + count)
        )
    with session_factory.begin() as session:
        return dispatch_events(session, now=utcnow())


def test_attempts_are_counted_by_outcome_with_latency_when_delivered(tasks, settings, session_factory):
    with WebhookReceiver() as receiver:
        with session_factory.begin() as session:
            _, receiver.secret = create_subscription(session, receiver.url, settings=settings)
        receiver.respond(500, 200)

        [first] = dispatch(session_factory, 1)
        before = counts(settings)
        assert tasks.deliver(first) == "retrying"
        assert moved(before, counts(settings)) == {"retry": 1}  # no latency for an attempt that failed

        ids = dispatch(session_factory, 3, first=1)
        before = counts(settings)
        assert tasks.deliver_batch(ids) == {"delivered": 3}
        delta = moved(before, counts(settings))
        assert delta["delivered"] == 3 and delta["latency_count"] == 3
        # From each event's creation to the receiver's 2xx: positive, and well under this test's run.
        assert 0 < delta["latency_sum"] < 3 * 30

        before = counts(settings)
        assert tasks.deliver(ids[0]) == "skipped"  # delivered already: no attempt, nothing counted
        assert moved(before, counts(settings)) == {}

        receiver.respond(410)
        [gone] = dispatch(session_factory, 1, first=10)
        before = counts(settings)
        assert tasks.deliver(gone) == "disabled"
        assert moved(before, counts(settings)) == {"disabled": 1}


def test_exhausted_schedule_counts_failed(tasks, settings, session_factory):
    import dataclasses

    from workers.app import app

    # One attempt in the schedule: its failure is final.
    app.conf.stancewatch_settings = dataclasses.replace(settings, webhook_schedule=(0,))
    with WebhookReceiver() as receiver:
        with session_factory.begin() as session:
            _, receiver.secret = create_subscription(session, receiver.url, settings=settings)
        receiver.respond(500)
        [delivery_id] = dispatch(session_factory, 1)
        before = counts(settings)
        assert tasks.deliver(delivery_id) == "failed"
        assert moved(before, counts(settings)) == {"failed": 1}
