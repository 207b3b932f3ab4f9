"""Structured logs: one JSON object per line with the ids, readable text otherwise."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.config import Settings
from services.logging_setup import bind_log_context, clear_log_context, configure_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    clear_log_context()


def _log(fmt: str, *records: tuple[str, dict]) -> list[str]:
    stream = io.StringIO()
    configure_logging(Settings(log_format=fmt), stream=stream)
    log = logging.getLogger("stancewatch.test")
    for message, extra in records:
        log.info(message, extra=extra)
    return stream.getvalue().splitlines()


def test_json_lines_carry_logger_level_time_and_extra_ids(restore_root: None) -> None:
    lines = _log("json", ("polled", {"feed_id": 7}), ("delivered", {"delivery_id": 3, "article_id": 9}))
    first, second = (json.loads(line) for line in lines)
    assert first["logger"] == "stancewatch.test"
    assert first["level"] == "INFO"
    assert first["message"] == "polled"
    assert first["feed_id"] == 7
    assert first["time"].endswith("+00:00")
    assert (second["delivery_id"], second["article_id"]) == (3, 9)
    assert "feed_id" not in second


def test_bound_context_reaches_every_record_until_cleared(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    log = logging.getLogger("stancewatch.test")
    bind_log_context(task_id="abc", task_name="workers.ingest_tasks.poll_feed", feed_id=4)
    log.warning("fetch failed")
    clear_log_context()
    log.warning("outside a task")
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert inside["task_id"] == "abc" and inside["feed_id"] == 4 and inside["level"] == "WARNING"
    assert "task_id" not in outside


def test_exceptions_stay_inside_one_json_line(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed", extra={"delivery_id": 1})
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert "ValueError: boom" in entry["exc_info"] and entry["delivery_id"] == 1


def test_text_format_is_readable_with_ids(restore_root: None) -> None:
    (line,) = _log("text", ("polled", {"feed_id": 7}))
    assert "INFO stancewatch.test: polled feed_id=7" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_configuring_twice_keeps_one_handler(restore_root: None) -> None:
    configure_logging(Settings(log_format="json"), stream=io.StringIO())
    stream = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=stream)
    logging.getLogger("once").info("hello")
    assert len(stream.getvalue().splitlines()) == 1
    assert sum(getattr(h, "_stancewatch", False) for h in logging.getLogger().handlers) == 1


def test_task_ids_picks_id_arguments_by_name() -> None:
    from workers.observability import task_ids

    class Task:
        def run(self, feed_id: int, *, force: bool = False) -> None: ...

    assert task_ids(Task(), (7,), {"force": True}) == {"feed_id": 7}
    assert task_ids(Task(), (), {}) == {}
    assert task_ids(Task(), (1, 2, 3), {}) == {}  # a call that does not fit the signature: no ids, no crash
