#!/usr/bin/env python3
"""Ingestion benchmark on a loopback newsroom (bench/newsroom_local.py, the peers' newsroom).

Measures, in this process (the newsroom runs in its own process so its CPU is not counted):
  - end-to-end articles/s for a first poll where every article is new (fetch, extract, hash, store);
  - CPU per re-check of an unchanged article (same bytes: stops before extraction);
  - CPU per poll of an unchanged feed answered 304;
  - a page-only update caught on the next re-check;
  - peak RSS of the process.
CPU is time.process_time() (user + system of this process); each figure is the median of --rounds.
Runs on SQLite (a temporary file) and, with --postgres URL, on PostgreSQL too.

    .venv/bin/python bench/bench_ingest.py [--n 200] [--rounds 3] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text, update  # noqa: E402

from services.config import Settings  # noqa: E402
from services.db import make_engine, make_session_factory, utcnow  # noqa: E402
from services.fetch import make_fetch_client  # noqa: E402
from services.ingest import add_feed  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.models import Article, ArticleVersion  # noqa: E402
from services.polling import check_article, check_articles, poll_feed  # noqa: E402

PEERS = {"changedetection.io 0.60.10": 11.0, "diffengine 0.2.7": 17.0}  # ms CPU per unchanged re-check


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_newsroom(n: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "bench" / "newsroom_local.py"),
            "--port",
            str(port),
            "--n",
            str(n),
            "--max-seconds",
            "900",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/_control/health", timeout=1).read()
            return proc, base
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("newsroom did not start")


def run(label: str, database_url: str, base: str, n: int, rounds: int) -> dict[str, float]:
    settings = Settings(
        database_url=database_url, allow_private_urls=True, data_dir=Path(tempfile.gettempdir())
    )
    upgrade(settings)
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    client = make_fetch_client(settings)
    try:
        urllib.request.urlopen(
            urllib.request.Request(base + "/_control/reset", method="POST"), timeout=5
        ).read()
        with factory.begin() as session:
            feed_id = add_feed(session, f"{base}/feed.xml", interval=600, settings=settings).id

        wall, new_cpu = time.perf_counter(), time.process_time()
        outcome = poll_feed(factory, client, feed_id, settings, now=utcnow())
        wall, new_cpu = time.perf_counter() - wall, time.process_time() - new_cpu
        assert outcome.new_entries == n and outcome.new_versions == n, outcome
        new_rate = n / wall

        with factory() as session:
            article_ids = list(session.scalars(select(Article.id).order_by(Article.id)))
        # A pass over due articles, as `poll --once` and a sweep batch run it.
        recheck_ms = []
        for _ in range(rounds):
            cpu = time.process_time()
            results = check_articles(factory, client, article_ids, settings, now=utcnow())
            recheck_ms.append((time.process_time() - cpu) / len(article_ids) * 1000)
            assert len(results) == n and all(r.status == "unchanged" for r in results), results[:3]
        # One article at a time, as one Celery check_article task does it.
        single_ms = []
        for _ in range(rounds):
            cpu = time.process_time()
            for article_id in article_ids:
                result = check_article(factory, client, article_id, settings, now=utcnow())
                assert result.status == "unchanged", result
            single_ms.append((time.process_time() - cpu) / len(article_ids) * 1000)

        feed_ms = []
        polls = max(n, 100)
        for _ in range(rounds):
            cpu = time.process_time()
            for _ in range(polls):
                assert poll_feed(factory, client, feed_id, settings, now=utcnow()).status == "not_modified"
            feed_ms.append((time.process_time() - cpu) / polls * 1000)

        # A page-only update (the feed does not show it) is caught by the next re-check.
        urllib.request.urlopen(
            urllib.request.Request(base + "/_control/mutate?id=3", method="POST"), timeout=5
        )
        with factory() as session:
            target = session.scalar(select(Article.id).where(Article.url == f"{base}/article/3"))
        caught = check_article(factory, client, target, settings, now=utcnow())
        assert caught.status == "new" and caught.version_number == 2, caught
        with factory() as session:
            versions = session.scalar(select(func.count(ArticleVersion.id)))
            assert versions == n + 1, versions
            session.execute(update(Article).values(current_version_id=None))
            session.commit()
    finally:
        client.close()
        engine.dispose()
    figures = {
        "articles_per_s_all_new": round(new_rate, 1),
        "all_new_cpu_ms_per_article": round(new_cpu / n * 1000, 2),
        "recheck_unchanged_cpu_ms": round(statistics.median(recheck_ms), 3),
        "recheck_unchanged_single_cpu_ms": round(statistics.median(single_ms), 3),
        "feed_304_cpu_ms": round(statistics.median(feed_ms), 3),
    }
    print(
        f"[{label}] {n} articles, all new: {figures['articles_per_s_all_new']} articles/s end to end "
        f"({figures['all_new_cpu_ms_per_article']} ms CPU each)"
    )
    ratios = ", ".join(
        f"{name} {ms:g} ms: {ms / figures['recheck_unchanged_cpu_ms']:.0f}x less"
        for name, ms in PEERS.items()
    )
    print(
        f"[{label}] unchanged article re-check in a pass (poll --once): {figures['recheck_unchanged_cpu_ms']} ms CPU "
        f"(target <= 1.5; peers from shared/bench/README.md: {ratios})"
    )
    print(
        f"[{label}] unchanged article re-check alone (one check_article task): "
        f"{figures['recheck_unchanged_single_cpu_ms']} ms CPU"
    )
    print(f"[{label}] unchanged feed poll answered 304: {figures['feed_304_cpu_ms']} ms CPU (target <= 2)")
    print(f"[{label}] page-only update caught as version 2 on the next re-check")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200, help="articles in the newsroom")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (a scratch database is made)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    args = parser.parse_args()
    proc, base = start_newsroom(args.n)
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results["sqlite"] = run("sqlite", f"sqlite:///{tmp}/bench.db", base, args.n, args.rounds)
        if args.postgres:
            name = f"sw_bench_{os.getpid()}_{secrets.token_hex(3)}"
            admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
                results["postgres"] = run("postgres", url, base, args.n, args.rounds)
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"peak RSS of this process: {peak_mb:.0f} MB (aim < 100; changedetection.io 123-131 MB, diffengine 49-53 MB)"
    )
    if args.json:
        print(json.dumps({"results": results, "peak_rss_mb": round(peak_mb, 1)}))


if __name__ == "__main__":
    main()
