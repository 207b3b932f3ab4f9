"""Logs and metrics for the worker and beat processes, wired through Celery's signals.

Imported by every worker and beat (it is in ``workers.app.TASK_MODULES``), before Celery sets up
logging, so ``setup_logging`` hands logging to ``services.logging_setup`` (JSON lines in the stack).
``task_prerun`` binds the task's id, name and its ``*_id`` arguments (feed_id, article_id,
delivery_id) to every record the task logs; ``task_postrun`` clears them and counts the run.
"""

from __future__ import annotations

import inspect
import logging
import time
from typing import Any

from celery import signals

from services.logging_setup import bind_log_context, clear_log_context, configure_logging
from workers import metrics
from workers.context import settings

logger = logging.getLogger(__name__)

_started: dict[str, float] = {}


@signals.setup_logging.connect
def _setup_logging(loglevel: int | str | None = None, **_: Any) -> None:
    # Connecting here stops Celery from installing its own handlers: one format for every line.
    configure_logging(settings(), level=loglevel or logging.INFO)


@signals.worker_init.connect
def _enable_metrics(**_: Any) -> None:
    # Before the pool forks, so every child writes to the shared metric files.
    metrics.enable_multiprocess(settings())


def task_ids(task: Any, args: tuple[Any, ...] | None, kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """The ``*_id`` arguments of one task call, by parameter name (``poll_feed(7)`` → feed_id=7)."""
    try:
        bound = inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {}))
    except (TypeError, ValueError):
        return {}
    return {name: value for name, value in bound.arguments.items() if name.endswith("_id")}


@signals.task_prerun.connect
def _task_prerun(task_id: str = "", task: Any = None, args: Any = None, kwargs: Any = None, **_: Any) -> None:
    clear_log_context()
    bind_log_context(task_id=task_id, task_name=getattr(task, "name", None), **task_ids(task, args, kwargs))
    _started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _task_postrun(task_id: str = "", task: Any = None, state: str | None = None, **_: Any) -> None:
    started = _started.pop(task_id, None)
    duration = None if started is None else time.monotonic() - started
    try:
        metrics.observe_task(getattr(task, "name", "?"), state or "UNKNOWN", duration)
    except Exception:  # metrics must never fail a task (e.g. a full disk under the metrics dir)
        logger.warning("could not record task metrics", exc_info=True)
    finally:
        clear_log_context()
