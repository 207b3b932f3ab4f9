"""Delivery throughput: N pending deliveries sent to a loopback receiver from one worker process.

    .venv/bin/python bench/bench_delivery.py [--deliveries 2000] [--threads 1] [--database-url URL]

Each delivery goes through the real path a ``deliver`` task takes (``attempt_delivery``: lease in a
short transaction, sign with ``standardwebhooks``, POST, record the attempt in a short transaction),
with one HTTP client for the process so connections are reused. ``--threads`` runs that many
senders in the one process (Celery's threads pool). The receiver verifies every signature; the
run fails if any delivery did not verify. Target: at least 200 webhooks/s.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


from support_receiver import WebhookReceiver  # noqa: E402

from services.config import Settings  # noqa: E402
from services.db import make_engine, make_session_factory, utcnow  # noqa: E402
from services.delivery import attempt_delivery, dispatch_events, make_webhook_client  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.models import OutboxEvent, WebhookDelivery  # noqa: E402
from services.subscriptions import create_subscription  # noqa: E402

TARGET_PER_SECOND = 200.0


def run_receiver(
    secret: str, urls: multiprocessing.Queue, results: multiprocessing.Queue, expected: int
) -> None:
    # In its own process: the receiver's parsing and verification must not share the sender's GIL.
    with WebhookReceiver(secret=secret) as receiver:
        urls.put(receiver.url)
        with contextlib.suppress(TimeoutError):
            receiver.wait_for(expected, timeout=600)
        results.put((len(receiver.deliveries), sum(1 for d in receiver.deliveries if not d.verified)))


def payload(n: int) -> dict:
    return {
        "type": "stance.changed",
        "timestamp": "2022-02-27T14:03:00Z",
        "data": {
            "change_id": n,
            "country": "NI",
            "country_name": "Nicaragua",
            "target": "Russia",
            "from": None,
            "to": "supports",
            "article": {"id": 1, "url": "https://news.example/allies", "title": "Allies", "version": 2},
            "evidence": {
                "before": None,
                "after": "Nicaragua's President Daniel Ortega backed the recognition.",
            },
            "detected_at": "2022-02-27T14:03:00Z",
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="senders in this one process")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(database_url=url, data_dir=Path(tmp), allow_private_urls=True)
        upgrade(settings)
        engine = (
            make_engine(url, pool_size=max(5, args.threads + 2))
            if not url.startswith("sqlite")
            else make_engine(url)
        )
        session_factory = make_session_factory(engine)
        secret = "whsec_" + "QmVuY2htYXJrU2VjcmV0S2V5MDEyMzQ1Njc4OUFCQ0RFRg=="
        urls: multiprocessing.Queue = multiprocessing.Queue()
        results: multiprocessing.Queue = multiprocessing.Queue()
        receiver = multiprocessing.Process(target=run_receiver, args=(secret, urls, results, args.deliveries))
        receiver.start()
        receiver_url = urls.get(timeout=30)
        with session_factory.begin() as session:
            create_subscription(session, receiver_url, settings=settings, secret=secret)
            session.add_all(
                OutboxEvent(
                    msg_id=f"msg_bench_{n}", type="stance.changed", payload=payload(n), created_at=utcnow()
                )
                for n in range(args.deliveries)
            )
        ids: list[int] = []
        with session_factory.begin() as session:
            for _ in range(args.deliveries // 500 + 2):  # bounded: 500 events per dispatch batch
                batch = dispatch_events(session, now=utcnow())
                if not batch:
                    break
                ids.extend(batch)
        assert len(ids) == args.deliveries, (len(ids), args.deliveries)

        with make_webhook_client(settings) as client:

            def send(delivery_id: int) -> str:
                return attempt_delivery(session_factory, client, delivery_id, settings, now=utcnow()).status

            started = time.perf_counter()
            if args.threads == 1:
                statuses = [send(i) for i in ids]
            else:
                with ThreadPoolExecutor(args.threads) as pool:
                    statuses = list(pool.map(send, ids))
            elapsed = time.perf_counter() - started

        received, unverified = results.get(timeout=60)
        receiver.join(timeout=10)
        with session_factory() as session:
            delivered = session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "delivered")
            )
        engine.dispose()

    rate = args.deliveries / elapsed
    backend = "postgresql" if url.startswith("postgresql") else "sqlite"
    print(
        f"delivered {delivered}/{args.deliveries} webhooks in {elapsed:.2f} s from one process "
        f"({args.threads} sender thread(s), {backend}): {rate:.0f} webhooks/s "
        f"(target >= {TARGET_PER_SECOND:.0f}/s); received {received}, unverified {unverified}; "
        f"outcomes: { {s: statuses.count(s) for s in set(statuses)} }"
    )
    ok = delivered == received == args.deliveries and not unverified and rate >= TARGET_PER_SECOND
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
