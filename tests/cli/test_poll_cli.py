"""``stancewatch poll --once`` against a loopback site: the JSON contract, text output and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from pytest_httpserver import HTTPServer
from werkzeug import Response

from services.cli import main

pytestmark = pytest.mark.db

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": db_url,
        "STANCEWATCH_DATA_DIR": str(tmp_path),
        "STANCEWATCH_ALLOW_PRIVATE_URLS": "1",
    }


@pytest.fixture
def pages() -> dict[str, str]:
    return {"/story/1": (PAGES / "article_a.html").read_text()}


@pytest.fixture
def site(httpserver: HTTPServer, pages: dict[str, str]) -> HTTPServer:
    feed = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>T</title>"
        f"<item><guid>g1</guid><title>Geneva</title><link>{httpserver.url_for('/story/1')}</link></item>"
        "</channel></rss>"
    )
    httpserver.expect_request("/feed.xml").respond_with_data(feed, content_type="application/rss+xml")
    httpserver.expect_request("/broken.xml").respond_with_data("oops", status=500)
    httpserver.expect_request(re.compile("/story/.*")).respond_with_handler(
        lambda request: Response(pages[request.path], content_type="text/html")
    )
    return httpserver


def cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def poll_json(env: dict[str, str], *extra: str) -> dict:
    result = cli(env, "poll", "--once", "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # warnings go to stderr


def test_poll_once_json_contract(env, site, pages) -> None:
    assert cli(env, "feeds", "add", site.url_for("/feed.xml"), "--interval", "1").exit_code == 0
    assert cli(env, "feeds", "add", site.url_for("/broken.xml"), "--interval", "1").exit_code == 0
    report = poll_json(env)
    assert set(report) == {"feeds", "articles_checked", "new_versions", "changes", "webhooks_sent"}
    ok, broken = report["feeds"]
    assert set(ok) == {"id", "url", "status", "new_entries", "new_versions", "error"}
    assert (ok["status"], ok["new_entries"], ok["new_versions"], ok["error"]) == ("ok", 1, 1, None)
    assert broken["status"] == "error" and "500" in broken["error"]
    assert report["new_versions"] == 1 and isinstance(report["changes"], int)

    # Nothing is due right after: the broken feed backs off, the good one waits its interval.
    assert poll_json(env)["feeds"] == []

    # --all ignores schedules; the page changed, so the re-check stores version 2.
    pages["/story/1"] = (PAGES / "article_edited.html").read_text()
    report = poll_json(env, "--all")
    assert len(report["feeds"]) == 2
    assert report["articles_checked"] == 1 and report["new_versions"] == 1


def test_poll_once_text_table(env, site) -> None:
    cli(env, "feeds", "add", site.url_for("/feed.xml"))
    cli(env, "feeds", "add", site.url_for("/broken.xml"))
    result = cli(env, "poll", "--once")
    assert result.exit_code == 0, result.output
    assert "STATUS" in result.output and "VERSIONS" in result.output
    assert "error: HTTP 500" in result.output
    assert "2 feeds polled" in result.output


def test_poll_without_once_is_a_usage_error(env) -> None:
    result = cli(env, "poll")
    assert result.exit_code == 2 and "--once" in result.output and "Traceback" not in result.output


def test_poll_with_no_feeds(env) -> None:
    assert poll_json(env) == {
        "feeds": [],
        "articles_checked": 0,
        "new_versions": 0,
        "changes": 0,
        "webhooks_sent": 0,
    }
    assert "no feed due" in cli(env, "poll", "--once").output


def test_poll_once_sends_the_webhooks_its_changes_cause(env: dict[str, str]) -> None:
    """With no worker running (cron), one pass stores the seed, records its stances and alerts."""
    from support_receiver import WebhookReceiver

    from services.demo import NewsSite

    site = NewsSite()
    try:
        with WebhookReceiver() as receiver:
            added = cli(env, "webhooks", "add", receiver.url, "--country", "NI", "--format", "json")
            assert added.exit_code == 0, added.output
            receiver.secret = json.loads(added.stdout)["secret"]
            assert cli(env, "feeds", "add", f"{site.base}/feed.xml").exit_code == 0
            first = poll_json(env)
            assert first["changes"] > 0 and first["webhooks_sent"] == 0  # Nicaragua is not in v1

            site.publish(2)
            second = poll_json(env, "--all")
            assert second["webhooks_sent"] == 2  # stance.changed and country.stance_changed
            receiver.wait_for(2, timeout=5)
            assert all(d.verified for d in receiver.deliveries)
            assert {d.payload["type"] for d in receiver.deliveries} == {
                "stance.changed",
                "country.stance_changed",
            }
            assert {d.payload["data"]["country"] for d in receiver.deliveries} == {"NI"}
    finally:
        site.stop()
