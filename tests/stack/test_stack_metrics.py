"""Metrics: counters from separate worker processes merge into one /metrics text, with queue lengths."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from services.config import Settings
from services.metrics_registry import QUEUE_NAMES, metrics_dir, queue_lengths, render_metrics

REPO = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter, as a worker process would: the metrics module sets up multiprocess mode.
COUNT = """
from workers import metrics
metrics.count_poll("not_modified")
metrics.count_poll("ok")
metrics.count_fetch_error("page")
metrics.count_versions(2)
metrics.count_changes(1)
metrics.observe_delivery("delivered", latency_seconds=0.7)
metrics.observe_delivery("retry")
metrics.observe_task("workers.ingest_tasks.poll_feed", "SUCCESS", 0.01)
"""


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


def _count_in_process(data_dir: Path, broker_url: str) -> None:
    env = {**os.environ, "STANCEWATCH_DATA_DIR": str(data_dir), "BROKER_URL": broker_url}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "-c", COUNT], cwd=REPO, env=env, check=True, timeout=60)


@pytest.mark.redis
def test_counts_from_two_processes_merge_with_queue_lengths(tmp_path: Path, redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    client.delete(*QUEUE_NAMES)
    try:
        _count_in_process(tmp_path, redis_url)
        _count_in_process(tmp_path, redis_url)
        client.rpush("poll", "a", "b", "c")
        client.rpush("deliver\x06\x163", "x")  # kombu's list for priority 3 counts toward its queue

        body, content_type = render_metrics(Settings(data_dir=tmp_path, broker_url=redis_url))
    finally:
        client.delete("poll", "deliver\x06\x163")
        client.close()
    text = body.decode()
    assert content_type.startswith("text/plain")
    assert _sample(text, 'stancewatch_polls_total{status="not_modified"}') == 2
    assert _sample(text, 'stancewatch_polls_total{status="ok"}') == 2
    assert _sample(text, 'stancewatch_fetch_errors_total{kind="page"}') == 2
    assert _sample(text, "stancewatch_versions_total") == 4
    assert _sample(text, 'stancewatch_changes_total{kind="stance.changed"}') == 2
    assert _sample(text, 'stancewatch_deliveries_total{outcome="delivered"}') == 2
    assert _sample(text, 'stancewatch_deliveries_total{outcome="retry"}') == 2
    assert _sample(text, "stancewatch_delivery_latency_seconds_count") == 2
    assert _sample(text, 'stancewatch_delivery_latency_seconds_bucket{le="1.0"}') == 2
    assert _sample(text, 'stancewatch_delivery_latency_seconds_bucket{le="0.5"}') == 0
    assert (
        _sample(text, 'stancewatch_tasks_total{state="SUCCESS",task="workers.ingest_tasks.poll_feed"}') == 2
    )
    assert _sample(text, "stancewatch_broker_up") == 1
    assert _sample(text, 'stancewatch_queue_length{queue="poll"}') == 3
    assert _sample(text, 'stancewatch_queue_length{queue="deliver"}') == 1
    assert _sample(text, 'stancewatch_queue_length{queue="fetch"}') == 0
    assert len(list(metrics_dir(Settings(data_dir=tmp_path)).glob("*.db"))) >= 2  # one file set per process


def test_unreachable_or_embedded_broker_reports_down_without_failing(tmp_path: Path) -> None:
    assert queue_lengths("filesystem://") is None
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    body, _ = render_metrics(Settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:9/0"))
    assert _sample(body.decode(), "stancewatch_broker_up") == 0
    assert "stancewatch_queue_length" not in body.decode()


def test_queue_names_match_the_celery_app() -> None:
    from workers.app import QUEUES

    assert tuple(QUEUE_NAMES) == tuple(QUEUES)
