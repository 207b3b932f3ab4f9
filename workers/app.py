"""The Celery app, configured from ``Settings``.

``celery -A workers.app`` imports this module, so the app is built here from the environment; tests
build their own with ``create_celery(settings)``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Exchange, Queue

from services.config import Settings

TASK_MODULES = ["workers.ingest_tasks", "workers.delivery_tasks", "workers.sweep", "workers.observability"]

# Separate queues so a slow webhook receiver cannot hold up polling, nor a slow site the alerts.
QUEUE_POLL = "poll"
QUEUE_FETCH = "fetch"
QUEUE_DELIVER = "deliver"
QUEUE_SWEEP = "sweep"
QUEUES = (QUEUE_SWEEP, QUEUE_POLL, QUEUE_FETCH, QUEUE_DELIVER)


def broker_options(settings: Settings) -> dict[str, Any]:
    if settings.uses_embedded_broker:
        folder = settings.broker_dir
        for sub in ("queue", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return {
            # kombu's file-system transport, with atomic writes (see workers/fsbroker.py).
            "broker_transport": "workers.fsbroker:Transport",
            "broker_transport_options": {
                "data_folder_in": str(folder / "queue"),
                "data_folder_out": str(folder / "queue"),
                "control_folder": str(folder / "control"),
                "store_processed": False,
                # The embedded broker is polled; keep the doorbell quick so alerts go out within a second.
                "polling_interval": 0.05,
            },
        }
    if settings.broker_url.startswith(("redis", "rediss")):
        # Longer than any task runs; the database, not the broker, holds multi-hour schedules.
        return {"broker_transport_options": {"visibility_timeout": 3600}}
    return {}


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    # kombu warns about a URL without a host; the embedded broker has none to give.
    broker = "filesystem://localhost/" if settings.uses_embedded_broker else settings.broker_url
    app = Celery("stancewatch", broker=broker, include=TASK_MODULES)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,
        # At-least-once: a task is acknowledged only after it ran, and given back if its worker dies.
        # Safe because every task is idempotent (versions keyed by hash, deliveries by event id).
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE_FETCH,
        # Each queue its own direct exchange and key, stated rather than left to Celery's defaults
        # (which show every queue bound to the default exchange with one key).
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_default_exchange=QUEUE_FETCH,
        task_default_routing_key=QUEUE_FETCH,
        task_routes={
            "workers.ingest_tasks.poll_feed": {"queue": QUEUE_POLL},
            "workers.ingest_tasks.check_article": {"queue": QUEUE_FETCH},
            "workers.delivery_tasks.*": {"queue": QUEUE_DELIVER},
            "workers.sweep.*": {"queue": QUEUE_SWEEP},
        },
        beat_scheduler="workers.schedule:LeasedScheduler",
        beat_max_loop_interval=1.0,
        timezone="UTC",
        enable_utc=True,
        **broker_options(settings),
    )
    if settings.uses_embedded_broker:
        # The file-system transport has no fanout exchange: no remote control, gossip or mingle.
        app.conf.worker_enable_remote_control = False
    app.conf.stancewatch_settings = settings
    return app


app = create_celery()
