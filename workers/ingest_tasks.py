"""Thin ingestion tasks: take an id, call ``services.polling``, ring the delivery doorbell after commit.

Fetch failures are not Celery retries: ``services.polling`` records them on the feed or article and
moves ``next_check_at`` back (exponential, honouring Retry-After), and the sweep picks the row up
again; multi-hour schedules never live in Celery countdowns. Celery retries (exponential backoff
with jitter) are only for transient trouble around the work itself: the database briefly unavailable
or locked. Both tasks are idempotent (articles keyed by entry, versions by content hash), which is
what makes ``acks_late`` redelivery safe.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any

import httpx
from sqlalchemy.exc import OperationalError

from services.changes import on_new_version
from services.config import Settings
from services.db import utcnow
from services.errors import NotFoundError, TransientFetchError
from services.fetch import make_fetch_client
from services.polling import check_article as check_article_service
from services.polling import check_articles as check_articles_service
from services.polling import poll_feed as poll_feed_service
from workers.app import app
from workers.context import session_factory, settings

logger = logging.getLogger(__name__)

RETRY_OPTIONS: dict[str, Any] = dict(
    autoretry_for=(OperationalError, TransientFetchError),
    retry_backoff=True,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=5,
)


@cache
def _client(pid: int, config: Settings) -> httpx.Client:
    # One pooled client per process (keyed by pid: a forked child must not share the parent's sockets).
    return make_fetch_client(config)


def fetch_client() -> httpx.Client:
    return _client(os.getpid(), settings())


def _ring_delivery() -> None:
    """Turn the committed changes' events into deliveries now, in this task: one broker hop less
    between a change and its webhook. Only the database is touched here; sending stays on the
    deliver queue. Should this fail, the sweep dispatches the events a moment later."""
    from workers.delivery_tasks import dispatch_outbox

    dispatch_outbox()


@app.task(name="workers.ingest_tasks.poll_feed", ignore_result=True, **RETRY_OPTIONS)
def poll_feed(feed_id: int) -> dict[str, Any]:
    """Poll one feed and fetch the pages of its new or changed entries."""
    try:
        outcome = poll_feed_service(
            session_factory(),
            fetch_client(),
            feed_id,
            settings(),
            now=utcnow(),
            on_new_version=on_new_version,
        )
    except NotFoundError:
        logger.info("feed removed before its poll ran feed_id=%s", feed_id)
        return {"feed_id": feed_id, "status": "missing"}
    if outcome.changes:
        _ring_delivery()
    return {
        "feed_id": feed_id,
        "status": outcome.status,
        "new_entries": outcome.new_entries,
        "new_versions": outcome.new_versions,
        "changes": outcome.changes,
        "error": outcome.error,
    }


@app.task(name="workers.ingest_tasks.check_article", ignore_result=True, **RETRY_OPTIONS)
def check_article(article_id: int) -> dict[str, Any]:
    """Re-fetch one article's page and store a new version if its text changed."""
    try:
        outcome = check_article_service(
            session_factory(),
            fetch_client(),
            article_id,
            settings(),
            now=utcnow(),
            on_new_version=on_new_version,
        )
    except NotFoundError:
        logger.info("article removed before its check ran article_id=%s", article_id)
        return {"article_id": article_id, "status": "missing"}
    if outcome.changes:
        _ring_delivery()
    return {
        "article_id": article_id,
        "status": outcome.status,
        "version": outcome.version_number,
        "changes": outcome.changes,
        "error": outcome.error,
    }


@app.task(name="workers.ingest_tasks.check_articles", ignore_result=True, **RETRY_OPTIONS)
def check_articles(article_ids: list[int]) -> dict[str, Any]:
    """Re-check a batch of articles (pages fetched concurrently): the cheap way for a sweep to re-check many."""
    outcomes = check_articles_service(
        session_factory(),
        fetch_client(),
        list(article_ids),
        settings(),
        now=utcnow(),
        on_new_version=on_new_version,
    )
    changes = sum(o.changes for o in outcomes)
    if changes:
        _ring_delivery()
    return {
        "checked": len(outcomes),
        "new_versions": sum(o.new_versions for o in outcomes),
        "changes": changes,
        "errors": sum(1 for o in outcomes if o.error),
    }
