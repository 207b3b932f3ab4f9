"""The periodic sweep: read what is due from the database and ring the doorbell for it.

Claims push ``next_check_at`` / ``locked_until`` forward before enqueueing, so a duplicated sweep or
a second beat enqueues nothing twice, and a lost message only delays the work until its lease ends.
"""

from __future__ import annotations

import logging

from services.db import utcnow
from workers.app import app
from workers.context import session_factory, settings

logger = logging.getLogger(__name__)


class _QuietSweeps(logging.Filter):
    """Drop Celery's received/succeeded lines for the sweep, which runs several times a second;
    what a sweep enqueued is logged by the sweep itself, and its failures still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.INFO or "workers.sweep.sweep[" not in record.getMessage()


for _name in ("celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).addFilter(_QuietSweeps())

CLAIM_LIMIT = 500
ARTICLE_BATCH = 64


@app.task(name="workers.sweep.sweep", ignore_result=True, acks_late=False)
def sweep() -> dict[str, int]:
    """Enqueue due feed polls, article re-checks, undispatched events and due deliveries."""
    from services import delivery, ingest
    from services.outbox import has_undispatched_events
    from workers import delivery_tasks, ingest_tasks

    now = utcnow()
    with session_factory().begin() as session:
        # A claim is a lease: if the task is lost (worker killed, message dropped), the row is due
        # again when the lease ends. It must outlast one fetch (the fetch timeout caps that).
        lease = settings().claim_lease
        feed_ids = ingest.claim_due_feeds(session, now=now, limit=CLAIM_LIMIT, lease_seconds=lease)
        article_ids = ingest.claim_due_articles(session, now=now, limit=CLAIM_LIMIT, lease_seconds=lease)
        delivery_ids = delivery.claim_due_deliveries(session, now=now, limit=CLAIM_LIMIT)
        undispatched = has_undispatched_events(session)
    for feed_id in feed_ids:
        ingest_tasks.poll_feed.delay(feed_id)
    # Batches: a worker re-checks a batch for about a third of the CPU of single tasks (one session,
    # pages fetched concurrently); a lone article keeps the single-task path.
    for start in range(0, len(article_ids), ARTICLE_BATCH):
        batch = article_ids[start : start + ARTICLE_BATCH]
        if len(batch) == 1:
            ingest_tasks.check_article.delay(batch[0])
        else:
            ingest_tasks.check_articles.delay(batch)
    delivery_tasks.enqueue_deliveries(delivery_ids)
    if undispatched:
        delivery_tasks.dispatch_outbox.delay()
    counts = {"feeds": len(feed_ids), "articles": len(article_ids), "deliveries": len(delivery_ids)}
    if any(counts.values()):
        logger.info("sweep enqueued", extra=counts)
    return counts
