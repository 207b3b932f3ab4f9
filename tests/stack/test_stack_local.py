"""The production stack without containers: scripts/stack-local.sh starts the commands the containers run
(``stancewatch db upgrade``, gunicorn via ``stancewatch web``, celery workers and beat) on the local
PostgreSQL and Redis; a feed and a webhook are added over the API, the seed article is updated, and the
Nicaragua ``null → supports`` change arrives as a verified Standard Webhook."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx
import pytest
from support_receiver import WebhookReceiver

from services.demo import NewsSite

from .conftest import REPO, TOKEN, Processes, free_port, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]


def stance_changes(receiver: WebhookReceiver) -> list[dict]:
    return [
        d.payload["data"] for d in receiver.deliveries if d.verified and d.payload["type"] == "stance.changed"
    ]


def json_lines(text: str) -> list[dict]:
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                lines.append(json.loads(line))
    return lines


def test_stack_local_delivers_the_seed_update(processes: Processes, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_dir = tmp_path / "stack-logs"
    script = processes.start(
        "stack-local",
        ["bash", str(REPO / "scripts" / "stack-local.sh")],
        STANCEWATCH_WEB_PORT=str(port),
        STACK_LOG_DIR=str(log_dir),
        WORKER_CONCURRENCY="2",
        DELIVERY_CONCURRENCY="4",
    )

    def logs() -> str:
        parts = [processes.logs()]
        parts += [f"--- {p.stem}\n{p.read_text(errors='replace')[-3000:]}" for p in log_dir.glob("*.log")]
        return "\n".join(parts)

    def healthy() -> bool:
        assert script.poll() is None, "stack-local.sh exited"
        try:
            return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    site = NewsSite()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        wait_until(healthy, 60, "the web app's /healthz", logs)
        with WebhookReceiver() as receiver, httpx.Client(base_url=base, timeout=10, headers=auth) as api:
            created = api.post("/api/webhooks", json={"url": receiver.url, "countries": ["NI", "BY"]})
            assert created.status_code == 201, created.text
            receiver.secret = created.json()["secret"]
            feed = api.post("/api/feeds", json={"url": f"{site.base}/feed.xml", "interval": 1})
            assert feed.status_code == 201, feed.text

            # The earlier version first: Belarus (listed in v1) arrives, Nicaragua does not yet.
            wait_until(
                lambda: "BY" in {c["country"] for c in stance_changes(receiver)},
                60,
                "the first version",
                logs,
            )
            assert "NI" not in {c["country"] for c in stance_changes(receiver)}
            site.publish(2)
            wait_until(
                lambda: "NI" in {c["country"] for c in stance_changes(receiver)},
                60,
                "the Nicaragua webhook",
                logs,
            )
            (nicaragua,) = [c for c in stance_changes(receiver) if c["country"] == "NI"]
            assert (nicaragua["from"], nicaragua["to"]) == (None, "supports")
            assert nicaragua["article"]["version"] == 2
            assert all(d.verified for d in receiver.deliveries)
            ids = [d.msg_id for d in receiver.deliveries if d.status < 300]
            assert len(ids) == len(set(ids)), "a webhook was delivered twice"

            metrics = httpx.get(f"{base}/metrics", timeout=10).text
            assert 'stancewatch_queue_length{queue="poll"}' in metrics
            assert "stancewatch_tasks_total" in metrics  # counted by the workers, merged by web
    finally:
        site.stop()
        stopped = processes.stop("stack-local")
    assert stopped in (0, 143, -15), f"stack-local.sh did not stop cleanly ({stopped})\n{logs()}"

    # Logs in the stack: one JSON object per line, with task and feed ids on the worker's task lines.
    worker_lines = json_lines((log_dir / "worker.log").read_text())
    assert worker_lines, (log_dir / "worker.log").read_text()[-2000:]
    assert any(e.get("task_name", "").endswith("poll_feed") and "feed_id" in e for e in worker_lines)
    assert all({"time", "level", "logger", "message"} <= e.keys() for e in worker_lines)
    deliver_lines = json_lines((log_dir / "worker-deliver.log").read_text())
    assert any("delivery_id" in e for e in deliver_lines)
