"""Redis stopped for 30 s, PostgreSQL restarted: the worker and beat processes carry on by themselves and
the updates published during the outage are caught afterwards, each alerted exactly once.
"""

from __future__ import annotations

import time

import pytest

from .conftest import (
    BELARUS,
    FRANCE,
    INDIA,
    NICARAGUA,
    NewsSite,
    PrivatePostgres,
    PrivateRedis,
    Receiver,
    article_html,
    rss,
    stancewatch,
    wait_until,
)
from .helpers import counts, delivered_count, describe, duplicates, msg_ids, new_secret

pytestmark = pytest.mark.timeout(300)


def start_service(service, news_site: NewsSite, receiver: Receiver, db: str) -> None:  # type: ignore[no-untyped-def]
    news_site.put("/a1", article_html("Allies", [BELARUS, FRANCE]))
    news_site.put("/feed.xml", rss(news_site, [("a1", "/a1", "Allies")]), "application/rss+xml")
    receiver.secret = new_secret()
    receiver.start()
    assert (
        stancewatch(service.env, "feeds", "add", news_site.url("/feed.xml"), "--interval", "1").returncode
        == 0
    )
    assert (
        stancewatch(service.env, "webhooks", "add", receiver.url, "--secret", receiver.secret).returncode == 0
    )
    service.start("beat")
    service.start("worker")
    wait_until(
        lambda: delivered_count(db) == 4,
        60,
        "the first 4 webhooks",
        diagnose=lambda: describe(db) + service.logs(),
    )


def publish_update(news_site: NewsSite) -> None:
    # A new article in the feed and an edit of the old page (page-only: the feed entry does not change).
    news_site.put("/a1", article_html("Allies", [BELARUS, INDIA]))
    news_site.put("/a2", article_html("Latin America", [NICARAGUA]))
    news_site.put(
        "/feed.xml",
        rss(news_site, [("a1", "/a1", "Allies"), ("a2", "/a2", "Latin America")]),
        "application/rss+xml",
    )


def assert_caught_up(service, db: str, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    # v2 of a1 (FR dropped, IN added: 3 changes) and a2 (NI: 2 changes) on top of the first 4.
    wait_until(
        lambda: counts(db)["versions"] == 3 and delivered_count(db) == 9,
        90,
        "the updates published during the outage to be stored and alerted",
        diagnose=lambda: describe(db) + service.logs(),
    )
    assert duplicates(db) == {"versions": [], "changes": [], "deliveries": []}
    rows = counts(db)
    assert rows["changes"] == rows["events"] == rows["deliveries"] == 9, rows
    assert {i for i in receiver.ids() if i} == msg_ids(db)
    assert service.alive("worker") and service.alive("beat"), "a process died and was not restarted"


def test_redis_down_for_30_seconds(
    private_db: str, private_redis: PrivateRedis, news_site: NewsSite, receiver: Receiver, service_factory
) -> None:
    service = service_factory(private_db, private_redis.url)
    start_service(service, news_site, receiver, private_db)

    private_redis.stop()
    publish_update(news_site)
    outage_end = time.monotonic() + 30
    while time.monotonic() < outage_end:  # bounded: the outage itself
        time.sleep(1)
    assert counts(private_db)["versions"] == 1, "nothing can be polled while the broker is down"
    private_redis.start()  # same port, empty: every queued message is lost

    assert_caught_up(service, private_db, receiver)


def test_postgres_restarted(
    private_postgres: PrivatePostgres,
    private_db: str,
    private_redis: PrivateRedis,
    news_site: NewsSite,
    receiver: Receiver,
    service_factory,
) -> None:
    service = service_factory(private_db, private_redis.url)
    start_service(service, news_site, receiver, private_db)

    private_postgres.stop()
    publish_update(news_site)
    outage_end = time.monotonic() + 10
    while time.monotonic() < outage_end:  # bounded: the outage itself
        time.sleep(1)
    private_postgres.start()

    assert_caught_up(service, private_db, receiver)
