"""Two or more worker processes polling one feed / checking one article at once never duplicate anything.

Real processes (multiprocessing, spawn) against real PostgreSQL (and SQLite), started together by a
barrier, fetching from one loopback site.
"""

from __future__ import annotations

import multiprocessing
import queue as queue_module
import re
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from services.config import Settings
from services.db import make_engine, make_session_factory, utcnow
from services.fetch import make_fetch_client
from services.ingest import add_feed
from services.models import Article, ArticleAlias, ArticleVersion

pytestmark = [pytest.mark.db, pytest.mark.integration]

WORKERS = 4
ENTRIES = 20
BODY = (
    "<p>Paragraph {n} of the story about the talks in Geneva, long enough that the extractor keeps it "
    "as the article's main text rather than treating it as boilerplate.</p>"
)


def _page(i: int, version: int) -> str:
    paras = "".join(BODY.format(n=n) for n in range(6))
    if version > 1:
        paras += f"<p>Update {version}: officials confirmed the figures for story {i} this morning.</p>"
    return f"<html><body><article><h1>Story {i}</h1>{paras}</article></body></html>"


def _work(kind: str, db_url: str, target: int, barrier: Any, results: Any) -> None:
    # Runs in a spawned process: its own engine, connections and HTTP client, as a worker has.
    from services.polling import check_article, poll_feed

    settings = Settings(
        database_url=db_url, allow_private_urls=True, fetch_connect_timeout=2, fetch_read_timeout=10
    )
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    try:
        with make_fetch_client(settings) as client:
            barrier.wait(timeout=60)
            if kind == "poll":
                out = poll_feed(factory, client, target, settings, now=utcnow())
                results.put(("ok", out.status, out.new_entries, out.new_versions))
            else:
                out = check_article(factory, client, target, settings, now=utcnow())
                results.put(("ok", out.status, 0, out.new_versions))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", repr(exc), 0, 0))
    finally:
        engine.dispose()


def _run_parallel(kind: str, db_url: str, target: int) -> list[tuple]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [ctx.Process(target=_work, args=(kind, db_url, target, barrier, results)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    out = []
    try:
        for _ in procs:
            out.append(results.get(timeout=120))
    except queue_module.Empty:
        pytest.fail(f"only {len(out)} of {WORKERS} workers reported: {out}")
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return out


@pytest.fixture(params=["postgres", "sqlite"])
def backend_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_url" if request.param == "postgres" else "sqlite_url")


def test_parallel_workers_never_duplicate(backend_url: str, httpserver: HTTPServer, tmp_path) -> None:
    versions = {i: 1 for i in range(ENTRIES)}

    def page(request: Request) -> Response:
        i = int(request.path.rsplit("/", 1)[1])
        return Response(_page(i, versions[i]), content_type="text/html")

    items = "".join(
        f"<item><guid>story-{i}</guid><title>Story {i}</title>"
        f"<link>{httpserver.url_for(f'/story/{i}')}?utm_source=feed</link></item>"
        for i in range(ENTRIES)
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>",
        content_type="application/rss+xml",
    )
    httpserver.expect_request(re.compile(r"/story/\d+")).respond_with_handler(page)

    settings = Settings(database_url=backend_url, allow_private_urls=True, data_dir=tmp_path)
    factory = make_session_factory(make_engine(backend_url))
    with factory.begin() as session:
        feed_id = add_feed(session, httpserver.url_for("/feed.xml"), interval=60, settings=settings).id

    polls = _run_parallel("poll", backend_url, feed_id)
    assert all(r[0] == "ok" for r in polls), polls
    assert sum(r[2] for r in polls) == ENTRIES  # each entry is new for exactly one worker
    with factory() as session:
        assert session.scalar(select(func.count(Article.id))) == ENTRIES
        assert session.scalar(select(func.count(ArticleVersion.id))) == ENTRIES
        assert session.scalar(select(func.count(ArticleAlias.id))) == ENTRIES
        article_id = session.scalar(select(Article.id).where(Article.url.like("%/story/3?%")))

    versions[3] = 2  # the page changes; every worker re-checks it at the same moment
    checks = _run_parallel("check", backend_url, article_id)
    assert all(r[0] == "ok" for r in checks), checks
    assert sorted(r[1] for r in checks).count("new") == 1, checks
    with factory() as session:
        numbers = session.scalars(
            select(ArticleVersion.number)
            .where(ArticleVersion.article_id == article_id)
            .order_by(ArticleVersion.number)
        ).all()
        assert numbers == [1, 2]
        assert session.scalar(select(func.count(ArticleVersion.id))) == ENTRIES + 1
