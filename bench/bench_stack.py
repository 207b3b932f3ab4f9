"""Benchmark of the production stack on this machine: local PostgreSQL and Redis, the real celery worker
and beat processes (the commands the containers run).

Part 1, steady state: N feeds (default 2,000) at a 5-minute interval, next_check_at spread evenly across
the interval, served by a loopback site that answers 304 to conditional GETs (every 50th feed ignores
them and sends its unchanged feed again, as some sites do). The worker (all queues, one process per core)
and beat run for --duration seconds at the real interval, no compression: the poll rate is the real
N/300 per second. Reported: the worker's CPU (utime+stime of the worker and its pool children from
/proc/<pid>/stat) as % of one core, beat's CPU, and the queue latency (a feed's next_check_at → the
poll's start, read from the database).

Part 2, throughput: a burst of new articles (--burst feeds × 10 articles, each page with a
government's stance) taken by one worker process, then by two worker processes (as on two machines,
one pool process each). Reported: articles/s from the burst's start to the last article's first
version.

    .venv/bin/python bench/bench_stack.py                 # full run: about 5 minutes
    .venv/bin/python bench/bench_stack.py --duration 60   # shorter steady-state window
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import redis  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402

from services.cli.run import celery_beat_argv, celery_worker_argv  # noqa: E402
from services.config import Settings  # noqa: E402
from services.db import make_engine, make_session_factory, utcnow  # noqa: E402
from services.metrics_registry import QUEUE_NAMES  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.models import Article, ArticleVersion, Feed  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
FILLER = (
    "The city council met on Tuesday to discuss the budget for the coming year, and residents asked "
    "questions about the new transit line, the library and the harbour works. "
)
COUNTRIES = ("Nicaragua", "Venezuela", "Syria", "Eritrea", "Cuba", "Iran")


class Site:
    """Loopback news site: /s/<i>.xml steady feeds (304 on If-None-Match), /b/<run>/<f>.xml burst feeds."""

    def __init__(self) -> None:
        self.counts = {"200": 0, "304": 0}
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = self.path.strip("/").split("/")
                etag = None
                if parts[0] == "s":
                    index = int(parts[1].removesuffix(".xml"))
                    etag = '"steady-v1"'
                    if index % 50 != 0 and self.headers.get("If-None-Match") == etag:
                        site.counts["304"] += 1
                        self.send_response(304)
                        self.send_header("ETag", etag)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    body, ctype = site.feed(f"s{index}", []), "application/rss+xml"
                elif parts[0] == "b" and len(parts) == 3:
                    run, f = parts[1], int(parts[2].removesuffix(".xml"))
                    links = [f"{site.base}/b/{run}/{f}/{k}" for k in range(10)]
                    body, ctype = site.feed(f"b{run}-{f}", links), "application/rss+xml"
                elif parts[0] == "b":
                    body, ctype = site.page(int(parts[2]), int(parts[3])), "text/html; charset=utf-8"
                else:
                    self.send_error(404)
                    return
                site.counts["200"] += 1
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def feed(self, name: str, links: list[str]) -> str:
        items = "".join(
            f"<item><title>Report {link}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{formatdate(1767225600 + i * 60)}</pubDate></item>"
            for i, link in enumerate(links)
        )
        return (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
            f"<link>{self.base}/</link><description>bench</description>{items}</channel></rss>"
        )

    def page(self, f: int, k: int) -> str:
        country = COUNTRIES[(f * 10 + k) % len(COUNTRIES)]
        stance = f"{country}'s government said it supports Russia's decision to invade Ukraine and blamed NATO for the war."
        paragraphs = [f"Report {f}-{k}. " + FILLER * 2, FILLER + stance, FILLER * 3]
        body = "".join(f"<p>{p}</p>" for p in paragraphs)
        return (
            f"<html><head><title>Report {f}-{k}</title></head><body><nav>Home</nav>"
            f"<article><h1>Report {f}-{k}</h1>{body}</article><footer>News</footer></body></html>"
        )


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (read from /proc/*/stat's ppid)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [p for p, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and its live descendants."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / CLK_TCK


class Stack:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.procs = env, log_dir, []

    def start(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with (self.log_dir / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        self.procs = []


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.25)


def steady_state(args: argparse.Namespace, site: Site, sessions: Any, stack: Stack) -> dict[str, float]:
    interval = args.interval
    now = utcnow()
    with sessions.begin() as session:
        session.add_all(
            Feed(
                url=f"{site.base}/s/{i}.xml",
                interval_seconds=interval,
                status="not_modified",
                etag='"steady-v1"',
                # Spread evenly across one interval, starting a little ahead so the window sees steady state.
                next_check_at=now + timedelta(seconds=5 + interval * i / args.feeds),
            )
            for i in range(args.feeds)
        )
    worker = stack.start(
        "steady-worker", celery_worker_argv(concurrency=None, queues=",".join(QUEUE_NAMES), pool=None)
    )
    beat = stack.start("steady-beat", celery_beat_argv())
    time.sleep(args.warmup)
    window_start = utcnow()
    with sessions() as session:
        due = dict(session.execute(select(Feed.id, Feed.next_check_at)).all())
    cpu0, beat0, t0 = cpu_seconds(worker.pid), cpu_seconds(beat.pid), time.monotonic()
    counts0 = dict(site.counts)
    time.sleep(args.duration)
    cpu1, beat1, t1 = cpu_seconds(worker.pid), cpu_seconds(beat.pid), time.monotonic()
    counts1 = dict(site.counts)
    window_end = utcnow()
    stack.stop()

    latencies = []
    with sessions() as session:
        for feed_id, polled in session.execute(select(Feed.id, Feed.last_polled_at)).all():
            scheduled = due.get(feed_id)
            if polled and scheduled and window_start <= scheduled <= polled <= window_end:
                latencies.append((polled - scheduled).total_seconds())
    latencies.sort()
    elapsed = t1 - t0
    polls = (counts1["200"] - counts0["200"]) + (counts1["304"] - counts0["304"])
    return {
        "elapsed_s": elapsed,
        "polls": polls,
        "polls_per_s": polls / elapsed,
        "share_304": (counts1["304"] - counts0["304"]) / max(1, polls),
        "worker_cpu_pct_of_one_core": 100 * (cpu1 - cpu0) / elapsed,
        "beat_cpu_pct_of_one_core": 100 * (beat1 - beat0) / elapsed,
        "latency_n": len(latencies),
        "latency_p50_s": statistics.median(latencies) if latencies else float("nan"),
        "latency_p95_s": latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan"),
        "latency_max_s": latencies[-1] if latencies else float("nan"),
    }


def burst(
    args: argparse.Namespace, site: Site, sessions: Any, stack: Stack, workers: int, run: str
) -> dict[str, float]:
    # Only the burst feeds are enabled; the steady feeds are switched off so they do not compete.
    with sessions.begin() as session:
        session.execute(text("UPDATE feeds SET enabled = false"))
    expected = args.burst * 10
    stack.start(f"burst-{run}-beat", celery_beat_argv())
    for w in range(workers):
        argv = celery_worker_argv(concurrency=1, queues=",".join(QUEUE_NAMES), pool=None)
        stack.start(f"burst-{run}-worker{w}", [*argv, "-n", f"bench{w}@%h"])
    time.sleep(args.warmup)  # both workers connected and idle
    start = utcnow()
    t0 = time.monotonic()
    with sessions.begin() as session:
        session.add_all(
            Feed(url=f"{site.base}/b/{run}/{f}.xml", interval_seconds=3600, next_check_at=start)
            for f in range(args.burst)
        )

    def versions() -> int:
        with sessions() as session:
            return session.scalar(
                select(func.count(func.distinct(ArticleVersion.article_id)))
                .join(Article, Article.id == ArticleVersion.article_id)
                .join(Feed, Feed.id == Article.feed_id)
                .where(Feed.url.like(f"{site.base}/b/{run}/%"))
            )

    wait_for(lambda: versions() >= expected, 600, f"{expected} burst articles")
    elapsed = time.monotonic() - t0
    stack.stop()
    return {
        "workers": workers,
        "articles": expected,
        "elapsed_s": elapsed,
        "articles_per_s": expected / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--feeds", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=300)
    parser.add_argument("--duration", type=float, default=150.0, help="steady-state measuring window (s)")
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--burst", type=int, default=30, help="burst feeds (10 new articles each)")
    args = parser.parse_args()

    name = f"sw_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    database_url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
    log_dir = REPO / "bench" / "results" / name
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STANCEWATCH_", "PROMETHEUS_"))}
    env.update(
        DATABASE_URL=database_url,
        BROKER_URL=args.redis,
        STANCEWATCH_DATA_DIR=str(log_dir / "data"),
        STANCEWATCH_ALLOW_PRIVATE_URLS="1",
        STANCEWATCH_LOG_FORMAT="json",
        PYTHONUNBUFFERED="1",
    )
    settings = Settings.from_env(env)
    upgrade(settings)
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    broker = redis.Redis.from_url(args.redis)
    broker.delete(*QUEUE_NAMES)  # only our queues: other db-0 users keep their keys
    site = Site()
    stack = Stack(env, log_dir)
    try:
        print(
            f"machine: {os.cpu_count()} cores; PostgreSQL {args.postgres.rsplit('@', 1)[-1]}, Redis {args.redis}"
        )
        steady = steady_state(args, site, sessions, stack)
        print(
            f"steady state: {args.feeds} feeds every {args.interval} s, {steady['elapsed_s']:.0f} s window: "
            f"{steady['polls']} polls ({steady['polls_per_s']:.2f}/s, {100 * steady['share_304']:.0f}% 304), "
            f"worker CPU {steady['worker_cpu_pct_of_one_core']:.1f}% of one core, "
            f"beat CPU {steady['beat_cpu_pct_of_one_core']:.1f}%; queue latency (due → poll start) "
            f"p50 {steady['latency_p50_s']:.2f} s, p95 {steady['latency_p95_s']:.2f} s, "
            f"max {steady['latency_max_s']:.2f} s (n={steady['latency_n']})"
        )
        for workers, run in ((1, "one"), (2, "two")):
            broker.delete(*QUEUE_NAMES)
            result = burst(args, site, sessions, stack, workers, run)
            print(
                f"burst: {result['articles']} new articles with {workers} worker process(es): "
                f"{result['elapsed_s']:.1f} s, {result['articles_per_s']:.1f} articles/s"
            )
    finally:
        stack.stop()
        site.server.shutdown()
        broker.delete(*QUEUE_NAMES)
        broker.close()
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"logs: {log_dir}")


if __name__ == "__main__":
    main()
