"""Scale-out on the production configuration (PostgreSQL, Redis, separate worker processes as on separate
machines): two workers share the work without doubling anything, beat cannot run twice, and a slow
webhook receiver does not hold up polling."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select
from support_receiver import WebhookReceiver

from services.cli.run import celery_beat_argv, celery_worker_argv
from services.config import Settings
from services.db import utcnow
from services.delivery import BATCH_CONCURRENCY
from services.models import (
    EVENT_STANCE_CHANGED,
    Article,
    ArticleVersion,
    Feed,
    OutboxEvent,
    StanceChange,
    WebhookDelivery,
)
from services.subscriptions import create_subscription
from workers.app import create_celery

from .conftest import Processes, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

COUNTRIES = ("Nicaragua", "Venezuela", "Syria", "Eritrea", "Cuba", "Iran")
FILLER = (
    "The city council met on Tuesday to discuss the budget for the coming year, and residents "
    "asked questions about the new transit line, the library and the harbour works. "
)


class Newsroom:
    """Feeds ``/feed/<f>.xml`` with ``per_feed`` articles each; every page has one government's stance."""

    def __init__(self, feeds: int, per_feed: int) -> None:
        self.feeds, self.per_feed = feeds, per_feed
        self.hits: Counter[str] = Counter()
        room = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                room.hits[self.path] += 1
                parts = self.path.strip("/").split("/")
                if parts[0] == "feed":
                    body, ctype = room.feed_xml(int(parts[1].removesuffix(".xml"))), "application/rss+xml"
                elif parts[0] == "article":
                    body, ctype = room.page(int(parts[1]), int(parts[2])), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed_xml(self, f: int) -> str:
        items = "".join(
            f"<item><title>Report {f}-{k}</title><link>{self.base}/article/{f}/{k}</link>"
            f"<guid>{self.base}/article/{f}/{k}</guid><pubDate>{formatdate(1767225600 + k * 60)}</pubDate>"
            f"<description>Report {f}-{k}</description></item>"
            for k in range(self.per_feed)
        )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>Feed {f}</title><link>{self.base}/</link><description>d</description>{items}</channel></rss>"
        )

    def country(self, f: int, k: int) -> str:
        return COUNTRIES[(f * self.per_feed + k) % len(COUNTRIES)]

    def page(self, f: int, k: int) -> str:
        stance = (
            f"{self.country(f, k)}'s government said it supports Russia's decision to invade Ukraine "
            "and blamed NATO for the war."
        )
        paragraphs = [f"Report {f}-{k}. " + FILLER * 2, FILLER + stance, FILLER * 3]
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        return (
            f"<html><head><title>Report {f}-{k}</title></head><body><nav>Home | World</nav>"
            f"<article><h1>Report {f}-{k}</h1>{body}</article><footer>(c) News</footer></body></html>"
        )

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def newsroom() -> Iterator[Newsroom]:
    room = Newsroom(feeds=12, per_feed=5)
    try:
        yield room
    finally:
        room.stop()


def add_feeds(sessions: Any, urls: list[str], interval: int) -> list[int]:
    with sessions.begin() as session:
        feeds = [Feed(url=url, interval_seconds=interval, next_check_at=utcnow()) for url in urls]
        session.add_all(feeds)
        session.flush()
        return [feed.id for feed in feeds]


def subscribe(sessions: Any, settings: Settings, url: str) -> str:
    with sessions.begin() as session:
        _, secret = create_subscription(session, url, settings=settings)
    return secret


def scalar(sessions: Any, query: Any) -> Any:
    with sessions() as session:
        return session.scalar(query)


