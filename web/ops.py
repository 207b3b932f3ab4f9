"""Operations endpoints: /healthz for the orchestrator, /metrics for Prometheus."""

from __future__ import annotations

import logging
import socket
import tempfile
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from services import history
from services.config import Settings
from services.metrics_registry import render_metrics
from web import state

logger = logging.getLogger(__name__)
bp = Blueprint("ops", __name__)
BROKER_TIMEOUT = 1.0


def check_database() -> str | None:
    """None when the database answers, else a short reason."""
    try:
        with state().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:200]
    return None


def check_broker(settings: Settings) -> str | None:
    """None when the broker is reachable (redis: PING; embedded: its folder writable), else a reason."""
    url = settings.broker_url
    scheme = urlsplit(url).scheme
    if settings.uses_embedded_broker:
        folder = settings.broker_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=folder, prefix=".healthz-"):
                pass
        except OSError as exc:
            return f"embedded broker folder {folder} not writable: {exc.strerror or exc}"
        return None
    if scheme in ("redis", "rediss"):
        import redis

        try:
            client = redis.Redis.from_url(
                url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT
            )
            try:
                client.ping()
            finally:
                client.close()
        except redis.RedisError as exc:
            return f"redis: {exc}"[:200]
        return None
    if scheme == "memory":
        return None
    parts = urlsplit(url)
    default_port = 5671 if scheme.endswith("s") else 5672
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), BROKER_TIMEOUT
        ):
            return None
    except OSError as exc:
        return f"{scheme}: {exc.strerror or exc}"


@bp.get("/healthz")
def healthz() -> Any:
    db_error = check_database()
    broker_error = check_broker(state().settings)
    body: dict[str, Any] = {
        "status": "ok" if not (db_error or broker_error) else "fail",
        "database": "ok" if not db_error else f"fail: {db_error}",
        "broker": "ok" if not broker_error else f"fail: {broker_error}",
    }
    response = jsonify(body)
    response.status_code = 200 if body["status"] == "ok" else 503
    response.headers["Cache-Control"] = "no-store"
    return response


class DatabaseCollector(Collector):
    """Row counts read from the database at scrape time (cheap counts, one short read)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        factory = self.app.extensions["stancewatch"].session_factory
        rows = GaugeMetricFamily("stancewatch_rows", "Rows stored, by table", labels=["table"])
        deliveries = GaugeMetricFamily(
            "stancewatch_webhook_deliveries", "Webhook deliveries, by status", labels=["status"]
        )
        up = GaugeMetricFamily("stancewatch_database_up", "1 when the database answered the scrape")
        try:
            with factory() as session:
                for table, n in history.table_counts(session).items():
                    rows.add_metric([table], n)
                for status, n in history.delivery_counts(session).items():
                    deliveries.add_metric([status], n)
            up.add_metric([], 1)
        except SQLAlchemyError:
            logger.warning("metrics: database unreachable", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        yield rows
        yield deliveries
        yield up


def init_metrics(app: Flask) -> None:
    """HTTP counters and a latency histogram per app (its own registry: tests build many apps)."""
    registry = CollectorRegistry()
    requests_total = Counter(
        "stancewatch_http_requests_total",
        "HTTP requests",
        ["method", "endpoint", "status"],
        registry=registry,
    )
    latency = Histogram(
        "stancewatch_http_request_duration_seconds",
        "HTTP request latency",
        ["endpoint"],
        registry=registry,
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    )
    app.extensions["stancewatch_metrics"] = registry

    @app.before_request
    def _start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _record(response: Response) -> Response:
        started = g.pop("request_started", None)
        # The endpoint name, not the path: ids in paths would make a label per article.
        endpoint = request.endpoint or "unknown"
        requests_total.labels(request.method, endpoint, str(response.status_code)).inc()
        if started is not None:
            latency.labels(endpoint).observe(time.perf_counter() - started)
        return response


@bp.get("/metrics")
def metrics() -> Any:
    from flask import current_app

    # The workers' merged counters and the queue lengths (services.metrics_registry), plus this
    # process's HTTP metrics and the database row counts.
    http_registry = current_app.extensions["stancewatch_metrics"]
    body, content_type = render_metrics(
        state().settings, extra=[http_registry, DatabaseCollector(current_app)]
    )
    return Response(body, headers={"Content-Type": content_type})
