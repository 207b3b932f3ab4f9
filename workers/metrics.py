"""Prometheus counters and histograms that tasks increment, shared across worker processes.

Every worker process (prefork children included) writes to mmap files in the data directory
(prometheus-client's multiprocess mode); ``services.metrics_registry.render_metrics`` merges them for
``/metrics``. Metrics are created on first use, after ``PROMETHEUS_MULTIPROC_DIR`` points at that
directory, because prometheus-client decides where a value lives when the value is created.

Tasks call the small functions below (``count_poll("not_modified")``...), never the metric objects.
``python -m workers.metrics --port 9808`` serves this machine's worker metrics when web runs elsewhere.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from services.config import Settings
from services.metrics_registry import metrics_dir

# Buckets for things a user waits on (seconds): a webhook should arrive within seconds, a task run too.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800, 7200, float("inf"))

_lock = threading.Lock()
_metrics: dict[str, Any] = {}


def enable_multiprocess(settings: Settings) -> str:
    """Point prometheus-client at the shared metrics directory of ``settings``; idempotent."""
    from prometheus_client import values

    path = str(metrics_dir(settings))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    # prometheus-client chose its value class when it was first imported, perhaps before the variable
    # was set (by a library); values created from now on must go to the shared files.
    if values.ValueClass.__name__ != "MmapedValue":
        values.ValueClass = values.MultiProcessValue()
    return path


def _get() -> dict[str, Any]:
    if _metrics:
        return _metrics
    with _lock:
        if not _metrics:
            from prometheus_client import Counter, Histogram

            from workers.context import settings

            enable_multiprocess(settings())
            _metrics.update(
                polls=Counter("stancewatch_polls", "Feed polls by outcome", ["status"], registry=None),
                fetch_errors=Counter(
                    "stancewatch_fetch_errors", "Failed fetches of feeds or pages", ["kind"], registry=None
                ),
                versions=Counter("stancewatch_versions", "New article versions stored", registry=None),
                changes=Counter("stancewatch_changes", "Stance changes recorded", ["kind"], registry=None),
                deliveries=Counter(
                    "stancewatch_deliveries",
                    "Webhook delivery attempts by outcome",
                    ["outcome"],
                    registry=None,
                ),
                delivery_latency=Histogram(
                    "stancewatch_delivery_latency_seconds",
                    "From the change's detection to the receiver's 2xx",
                    buckets=LATENCY_BUCKETS,
                    registry=None,
                ),
                tasks=Counter(
                    "stancewatch_tasks", "Tasks run, by name and state", ["task", "state"], registry=None
                ),
                task_duration=Histogram(
                    "stancewatch_task_duration_seconds",
                    "Run time of one task",
                    ["task"],
                    buckets=LATENCY_BUCKETS,
                    registry=None,
                ),
            )
    return _metrics


def count_poll(status: str) -> None:
    """One feed poll ended with ``status`` (ok, not_modified, error...)."""
    _get()["polls"].labels(status=status).inc()


def count_fetch_error(kind: str) -> None:
    """A fetch of a ``kind`` ("feed" or "page") failed."""
    _get()["fetch_errors"].labels(kind=kind).inc()


def count_versions(n: int = 1) -> None:
    """``n`` new article versions were committed."""
    if n:
        _get()["versions"].inc(n)


def count_changes(n: int = 1, *, kind: str = "stance.changed") -> None:
    """``n`` stance changes of ``kind`` were committed."""
    if n:
        _get()["changes"].labels(kind=kind).inc(n)


def observe_delivery(outcome: str, latency_seconds: float | None = None) -> None:
    """One webhook attempt ended with ``outcome`` (delivered, retry, failed); latency when delivered."""
    metrics = _get()
    metrics["deliveries"].labels(outcome=outcome).inc()
    if latency_seconds is not None:
        metrics["delivery_latency"].observe(max(0.0, latency_seconds))


def observe_task(task: str, state: str, duration_seconds: float | None) -> None:
    """A task run ended in ``state`` (called by workers/observability.py, not by tasks)."""
    metrics = _get()
    metrics["tasks"].labels(task=task, state=state).inc()
    if duration_seconds is not None:
        metrics["task_duration"].labels(task=task).observe(duration_seconds)


def main(argv: list[str] | None = None) -> None:
    """Serve this machine's worker metrics (and the queue lengths) on a port of their own."""
    import argparse
    import time
    from http.server import ThreadingHTTPServer

    from prometheus_client.exposition import MetricsHandler

    from services.metrics_registry import build_registry

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=9808)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    registry = build_registry(settings)
    server = ThreadingHTTPServer((args.host, args.port), MetricsHandler.factory(registry))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"worker metrics on http://{args.host}:{args.port}/metrics", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":  # pragma: no cover
    main()
