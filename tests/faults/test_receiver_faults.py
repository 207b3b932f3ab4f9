"""A webhook receiver that is down, then slow (beyond the timeout), then answers 500, then 200: the delivery
ends delivered, every attempt is logged, and the (compressed, configured) retry schedule is followed.
"""

from __future__ import annotations

import pytest

from .conftest import (
    BELARUS,
    FRANCE,
    NewsSite,
    PrivateRedis,
    Receiver,
    article_html,
    rss,
    stancewatch,
    wait_until,
)
from .helpers import attempts_of, counts, delivered_count, delivery_msg_ids, describe, new_secret

pytestmark = pytest.mark.timeout(180)

SCHEDULE = (0.0, 3.0, 3.0, 3.0, 3.0, 3.0)
WEBHOOK_TIMEOUT = 1.0
JITTER = 0.1  # services.delivery stretches a delay by up to 10%, never shortens it
SLACK = 5.0  # sweep interval, queueing and a loaded CI machine


def test_down_then_slow_then_500_then_200(
    private_db: str, private_redis: PrivateRedis, news_site: NewsSite, receiver: Receiver, service_factory
) -> None:
    service = service_factory(
        private_db,
        private_redis.url,
        STANCEWATCH_WEBHOOK_SCHEDULE=",".join(f"{d:g}" for d in SCHEDULE),
        STANCEWATCH_WEBHOOK_TIMEOUT=f"{WEBHOOK_TIMEOUT:g}",
    )
    news_site.put("/a1", article_html("Allies", [BELARUS, FRANCE]))
    news_site.put("/feed.xml", rss(news_site, [("a1", "/a1", "Allies")]), "application/rss+xml")
    receiver.secret = new_secret()
    assert (
        stancewatch(service.env, "feeds", "add", news_site.url("/feed.xml"), "--interval", "60").returncode
        == 0
    )
    # One delivery only: Belarus's stance.changed event.
    added = stancewatch(
        service.env,
        "webhooks",
        "add",
        receiver.url,
        "--secret",
        receiver.secret,
        "--country",
        "BY",
        "--event",
        "stance.changed",
    )
    assert added.returncode == 0, added.stderr

    service.start("beat")
    service.start("worker")  # the receiver is down: nothing listens on its port yet
    wait_until(
        lambda: len(attempts_of(private_db)) >= 1,
        60,
        "the first attempt",
        diagnose=lambda: describe(private_db),
    )
    receiver.slow_seconds = WEBHOOK_TIMEOUT * 3
    receiver.script = ["slow", "500"]  # then the default: 200
    receiver.start()

    wait_until(
        lambda: delivered_count(private_db) == 1,
        60,
        "the delivery to succeed",
        diagnose=lambda: describe(private_db) + service.logs(),
    )
    assert counts(private_db)["deliveries"] == 1
    attempts = attempts_of(private_db)
    assert [(n, code) for n, code, _, _ in attempts] == [(1, None), (2, None), (3, 500), (4, 200)], attempts
    errors = [error or "" for _, _, error, _ in attempts]
    assert "connect" in errors[0].lower(), errors[0]
    assert "timeout" in errors[1].lower(), errors[1]
    assert errors[2] == "HTTP 500" and attempts[3][2] is None

    # The schedule is followed: attempt n+1 starts no earlier than schedule[n] after attempt n.
    starts = [at for _, _, _, at in attempts]
    for n in range(1, len(starts)):
        gap = (starts[n] - starts[n - 1]).total_seconds()
        assert gap >= SCHEDULE[n] - 0.05, f"attempt {n + 1} came {gap:.2f} s after attempt {n}"
        assert gap <= SCHEDULE[n] * (1 + JITTER) + WEBHOOK_TIMEOUT * 3 + SLACK, (
            f"attempt {n + 1} late: {gap:.2f} s"
        )

    # The receiver saw three requests (down for the first), all signed, all under one webhook-id.
    assert len(receiver.received) == 3
    assert all(r.verified for r in receiver.received)
    assert {r.msg_id for r in receiver.received} == delivery_msg_ids(private_db)
    assert len(delivery_msg_ids(private_db)) == 1
