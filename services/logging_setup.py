"""Logging for every entry point: one JSON object per line in the stack, readable text elsewhere.

Ids travel in two ways: ``logger.info("polled", extra={"feed_id": 3})`` on one record, or
``bind_log_context(task_id=..., delivery_id=...)`` for every record of the current task (Celery's
``task_prerun``/``task_postrun`` signals bind and clear it, see ``workers/observability.py``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any

from services.config import Settings

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is logged as a key.
_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys() | {"message", "asctime"}
)

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "stancewatch_log_context", default=None
)


def bind_log_context(**ids: Any) -> None:
    """Add ids (task_id, feed_id, ...) to every record logged from this thread/task until cleared."""
    _context.set({**(_context.get() or {}), **ids})


def clear_log_context() -> None:
    """Forget the ids bound by ``bind_log_context``."""
    _context.set(None)


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = dict(_context.get() or {})
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            fields[key] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids and any ``extra`` keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in _fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        # default=str: an id may be a UUID or a datetime; a log line must never raise.
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message key=value ...`` for a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        head, sep, tail = line.partition("\n")  # keep key=value on the message line, before a traceback
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {pairs}{sep}{tail}"


def configure_logging(
    settings: Settings, *, level: int | str = logging.INFO, stream: IO[str] | None = None
) -> logging.Handler:
    """Send every log record to ``stream`` (stderr) in ``settings.log_format``; safe to call twice."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler._stancewatch = True  # type: ignore[attr-defined]  # marks ours, so a second call replaces it
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_stancewatch", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