def test_two_workers_share_the_work_without_duplicates(
    processes: Processes, stack_sessions: Any, stack_settings: Settings, newsroom: Newsroom
) -> None:
    expected = newsroom.feeds * newsroom.per_feed
    with WebhookReceiver() as receiver:
        receiver.secret = subscribe(stack_sessions, stack_settings, receiver.url)
        feed_ids = add_feeds(
            stack_sessions, [f"{newsroom.base}/feed/{f}.xml" for f in range(newsroom.feeds)], interval=2
        )
        for name in ("w1", "w2"):  # as on two machines: own node names, every queue
            argv = celery_worker_argv(concurrency=2, queues="sweep,poll,fetch,deliver", pool=None)
            processes.start(name, [*argv, "-n", f"{name}@%h"])
        processes.start("beat", celery_beat_argv())
        # A duplicated doorbell (a redelivered or doubled message): every feed is polled twice at once,
        # by whichever workers take the messages.
        celery = create_celery(stack_settings)
        try:
            for _ in range(2):
                for feed_id in feed_ids:
                    celery.send_task("workers.ingest_tasks.poll_feed", args=[feed_id], queue="poll")
        finally:
            celery.close()

        def stance_changes() -> int:
            return scalar(
                stack_sessions,
                select(func.count())
                .select_from(StanceChange)
                .where(StanceChange.kind == EVENT_STANCE_CHANGED),
            )

        wait_until(lambda: stance_changes() >= expected, 120, f"{expected} stance changes", processes.logs)
        events = scalar(stack_sessions, select(func.count()).select_from(OutboxEvent))
        wait_until(
            lambda: len({d.msg_id for d in receiver.deliveries}) >= events,
            60,
            "every webhook",
            processes.logs,
        )
        # A few more poll and re-check rounds on both workers must add nothing.
        polls_before = sum(n for path, n in newsroom.hits.items() if path.startswith("/feed/"))
        wait_until(
            lambda: (
                sum(n for p, n in newsroom.hits.items() if p.startswith("/feed/"))
                >= polls_before + 2 * len(feed_ids)
            ),
            60,
            "two more rounds of polls",
            processes.logs,
        )

        assert scalar(stack_sessions, select(func.count()).select_from(Article)) == expected
        assert scalar(stack_sessions, select(func.count()).select_from(ArticleVersion)) == expected
        assert stance_changes() == expected
        with stack_sessions() as session:
            doubled = session.execute(
                select(StanceChange.article_id, StanceChange.country)
                .group_by(StanceChange.article_id, StanceChange.country, StanceChange.kind)
                .having(func.count() > 1)
            ).all()
            country_level = session.scalar(
                select(func.count())
                .select_from(StanceChange)
                .where(StanceChange.kind != EVENT_STANCE_CHANGED)
            )
        assert doubled == []
        assert country_level == len(COUNTRIES)  # each country's current stance moved once: null → supports
        assert scalar(stack_sessions, select(func.count()).select_from(OutboxEvent)) == events
        ok = [d.msg_id for d in receiver.deliveries if d.status < 300]
        assert all(d.verified for d in receiver.deliveries)
        assert sorted(Counter(ok).values(), reverse=True)[:1] == [1], "a webhook-id arrived twice"
        assert len(ok) == events

    # Both processes took part (their JSON logs name the tasks they ran).
    for name in ("w1", "w2"):
        assert "workers.ingest_tasks" in processes.log(name), f"{name} ran no ingest task"


def test_a_second_beat_refuses_to_start(processes: Processes, stack_sessions: Any) -> None:
    first = processes.start("beat-1", celery_beat_argv())
    wait_until(lambda: "Sending due task" in processes.log("beat-1"), 60, "the first beat", processes.logs)
    second = processes.start("beat-2", celery_beat_argv())
    wait_until(lambda: second.poll() is not None, 60, "the second beat to exit", processes.logs)
    assert second.returncode != 0
    assert "another beat scheduler is running" in processes.log("beat-2")
    assert first.poll() is None, "the first beat must keep running"


class SlowReceiver:
    """Accepts webhooks but answers only after ``delay`` seconds (or when stopped)."""

    def __init__(self, delay: float) -> None:
        self.in_flight = 0
        self.started = 0
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.started += 1
                receiver.in_flight += 1
                receiver.released.wait(delay)
                receiver.in_flight -= 1
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up first

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_webhook_receiver_does_not_hold_up_polling(
    processes: Processes, stack_sessions: Any, stack_settings: Settings, newsroom: Newsroom
) -> None:
    receiver = SlowReceiver(delay=30)
    try:
        subscribe(stack_sessions, stack_settings, receiver.url)
        # The compose layout: polling/fetching in one worker, delivery (2 threads) in another.
        env = {"STANCEWATCH_WEBHOOK_TIMEOUT": "40"}
        processes.start(
            "worker",
            [*celery_worker_argv(concurrency=2, queues="sweep,poll,fetch", pool=None), "-n", "ingest@%h"],
            **env,
        )
        processes.start(
            "worker-deliver",
            [*celery_worker_argv(concurrency=2, queues="deliver", pool="threads"), "-n", "deliver@%h"],
            **env,
        )
        processes.start("beat", celery_beat_argv(), **env)
        # Three feeds of stance articles make many events; every delivery thread gets stuck on the receiver.
        add_feeds(stack_sessions, [f"{newsroom.base}/feed/{f}.xml" for f in range(3)], interval=1)
        wait_until(lambda: receiver.in_flight >= 2, 90, "both delivery threads stuck", processes.logs)
        clock = f"/feed/{newsroom.feeds - 1}.xml"
        add_feeds(stack_sessions, [newsroom.base + clock], interval=1)

        # Polling goes on (the interval-1 feed is fetched again and again) while deliveries are stuck.
        wait_until(lambda: newsroom.hits[clock] >= 4, 60, "four polls of a feed added later", processes.logs)
        # Each of the two delivery threads may have a batch of BATCH_CONCURRENCY sends hanging on it.
        limit = 2 * BATCH_CONCURRENCY + 2
        assert receiver.in_flight >= 1 and receiver.started <= limit, "the receiver was not slow after all"
        pending = scalar(
            stack_sessions,
            select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending"),
        )
        assert pending > 2, "deliveries were not held up, so this test showed nothing"
    finally:
        receiver.stop()
