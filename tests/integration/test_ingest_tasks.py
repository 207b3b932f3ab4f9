"""The ingestion tasks: called directly with a real database, and run by a real Celery worker on Redis."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Response

from services.config import Settings
from services.db import make_engine, make_session_factory
from services.ingest import add_feed
from services.models import Article, ArticleVersion, Feed

pytestmark = pytest.mark.db

PAGE = (Path(__file__).resolve().parent.parent / "data" / "pages" / "article_a.html").read_text()


def serve_site(httpserver: HTTPServer, entries: int) -> None:
    items = "".join(
        f"<item><guid>s{i}</guid><title>Story {i}</title><link>{httpserver.url_for(f'/story/{i}')}</link></item>"
        for i in range(entries)
    )
    httpserver.expect_request("/feed.xml").respond_with_data(
        f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>",
        content_type="application/rss+xml",
    )
    httpserver.expect_request(re.compile(r"/story/\d+")).respond_with_handler(
        lambda request: Response(PAGE.replace("Geneva", f"Geneva {request.path}"), content_type="text/html")
    )


@pytest.fixture
def task_settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from workers.app import app

    monkeypatch.setitem(app.conf, "stancewatch_settings", settings)
    return settings


def test_tasks_called_directly(task_settings, session_factory, httpserver: HTTPServer) -> None:
    from workers import ingest_tasks

    serve_site(httpserver, 3)
    with session_factory.begin() as session:
        feed_id = add_feed(session, httpserver.url_for("/feed.xml"), interval=60, settings=task_settings).id
    result = ingest_tasks.poll_feed.run(feed_id)
    assert (result["status"], result["new_entries"], result["new_versions"]) == ("ok", 3, 3)
    with session_factory() as session:
        article_id = session.scalar(select(Article.id).order_by(Article.id))
    assert ingest_tasks.check_article.run(article_id)["status"] in {"unchanged", "not_modified"}
    # Idempotent: running the same poll again (a redelivered message) adds nothing.
    again = ingest_tasks.poll_feed.run(feed_id)
    assert again["new_entries"] == 0 and again["new_versions"] == 0
    assert ingest_tasks.poll_feed.run(987654)["status"] == "missing"
    assert ingest_tasks.check_article.run(987654)["status"] == "missing"


def test_task_retry_policy_is_for_transient_errors_only() -> None:
    from sqlalchemy.exc import OperationalError

    from services.errors import FetchError, TransientFetchError
    from workers import ingest_tasks

    for task in (ingest_tasks.poll_feed, ingest_tasks.check_article):
        assert set(task.autoretry_for) == {OperationalError, TransientFetchError}
        assert FetchError not in task.autoretry_for
        assert task.retry_backoff and task.retry_jitter


@pytest.mark.redis
@pytest.mark.integration
@pytest.mark.slow
def test_celery_workers_on_redis_poll_without_duplicates(
    db_url: str, redis_url: str, tmp_path: Path, httpserver: HTTPServer, repo_root: Path
) -> None:
    from workers.app import create_celery

    entries = 10
    serve_site(httpserver, entries)
    settings = Settings(database_url=db_url, broker_url=redis_url, allow_private_urls=True, data_dir=tmp_path)
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        feed_id = add_feed(session, httpserver.url_for("/feed.xml"), interval=60, settings=settings).id
    env = dict(
        os.environ,
        DATABASE_URL=db_url,
        BROKER_URL=redis_url,
        STANCEWATCH_ALLOW_PRIVATE_URLS="1",
        STANCEWATCH_DATA_DIR=str(tmp_path),
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "--pool=prefork",
            "--concurrency=2",
            "-Q",
            "poll,fetch",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "WARNING",
        ],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client_app = create_celery(settings)
    try:
        # The same feed twice at once: two worker processes race on it.
        for _ in range(2):
            client_app.send_task("workers.ingest_tasks.poll_feed", args=[feed_id])
        deadline = time.monotonic() + 60
        versions = 0
        while time.monotonic() < deadline:
            with factory() as session:
                versions = session.scalar(select(func.count(ArticleVersion.id)))
                polled = session.scalar(select(Feed.last_success_at).where(Feed.id == feed_id))
            if versions >= entries and polled is not None:
                break
            if worker.poll() is not None:
                pytest.fail(f"worker exited: {worker.stdout.read()[-2000:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # let the second poll finish too
        with factory() as session:
            assert session.scalar(select(func.count(Article.id))) == entries
            assert session.scalar(select(func.count(ArticleVersion.id))) == entries
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        engine.dispose()


def test_batch_check_task(task_settings, session_factory, httpserver: HTTPServer) -> None:
    from workers import ingest_tasks

    serve_site(httpserver, 4)
    with session_factory.begin() as session:
        feed_id = add_feed(session, httpserver.url_for("/feed.xml"), interval=60, settings=task_settings).id
    ingest_tasks.poll_feed.run(feed_id)
    with session_factory() as session:
        ids = list(session.scalars(select(Article.id)))
    result = ingest_tasks.check_articles.run([*ids, 424242])
    assert result == {"checked": 4, "new_versions": 0, "changes": 0, "errors": 0}
