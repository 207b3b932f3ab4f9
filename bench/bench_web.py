"""Web latency on a generated PostgreSQL database: p50/p95 of the pages and API from a loopback client.

    .venv/bin/python bench/bench_web.py [--server postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--requests 300] [--keep]

Creates its own database (sw_bench_web), fills it with 10,000 articles, 30,000 versions and
100,000 changes (about 150 countries with a skewed distribution, 4 stances, 2 years), serves the app
with waitress in a separate process, measures from this process, prints the figures and the
EXPLAIN of the main queries, and drops the database (unless --keep).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import create_engine, insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services import history  # noqa: E402
from services.config import Settings  # noqa: E402
from services.migrate import upgrade  # noqa: E402
from services.models import Article, ArticleVersion, CountryStance, Feed, StanceChange  # noqa: E402
from services.types import Stance  # noqa: E402

DB_NAME = "sw_bench_web"
N_FEEDS = 20
N_ARTICLES = 10_000
VERSIONS_PER_ARTICLE = 3
N_CHANGES = 100_000
START = datetime(2022, 2, 24, tzinfo=UTC)
SPAN = timedelta(days=730)
STANCES = ["supports", "opposes", "neutral", "undeclared"]
TARGETS = {"p95_ms": {"/": 50, "/api/changes": 50, "/countries": 100}}


def countries() -> list[str]:
    import pycountry

    codes = sorted(c.alpha_2 for c in pycountry.countries if c.alpha_2 not in ("RU", "UA"))
    return codes[:150]


def generate(url: str, rng: random.Random) -> dict[str, object]:
    engine = create_engine(url)
    codes = countries()
    # Zipf-like: a few countries (the ones the news talks about) carry most changes.
    weights = [1 / (i + 1) ** 0.8 for i in range(len(codes))]
    rng.shuffle(codes)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(
            insert(Feed),
            [
                {"id": i, "url": f"https://news{i}.example/feed.xml", "title": f"News {i}", "status": "ok"}
                for i in range(1, N_FEEDS + 1)
            ],
        )
        conn.execute(
            insert(Article),
            [
                {
                    "id": a,
                    "feed_id": 1 + a % N_FEEDS,
                    "entry_key": f"e{a}",
                    "url": f"https://news{1 + a % N_FEEDS}.example/a/{a}",
                    "title": f"Article {a}: who stands where on the invasion",
                    "check_interval_seconds": 600,
                    "first_seen_at": START + SPAN * (a / N_ARTICLES),
                }
                for a in range(1, N_ARTICLES + 1)
            ],
        )
        versions = []
        version_time = {}
        for a in range(1, N_ARTICLES + 1):
            base = START + SPAN * (a / N_ARTICLES)
            for n in range(1, VERSIONS_PER_ARTICLE + 1):
                vid = (a - 1) * VERSIONS_PER_ARTICLE + n
                when = base + timedelta(hours=rng.uniform(0, 72) * (n - 1))
                version_time[vid] = when
                body = f"Article {a} version {n}. " + "Officials said things about the war. " * 8
                versions.append(
                    {
                        "id": vid,
                        "article_id": a,
                        "number": n,
                        "content_hash": hashlib.sha256(body.encode()).hexdigest(),
                        "title": f"Article {a}: who stands where on the invasion",
                        "text": body,
                        "text_extractor": "bench",
                        "fetched_at": when,
                    }
                )
        for i in range(0, len(versions), 5000):
            conn.execute(insert(ArticleVersion), versions[i : i + 5000])
        seen: set[tuple[int, str, str]] = set()
        changes = []
        while len(changes) < N_CHANGES:
            vid = rng.randint(1, N_ARTICLES * VERSIONS_PER_ARTICLE)
            cc = rng.choices(codes, weights)[0]
            kind = "country.stance_changed" if rng.random() < 0.1 else "stance.changed"
            if (vid, cc, kind) in seen:
                continue
            seen.add((vid, cc, kind))
            number = (vid - 1) % VERSIONS_PER_ARTICLE + 1
            before = None if number == 1 else rng.choice([None, *STANCES])
            after = rng.choice([*STANCES, *STANCES, None])
            changes.append(
                {
                    "kind": kind,
                    "article_id": (vid - 1) // VERSIONS_PER_ARTICLE + 1,
                    "target": "Russia",
                    "country": cc,
                    "from_stance": before,
                    "to_stance": after,
                    "from_version_id": vid - 1 if number > 1 else None,
                    "to_version_id": vid,
                    "evidence_before": None if before is None else f"Earlier, {cc} officials said something.",
                    "evidence_after": None
                    if after is None
                    else f"The government of {cc} said it {after} it.",
                    "confidence": 0.9,
                    "extractor_version": "bench",
                    "is_correction": False,
                    "detected_at": version_time[vid] + timedelta(seconds=rng.uniform(0, 5)),
                }
            )
        for i in range(0, len(changes), 5000):
            conn.execute(insert(StanceChange), changes[i : i + 5000])
        conn.execute(
            insert(CountryStance),
            [
                {"target": "Russia", "country": cc, "stance": rng.choice(STANCES), "updated_at": START + SPAN}
                for cc in codes
            ],
        )
        for table in ("feeds", "articles", "article_versions", "stance_changes", "country_stances"):
            conn.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                if table != "country_stances"
                else text("SELECT 1")
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    top = max(codes, key=lambda c: weights[codes.index(c)])
    return {"seconds": round(time.perf_counter() - t0, 1), "top_country": top, "mid_country": codes[40]}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(url: str, port: int) -> subprocess.Popen:
    env = dict(
        os.environ, DATABASE_URL=url, STANCEWATCH_WEB_RATELIMIT_ENABLED="false", BROKER_URL="memory://"
    )
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    code = (
        "import waitress; from web import create_app; "
        f"waitress.serve(create_app(), host='127.0.0.1', port={port}, threads=8, _quiet=True)"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env, cwd=str(ROOT))


def measure(client: httpx.Client, path: str, n: int) -> dict[str, float]:
    for _ in range(10):  # warm the pool and the caches
        client.get(path).raise_for_status()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        response = client.get(path)
        samples.append((time.perf_counter() - t) * 1000)
        response.raise_for_status()
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 2),
        "max_ms": round(samples[-1], 2),
        "n": n,
    }


def explain(url: str, info: dict[str, object]) -> dict[str, str]:
    """EXPLAIN ANALYZE of the queries behind the measured requests."""
    from sqlalchemy.orm import Session

    engine = create_engine(url)
    plans = {}
    with Session(engine) as session:
        deep = history.list_changes(session, limit=50)
        for _ in range(40):
            deep = history.list_changes(session, limit=50, cursor=deep.next_cursor)
        cases = {
            "first page": (history.ChangeFilter(), None),
            "country + stance filter": (
                history.ChangeFilter(country=str(info["top_country"]), stance=Stance.SUPPORTS),
                None,
            ),
            "deep cursor (page 41)": (history.ChangeFilter(), deep.next_cursor),
            "feed filter": (history.ChangeFilter(feed_id=3), None),
        }
        for name, (filt, cursor) in cases.items():
            query = history._filtered_changes(filt)
            if cursor:
                from sqlalchemy import tuple_

                before, before_id = history.decode_cursor(cursor)
                query = query.where(
                    tuple_(StanceChange.detected_at, StanceChange.id) < tuple_(before, before_id)
                )
            query = query.order_by(StanceChange.detected_at.desc(), StanceChange.id.desc()).limit(51)
            compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
            rows = (
                session.execute(text(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) {compiled}")).scalars().all()
            )
            plans[name] = "\n".join(rows)
    engine.dispose()
    return plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        default=os.environ.get(
            "STANCEWATCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    admin = create_engine(args.server, isolation_level="AUTOCOMMIT")
    url = args.server.rsplit("/", 1)[0] + f"/{DB_NAME}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    server = None
    try:
        upgrade(Settings(database_url=url))
        info = generate(url, random.Random(6))
        print(
            f"generated {N_ARTICLES} articles, {N_ARTICLES * VERSIONS_PER_ARTICLE} versions, "
            f"{N_CHANGES} changes in {info['seconds']} s",
            flush=True,
        )
        port = free_port()
        server = serve(url, port)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.get("/healthz").status_code in (200, 503):
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("the server did not start within 30 s")
                time.sleep(0.2)
            cursor = None
            for _ in range(40):  # 40 pages of 50 in: a cursor 2,000 changes deep
                cursor = client.get(
                    "/api/changes", params={"limit": 50, "cursor": cursor} if cursor else {"limit": 50}
                ).json()["next_cursor"]
            deep_filtered = None
            for _ in range(5):
                params = {"limit": 50, "stance": "opposes", "kind": "stance.changed"}
                if deep_filtered:
                    params["cursor"] = deep_filtered
                deep_filtered = client.get("/api/changes", params=params).json()["next_cursor"]
            top, mid = info["top_country"], info["mid_country"]
            paths = {
                "/": "/",
                "/ (country+stance filter)": f"/?country={top}&stance=supports",
                "/ (feed + date filter)": "/?feed=3&since=2023-01-01&until=2023-06-30",
                "/api/changes (first page)": "/api/changes",
                "/api/changes (country filter)": f"/api/changes?country={mid}",
                "/api/changes (deep cursor, page 41)": f"/api/changes?limit=50&cursor={cursor}",
                "/api/changes (deep cursor + stance/kind filters)": f"/api/changes?limit=50&stance=opposes&kind=stance.changed&cursor={deep_filtered}",
                f"/countries/{top} (busiest)": f"/countries/{top}",
                f"/countries/{mid}": f"/countries/{mid}",
            }
            results = {name: measure(client, path, args.requests) for name, path in paths.items()}
        plans = explain(url, info)
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        admin.dispose()
    print(f"{'request':55} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    ok = True
    for name, r in results.items():
        limit = 100 if name.startswith("/countries") else 50
        flag = "ok" if r["p95_ms"] < limit else f"OVER {limit}"
        ok &= r["p95_ms"] < limit
        print(f"{name:55} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} {r['max_ms']:8.2f}  {flag}")
    for name, plan in plans.items():
        print(f"\n-- EXPLAIN ANALYZE: {name}\n{plan}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "web.json").write_text(json.dumps({"results": results, "plans": plans, "info": info}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
