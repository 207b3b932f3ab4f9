"""Delivery throughput: N due deliveries sent to a loopback receiver by one worker process.

    .venv/bin/python bench/bench_delivery.py [--deliveries 2000] [--backend sqlite|postgresql|both]
        [--postgres-url URL] [--single]

For each backend: N outbox events for one subscription are dispatched into N deliveries (as
``dispatch_outbox`` does), cut into batches by ``workers.delivery_tasks.plan_batches`` (what
``dispatch_outbox`` enqueues), and each batch is run through the ``deliver_batch`` task's own body,
one after the other, as one worker process with one task slot would: one transaction leases a batch,
its webhooks are signed with ``standardwebhooks`` and POSTed concurrently over the process's pooled
keep-alive client, one transaction records every attempt. ``--single`` runs every delivery through the
``deliver`` task instead (two transactions per webhook: the path a lone delivery takes).

The receiver runs in its own process and verifies every signature; a run fails unless every
delivery arrived, verified, and is marked delivered in the database. PostgreSQL gets a database of
its own on the server of ``--postgres-url`` (default: ``STANCEWATCH_TEST_POSTGRES`` or the local
server), created here and dropped at the end. Target: at least 200 webhooks/s.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]


from support_receiver import WebhookReceiver  # noqa: E402

from services.config import Settings  # noqa: E402
from services.db import utcnow  # noqa: E402
from services.delivery import dispatch_events  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.models import OutboxEvent, WebhookDelivery  # noqa: E402
from services.subscriptions import create_subscription  # noqa: E402

TARGET_PER_SECOND = 200.0
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SECRET = "whsec_" + "QmVuY2htYXJrU2VjcmV0S2V5MDEyMzQ1Njc4OUFCQ0RFRg=="


def run_receiver(urls: multiprocessing.Queue, results: multiprocessing.Queue, expected: int) -> None:
    # In its own process: the receiver's parsing and verification must not share the sender's GIL.
    with WebhookReceiver(secret=SECRET) as receiver:
        urls.put(receiver.url)
        with contextlib.suppress(TimeoutError):
            receiver.wait_for(expected, timeout=600)
        ids = [d.msg_id for d in receiver.deliveries if d.verified]
        results.put((len(receiver.deliveries), sum(1 for d in receiver.deliveries if not d.verified), ids))


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


@dataclass
class Result:
    backend: str
    deliveries: int
    dispatch_seconds: float
    send_seconds: float
    delivered: int
    received: int
    unverified: int
    missing: int
    outcomes: dict[str, int]

    @property
    def rate(self) -> float:
        return self.deliveries / self.send_seconds

    @property
    def ok(self) -> bool:
        return (
            self.delivered == self.received == self.deliveries
            and not self.unverified
            and not self.missing
            and self.rate >= TARGET_PER_SECOND
        )


def run_backend(backend: str, database_url: str, data_dir: Path, count: int, *, single: bool) -> Result:
    from workers import context, delivery_tasks
    from workers.app import app

    settings = Settings(database_url=database_url, data_dir=data_dir, allow_private_urls=True)
    upgrade(settings)
    # The tasks read their settings, engine and client from the worker's per-process context.
    app.conf.stancewatch_settings = settings
    session_factory = context.session_factory()

    urls: multiprocessing.Queue = multiprocessing.Queue()
    results: multiprocessing.Queue = multiprocessing.Queue()
    receiver = multiprocessing.Process(target=run_receiver, args=(urls, results, count))
    receiver.start()
    try:
        receiver_url = urls.get(timeout=30)
        expected_ids = {f"msg_bench_{n}" for n in range(count)}
        with session_factory.begin() as session:
            create_subscription(session, receiver_url, settings=settings, secret=SECRET)
            session.add_all(
                OutboxEvent(
                    msg_id=f"msg_bench_{n}", type="stance.changed", payload=payload(n), created_at=utcnow()
                )
                for n in range(count)
            )

        started = time.perf_counter()
        ids: list[int] = []
        for _ in range(delivery_tasks.DISPATCH_ROUNDS * (count // 500 + 1)):  # bounded: 500 per round
            with session_factory.begin() as session:
                batch = dispatch_events(session, now=utcnow())
            if not batch:
                break
            ids.extend(batch)
        dispatched = time.perf_counter()
        assert len(ids) == count, (len(ids), count)

        outcomes: dict[str, int] = {}
        if single:
            for delivery_id in ids:
                status = delivery_tasks.deliver.run(delivery_id)
                outcomes[status] = outcomes.get(status, 0) + 1
        else:
            for batch in delivery_tasks.plan_batches(ids):
                counts = (
                    delivery_tasks.deliver_batch.run(batch)
                    if len(batch) > 1
                    else {delivery_tasks.deliver.run(batch[0]): 1}
                )
                for status, n in counts.items():
                    outcomes[status] = outcomes.get(status, 0) + n
        finished = time.perf_counter()

        received, unverified, received_ids = results.get(timeout=60)
        with session_factory() as session:
            delivered = session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "delivered")
            )
    finally:
        receiver.join(timeout=10)
        if receiver.is_alive():
            receiver.terminate()
        session_factory.kw["bind"].dispose()
        context._session_factory.cache_clear()
    return Result(
        backend=backend,
        deliveries=count,
        dispatch_seconds=dispatched - started,
        send_seconds=finished - dispatched,
        delivered=int(delivered or 0),
        received=received,
        unverified=unverified,
        missing=len(expected_ids - set(received_ids)),
        outcomes=outcomes,
    )


@contextlib.contextmanager
def private_postgres(server_url: str):
    """A database of its own on ``server_url``'s server, dropped afterwards (never a shared one)."""
    name = f"sw_bench_delivery_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("STANCEWATCH_TEST_POSTGRES", DEFAULT_POSTGRES),
        help="a URL on the PostgreSQL server to use; the bench creates and drops its own database there",
    )
    parser.add_argument("--single", action="store_true", help="one deliver task per webhook, no batches")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # Before workers.app is imported: its embedded-broker folders go here, not into the project.
        os.environ["STANCEWATCH_DATA_DIR"] = tmp
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
        results = []
        for backend in backends:
            data_dir = Path(tmp) / backend
            if backend == "sqlite":
                url = f"sqlite:///{data_dir / 'bench.db'}"
                results.append(run_backend(backend, url, data_dir, args.deliveries, single=args.single))
            else:
                with private_postgres(args.postgres_url) as url:
                    results.append(run_backend(backend, url, data_dir, args.deliveries, single=args.single))

    from services.delivery import BATCH_CONCURRENCY, BATCH_SIZE

    path = (
        "deliver task per webhook"
        if args.single
        else (f"deliver_batch tasks of {BATCH_SIZE}, {BATCH_CONCURRENCY} sends in flight")
    )
    for r in results:
        print(
            f"{r.backend}: delivered {r.delivered}/{r.deliveries} webhooks in {r.send_seconds:.2f} s "
            f"from one worker process ({path}): {r.rate:.0f} webhooks/s (target >= {TARGET_PER_SECOND:.0f}/s); "
            f"with dispatch ({r.dispatch_seconds:.2f} s) {r.deliveries / (r.dispatch_seconds + r.send_seconds):.0f}/s; "
            f"received {r.received}, unverified {r.unverified}, missing {r.missing}; outcomes {r.outcomes}"
        )
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
