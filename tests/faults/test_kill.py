"""SIGKILL a worker in the middle of fetching, extracting and delivering: after a restart every version,
change and delivery exists exactly once, and each webhook arrives at least once under one ``webhook-id``.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

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
    delivered_count,
    describe,
    duplicates,
    expire_leases,
    msg_ids,
    new_secret,
)

pytestmark = pytest.mark.timeout(240)

EXPECTED_V1 = sorted(
    [
        ("country.stance_changed", "BY", None, "supports"),
        ("country.stance_changed", "FR", None, "opposes"),
        ("stance.changed", "BY", None, "supports"),
        ("stance.changed", "FR", None, "opposes"),
    ],
    key=repr,
)


def setup_flow(service, news_site: NewsSite, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    news_site.put("/a1", article_html("Allies", [BELARUS, FRANCE]))
    news_site.put("/feed.xml", rss(news_site, [("a1", "/a1", "Allies")]), "application/rss+xml")
    receiver.secret = new_secret()
    receiver.start()
    added = stancewatch(service.env, "feeds", "add", news_site.url("/feed.xml"), "--interval", "1")
    assert added.returncode == 0, added.stderr
    hooked = stancewatch(service.env, "webhooks", "add", receiver.url, "--secret", receiver.secret)
    assert hooked.returncode == 0, hooked.stderr


def assert_exactly_once(db: str, receiver: Receiver, expected_changes: int) -> None:
    assert duplicates(db) == {"versions": [], "changes": [], "deliveries": []}
    rows = counts(db)
    assert rows["changes"] == rows["events"] == rows["deliveries"] == expected_changes, rows
    ids = msg_ids(db)
    received = {i for i in receiver.ids() if i}
    # At least once, each under its own stable id; nothing the database does not know of.
    assert received == ids, (received, ids)


def test_worker_killed_while_fetching_a_page(
    private_db: str, private_redis: PrivateRedis, news_site: NewsSite, receiver: Receiver, service_factory
) -> None:
    service = service_factory(private_db, private_redis.url)
    setup_flow(service, news_site, receiver)
    stalled = news_site.stall("/a1")
    service.start("beat")
    service.start("worker")
    assert stalled.wait(60), "the worker never asked for the page\n" + service.logs()
    service.kill("worker")  # mid-response: the page never finished arriving
    news_site.release("/a1")
    assert counts(private_db)["versions"] == 0

    service.start("worker")
    expire_leases(private_db)  # the killed task's claim would otherwise hold the article for 300 s
    wait_until(lambda: delivered_count(private_db) >= 4, 60, "4 delivered webhooks after restart")
    assert counts(private_db)["versions"] == 1
    assert changes_seen(private_db) == EXPECTED_V1
    assert_exactly_once(private_db, receiver, 4)


def test_worker_killed_while_extracting_and_recording(
    private_db: str, private_redis: PrivateRedis, news_site: NewsSite, receiver: Receiver, service_factory
) -> None:
    service = service_factory(private_db, private_redis.url)
    setup_flow(service, news_site, receiver)
    # Hold a lock the recording transaction needs after it has stored the version and its observations:
    # the worker is then provably inside the one transaction that writes version, stances and changes.
    blocker = create_engine(private_db)
    connection = blocker.connect()
    transaction = connection.begin()
    connection.execute(text("LOCK TABLE country_stances IN ACCESS EXCLUSIVE MODE"))
    try:
        service.start("beat")
        service.start("worker")

        def worker_waits_on_lock() -> bool:
            with blocker.connect() as probe:
                return bool(
                    probe.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                            "AND datname = current_database() AND pid <> pg_backend_pid()"
                        )
                    )
                )

        wait_until(worker_waits_on_lock, 60, "the worker to block inside the recording transaction")
        service.kill("worker")
    finally:
        transaction.rollback()
        connection.close()

    def server_side_gone() -> bool:  # PostgreSQL notices the dead client and rolls its transaction back
        with blocker.connect() as probe:
            return not probe.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND (state LIKE 'idle in transaction%' OR wait_event_type = 'Lock')"
                )
            )

    wait_until(server_side_gone, 30, "PostgreSQL to roll back the killed worker's transaction")
    blocker.dispose()
    assert counts(private_db)["versions"] == 0, "a half-written version survived the crash"
    assert counts(private_db)["changes"] == 0

    service.start("worker")
    expire_leases(private_db)
    wait_until(lambda: delivered_count(private_db) >= 4, 60, "4 delivered webhooks after restart")
    assert counts(private_db)["versions"] == 1
    assert changes_seen(private_db) == EXPECTED_V1
    assert_exactly_once(private_db, receiver, 4)


def test_worker_killed_while_delivering(
    private_db: str, private_redis: PrivateRedis, news_site: NewsSite, receiver: Receiver, service_factory
) -> None:
    service = service_factory(private_db, private_redis.url, STANCEWATCH_WEBHOOK_TIMEOUT="30")
    receiver.mode = "stall"
    setup_flow(service, news_site, receiver)
    service.start("beat")
    service.start("worker")
    assert receiver.arrived.wait(60), "no webhook was sent\n" + service.logs()
    service.kill("worker")  # the receiver has the request; the sender never sees the answer
    receiver.mode = "ok"
    receiver.release()
    assert delivered_count(private_db) == 0

    service.start("worker")
    expire_leases(private_db)  # the killed attempt's send lease (timeout + 30 s)
    wait_until(lambda: delivered_count(private_db) >= 4, 60, "4 delivered webhooks after restart")
    assert_exactly_once(private_db, receiver, 4)
    ids = receiver.ids()
    assert len(ids) > len(set(ids)), "the interrupted delivery was sent again, under the same webhook-id"

    # And the flow goes on: an edit of the article is caught and alerted once.
    news_site.put("/a1", article_html("Allies", [BELARUS, INDIA]))
    wait_until(
        lambda: delivered_count(private_db) >= 7,
        60,
        "the edit's 3 webhooks",
        diagnose=lambda: describe(private_db) + "\n" + service.logs(),
    )
    assert counts(private_db)["versions"] == 2
    assert changes_seen(private_db) == sorted(
        [
            *EXPECTED_V1,
            ("stance.changed", "FR", "opposes", None),  # dropped from the article
            ("stance.changed", "IN", None, "neutral"),
            ("country.stance_changed", "IN", None, "neutral"),  # FR's own stance stays as last stated
        ],
        key=repr,
    )
    assert_exactly_once(private_db, receiver, 7)
    # The signing secret is in the database (signing needs it) and nowhere in the logs.
    assert receiver.secret and receiver.secret not in service.full_log("worker") + service.full_log("beat")
    listed = stancewatch(service.env, "webhooks", "list", "--format", "json")
    assert listed.returncode == 0 and receiver.secret not in listed.stdout
