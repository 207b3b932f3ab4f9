"""The periodic sweep: read what is due from the database and ring the doorbell for it.

Claims push ``next_check_at`` / ``locked_until`` forward before enqueueing, so a duplicated sweep or
a second beat enqueues nothing twice, and a lost message only delays the work until its lease ends.
"""

from __future__ import annotations

import logging

from services.db import utcnow
from workers.app import app
from workers.context import session_factory

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 500


@app.task(name="workers.sweep.sweep", ignore_result=True, acks_late=False)
def sweep() -> dict[str, int]:
    """Enqueue due feed polls, article re-checks, undispatched events and due deliveries."""
    from services import delivery, ingest
    from services.outbox import has_undispatched_events
    from workers import delivery_tasks, ingest_tasks

    now = utcnow()
    with session_factory().begin() as session:
        feed_ids = ingest.claim_due_feeds(session, now=now, limit=CLAIM_LIMIT)
        article_ids = ingest.claim_due_articles(session, now=now, limit=CLAIM_LIMIT)
        delivery_ids = delivery.claim_due_deliveries(session, now=now, limit=CLAIM_LIMIT)
        undispatched = has_undispatched_events(session)
    for feed_id in feed_ids:
        ingest_tasks.poll_feed.delay(feed_id)
    for article_id in article_ids:
        ingest_tasks.check_article.delay(article_id)
    for delivery_id in delivery_ids:
        delivery_tasks.deliver.delay(delivery_id)
    if undispatched:
        delivery_tasks.dispatch_outbox.delay()
    counts = {"feeds": len(feed_ids), "articles": len(article_ids), "deliveries": len(delivery_ids)}
    if any(counts.values()):
        logger.info("sweep enqueued", extra=counts)
    return counts
