"""The same task delivered twice by the broker (same message, same task id, published twice): no duplicate
rows, no duplicate webhooks. No beat runs here, so every task the worker sees is one the test published.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

import pytest
from celery import Celery
from sqlalchemy import select

from services.models import Article, Feed, WebhookDelivery

from .conftest import (
    BELARUS,
    FRANCE,
    INDIA,
    NewsSite,
    PrivateRedis,
    Receiver,
    article_html,
    rss,
    stancewatch,
    wait_until,
)
from .helpers import (
    changes_seen,
    counts,
    db_session,
    delivered_count,
    describe,
    duplicates,
    msg_ids,
    new_secret,
)

pytestmark = pytest.mark.timeout(180)


def publish_twice(broker: Celery, name: str, args: list[int], queue: str) -> str:
    task_id = str(uuid.uuid4())
    for _ in range(2):
        broker.send_task(name, args=args, task_id=task_id, queue=queue)
    return task_id


def test_duplicated_messages_do_nothing_twice(
    private_db: str, private_redis: PrivateRedis, news_site: NewsSite, receiver: Receiver, service_factory
) -> None:
    service = service_factory(private_db, private_redis.url)
    news_site.put("/a1", article_html("Allies", [BELARUS, FRANCE]))
    news_site.put("/feed.xml", rss(news_site, [("a1", "/a1", "Allies")]), "application/rss+xml")
    receiver.secret = new_secret()
    receiver.mode = "slow"  # keeps each delivery in flight while its duplicate arrives
    receiver.slow_seconds = 1.0
    receiver.start()
    assert (
        stancewatch(service.env, "feeds", "add", news_site.url("/feed.xml"), "--interval", "3600").returncode
        == 0
    )
    assert (
        stancewatch(service.env, "webhooks", "add", receiver.url, "--secret", receiver.secret).returncode == 0
    )
    with db_session(private_db) as session:
        feed_id = session.scalar(select(Feed.id))
    assert feed_id is not None

    broker = Celery("duplicates", broker=private_redis.url)
    published: list[str] = []

    def twice(name: str, args: list[Any], queue: str) -> None:
        published.append(publish_twice(broker, name, args, queue))

    def drained() -> bool:
        # Both copies of every message published so far have run.
        log = service.full_log()
        return all(log.count(f"[{task_id}] succeeded") >= 2 for task_id in published)

    try:
        service.start("worker")
        twice("workers.ingest_tasks.poll_feed", [feed_id], "poll")
        wait_until(
            lambda: delivered_count(private_db) == 4,
            60,
            "the 4 webhooks of the first version",
            diagnose=lambda: describe(private_db) + service.logs(),
        )
        with db_session(private_db) as session:
            article_id = session.scalar(select(Article.id))
        assert article_id is not None

        # The page changes while the receiver fails, so the new deliveries stay pending; the check arrives
        # twice (single and batch task), and so does every delivery task and the dispatch.
        receiver.mode, receiver.status = "status", 500
        news_site.put("/a1", article_html("Allies", [BELARUS, INDIA]))
        twice("workers.ingest_tasks.check_article", [article_id], "fetch")
        twice("workers.ingest_tasks.check_articles", [[article_id]], "fetch")
        wait_until(
            lambda: counts(private_db)["deliveries"] == 7,
            60,
            "the 3 deliveries of the edit",
            diagnose=lambda: describe(private_db) + service.logs(),
        )
        with db_session(private_db) as session:
            all_ids = list(session.scalars(select(WebhookDelivery.id).order_by(WebhookDelivery.id)))
        for delivery_id in all_ids:
            twice("workers.delivery_tasks.deliver", [delivery_id], "deliver")
        twice("workers.delivery_tasks.deliver_batch", [all_ids], "deliver")
        twice("workers.delivery_tasks.dispatch_outbox", [], "deliver")
        twice("workers.ingest_tasks.poll_feed", [feed_id], "poll")
        wait_until(drained, 60, "the duplicated tasks to run", diagnose=service.logs)

        # The receiver recovers; the sweep (beat) takes the retries from the database.
        receiver.mode = "ok"
        service.start("beat")
        wait_until(
            lambda: delivered_count(private_db) == 7,
            60,
            "the edit's 3 webhooks",
            diagnose=lambda: describe(private_db) + service.logs(),
        )
    finally:
        broker.close()

    assert duplicates(private_db) == {"versions": [], "changes": [], "deliveries": []}
    rows = counts(private_db)
    assert rows["versions"] == 2 and rows["changes"] == rows["events"] == rows["deliveries"] == 7, rows
    assert len(changes_seen(private_db)) == 7
    # Every request the receiver saw is one recorded attempt (no send happened twice for one attempt),
    # and each event was accepted exactly once.
    assert len(receiver.received) == rows["attempts"], (len(receiver.received), rows["attempts"])
    accepted = Counter(r.msg_id for r in receiver.received if r.status == 200)
    assert set(accepted) == msg_ids(private_db)
    assert all(n == 1 for n in accepted.values()), f"a webhook was accepted twice: {accepted}"
