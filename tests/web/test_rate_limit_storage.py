"""Rate limits are shared between web processes when there is a Redis to count in."""

import pytest

from services.config import Settings
from web import create_app


@pytest.mark.redis
def test_limits_are_counted_in_redis_when_the_broker_is_redis(settings: Settings, redis_url: str) -> None:
    import dataclasses

    app = create_app(
        dataclasses.replace(settings, broker_url=redis_url), config={"API_RATE_LIMIT": "3 per minute"}
    )
    other = create_app(
        dataclasses.replace(settings, broker_url=redis_url), config={"API_RATE_LIMIT": "3 per minute"}
    )
    assert app.config["RATELIMIT_STORAGE_URI"] == redis_url
    # Two apps stand for two gunicorn workers: together they allow the limit once, not twice.
    statuses = [
        (app if i % 2 else other)
        .test_client()
        .get("/api/feeds", environ_base={"REMOTE_ADDR": "127.0.0.9"})
        .status_code
        for i in range(6)
    ]
    assert statuses.count(429) >= 3, statuses
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("LIMITS*127.0.0.9*"):
        client.delete(key)


def test_limits_stay_in_memory_without_redis(settings: Settings) -> None:
    assert create_app(settings).config["RATELIMIT_STORAGE_URI"] == "memory://"


def test_proxy_count_takes_the_client_address_from_forwarded_for(settings: Settings) -> None:
    app = create_app(settings, config={"PROXY_COUNT": 1})
    seen = {}

    @app.get("/_whoami")
    def whoami() -> str:
        from flask import request

        seen["addr"] = request.remote_addr
        return "ok"

    app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.7"})
    assert seen["addr"] == "203.0.113.7"
