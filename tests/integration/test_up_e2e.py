"""The product end to end on the embedded default (SQLite, the serverless broker): ``stancewatch up``
polls a loopback news site, the site switches to the updated seed, and a signed webhook for Nicaragua
arrives and verifies; unchanged countries are not alerted again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support_receiver import WebhookReceiver
from support_up import UpProcess

from services.demo import NewsSite

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED_SUPPORTERS = {"BY", "CN", "IR", "KP", "SY", "VE"}


@pytest.fixture
def up(tmp_path: Path) -> Iterator[UpProcess]:
    # The update below changes the page only (the feed entry stays the same), as many sites do; it is
    # caught by the article re-check, whose back-off is capped here so the test need not wait minutes.
    process = UpProcess(tmp_path, env={"STANCEWATCH_RECHECK_MAX_INTERVAL": "2"})
    try:
        process.wait_healthy()
        yield process
    finally:
        process.stop()


def stance_changes(receiver: WebhookReceiver, since: int = 0) -> list[dict]:
    """The ``stance.changed`` data of verified deliveries from the ``since``-th delivery on."""
    return [
        d.payload["data"]
        for d in receiver.deliveries[since:]
        if d.verified and d.payload["type"] == "stance.changed"
    ]


def wait_until(predicate, timeout: float, what: str, up: UpProcess) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{up.log()[-3000:]}")
        time.sleep(0.2)


def test_seed_update_is_alerted_once_with_a_verified_webhook(up: UpProcess) -> None:
    site = NewsSite()
    try:
        with WebhookReceiver() as receiver:
            status, created = up.post_json("/api/webhooks", {"url": receiver.url})
            assert status == 201, created
            receiver.secret = created["secret"]
            status, feed = up.post_json("/api/feeds", {"url": f"{site.base}/feed.xml", "interval": 2})
            assert status == 201, feed

            # Version 1: the six listed supporters and the two undeclared arrive as changes from null.
            wait_until(
                lambda: {c["country"] for c in stance_changes(receiver)} >= SEED_SUPPORTERS,
                40,
                "webhooks for the first version",
                up,
            )
            time.sleep(3)  # let the first version's deliveries settle
            before = len(receiver.deliveries)
            assert all(d.verified for d in receiver.deliveries)

            site.publish(2)
            wait_until(
                lambda: any(c["country"] == "NI" for c in stance_changes(receiver, before)),
                30,
                "the Nicaragua webhook",
                up,
            )
            time.sleep(2)
            after = stance_changes(receiver, before)
            nicaragua = [c for c in after if c["country"] == "NI"]
            assert len(nicaragua) == 1
            assert nicaragua[0]["from"] is None and nicaragua[0]["to"] == "supports"
            assert nicaragua[0]["article"]["version"] == 2
            assert "Ortega" in nicaragua[0]["evidence"]["after"]
            assert {c["country"] for c in after} == {"NI"}, "unchanged countries were alerted again"
            assert all(d.verified for d in receiver.deliveries)

        api = up.get_json("/api/changes?country=NI")
        assert [(c["from"], c["to"]) for c in api["changes"] if c["kind"] == "stance.changed"] == [
            (None, "supports")
        ]
        status, page = up.get("/")
        assert status == 200 and "Nicaragua" in page
    finally:
        site.stop()


def processes_in(data_dir: Path) -> list[int]:
    """Pids whose environment names ``data_dir`` (``up`` and every child it started)."""
    marker = f"STANCEWATCH_DATA_DIR={data_dir}".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_ctrl_c_stops_every_process(tmp_path: Path) -> None:
    process = UpProcess(tmp_path)
    process.wait_healthy()
    assert len(processes_in(tmp_path)) >= 3  # up, the web server, the worker (and its beat)
    assert process.stop() == 0
    deadline = time.monotonic() + 10
    while processes_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_in(tmp_path) == []
    with pytest.raises(OSError):
        process.get("/healthz")
