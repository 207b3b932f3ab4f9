"""The Prometheus text for ``/metrics``: what every worker process counted, plus the broker's queue lengths.

Worker processes (``workers/metrics.py``) write their counters and histograms to files in
``metrics_dir(settings)`` (prometheus-client's multiprocess mode); this module merges those files at
scrape time and adds one gauge per queue read from Redis with ``LLEN``. No Flask, no Celery: the web
app calls ``render_metrics(settings)`` and returns the bytes with the content type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prom_multiprocess
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from services.config import Settings

logger = logging.getLogger(__name__)

# The Celery queues (workers.app.QUEUES; tests/stack/test_metrics.py keeps the two equal). Repeated
# here because services/ must not import Celery.
QUEUE_NAMES: tuple[str, ...] = ("sweep", "poll", "fetch", "deliver")

# kombu's Redis transport keeps priority messages in sibling lists "<queue>\x06\x16<priority>".
_KOMBU_PRIORITY_SEP = "\x06\x16"
_KOMBU_PRIORITY_STEPS = (3, 6, 9)


def metrics_dir(settings: Settings) -> Path:
    """Where worker processes write their metric files (PROMETHEUS_MULTIPROC_DIR); created if missing."""
    path = Path(settings.data_dir).resolve() / "prometheus"
    path.mkdir(parents=True, exist_ok=True)
    return path


def queue_lengths(broker_url: str, queues: Iterable[str] = QUEUE_NAMES) -> dict[str, int] | None:
    """Messages waiting per queue on a Redis broker; None when the broker is not Redis or unreachable."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(broker_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    try:
        pipe = client.pipeline(transaction=False)
        names = list(queues)
        for name in names:
            pipe.llen(name)
            for step in _KOMBU_PRIORITY_STEPS:
                pipe.llen(f"{name}{_KOMBU_PRIORITY_SEP}{step}")
        counts = pipe.execute()
    except redis.RedisError as exc:
        logger.warning("could not read queue lengths from the broker", extra={"error": str(exc)})
        return None
    finally:
        client.close()
    per_queue = 1 + len(_KOMBU_PRIORITY_STEPS)
    return {name: sum(counts[i * per_queue : (i + 1) * per_queue]) for i, name in enumerate(names)}


class QueueLengthCollector:
    """Scrape-time gauges: ``stancewatch_queue_length{queue}`` and ``stancewatch_broker_up``."""

    def __init__(self, broker_url: str, queues: Iterable[str] = QUEUE_NAMES) -> None:
        self.broker_url = broker_url
        self.queues = tuple(queues)

    def collect(self) -> Iterator[Any]:
        lengths = queue_lengths(self.broker_url, self.queues)
        up = GaugeMetricFamily("stancewatch_broker_up", "1 when the broker's queue lengths could be read")
        up.add_metric([], 0 if lengths is None else 1)
        yield up
        if lengths is not None:
            gauge = GaugeMetricFamily(
                "stancewatch_queue_length", "Messages waiting in a Celery queue", labels=["queue"]
            )
            for name, count in lengths.items():
                gauge.add_metric([name], count)
            yield gauge


def build_registry(settings: Settings, extra: Iterable[Any] = ()) -> CollectorRegistry:
    """A registry holding the merged worker metrics, the queue lengths and any ``extra`` collectors."""
    registry = CollectorRegistry()
    prom_multiprocess.MultiProcessCollector(registry, path=str(metrics_dir(settings)))
    registry.register(QueueLengthCollector(settings.broker_url))
    for collector in extra:
        registry.register(collector)
    return registry


def render_metrics(settings: Settings, extra: Iterable[Any] = ()) -> tuple[bytes, str]:
    """The Prometheus exposition text and its content type, for ``GET /metrics``."""
    return generate_latest(build_registry(settings, extra)), CONTENT_TYPE_LATEST
