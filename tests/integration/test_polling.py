"""Polling and re-checking against a real loopback news site and the real database."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import func, select
from werkzeug import Request, Response

from services import polling
from services.config import Settings
from services.db import utcnow
from services.fetch import make_fetch_client
from services.ingest import add_feed
from services.models import Article, ArticleAlias, ArticleVersion, Feed
from services.polling import check_article, next_feed_delay, next_recheck, poll_feed
from services.text import FALLBACK_EXTRACTOR, TEXT_EXTRACTOR

pytestmark = pytest.mark.db

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"
PAGE_A = (PAGES / "article_a.html").read_text()
PAGE_B = (PAGES / "article_b.html").read_text()  # same article, other boilerplate
PAGE_EDITED = (PAGES / "article_edited.html").read_text()
PAYWALL = (PAGES / "paywall.html").read_text()


@dataclass
class Site:
    """A loopback news site whose resources a test changes between polls; ETags on request."""

    server: HTTPServer
    resources: dict[str, tuple[int, str, dict[str, str]]] = field(default_factory=dict)
    etags: bool = True

    def url(self, path: str) -> str:
        return self.server.url_for(path)

    def put(self, path: str, body: str, status: int = 200, **headers: str) -> None:
        self.resources[path] = (status, body, headers)

    def hits(self, path: str) -> int:
        return sum(1 for request, _ in self.server.log if request.path == path)

    def handle(self, request: Request) -> Response:
        status, body, headers = self.resources.get(request.path, (404, "not found", {}))
        headers = dict(headers)
        if self.etags and status == 200:
            etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:16]}"'
            headers.setdefault("ETag", etag)
            if request.headers.get("If-None-Match") == etag:
                return Response(status=304, headers={"ETag": etag})
        content_type = headers.pop("Content-Type", "text/html; charset=utf-8")
        return Response(body, status=status, headers=headers, content_type=content_type)


@pytest.fixture
def site(httpserver: HTTPServer) -> Site:
    s = Site(httpserver)
    httpserver.expect_request(re.compile(".*")).respond_with_handler(s.handle)
    return s


@pytest.fixture
def client(settings: Settings) -> Iterator:
    with make_fetch_client(settings) as c:
        yield c


def rss(site: Site, *items: tuple[str, str, str]) -> str:
    """An RSS feed of (guid, title, path) items."""
    body = "".join(
        f"<item><guid isPermaLink='false'>{guid}</guid><title>{title}</title><link>{site.url(path)}</link>"
        f"<description>Summary of {title}, which the feed carries for readers.</description></item>"
        for guid, title, path in items
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Loopback News</title>{body}</channel></rss>"
    )


def put_feed(site: Site, *items: tuple[str, str, str]) -> None:
    site.put("/feed.xml", rss(site, *items), **{"Content-Type": "application/rss+xml"})


def new_feed(session_factory, settings: Settings, site: Site, interval: int = 60) -> int:
    with session_factory.begin() as session:
        return add_feed(session, site.url("/feed.xml"), interval=interval, settings=settings).id


def versions(session_factory, article_id: int) -> list[ArticleVersion]:
    with session_factory() as session:
        return list(
            session.scalars(
                select(ArticleVersion)
                .where(ArticleVersion.article_id == article_id)
                .order_by(ArticleVersion.number)
            )
        )


def article(session_factory, article_id: int) -> Article:
    with session_factory() as session:
        return session.get(Article, article_id)


def feed_row(session_factory, feed_id: int) -> Feed:
    with session_factory() as session:
        return session.get(Feed, feed_id)


def only_article_id(session_factory) -> int:
    with session_factory() as session:
        (article_id,) = session.scalars(select(Article.id)).all()
        return article_id


def test_first_poll_stores_articles_versions_and_aliases(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/story/1?utm_source=rss&fbclid=x"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    now = utcnow()
    outcome = poll_feed(session_factory, client, feed_id, settings, now=now)
    assert (outcome.status, outcome.new_entries, outcome.new_versions, outcome.error) == ("ok", 1, 1, None)
    feed = feed_row(session_factory, feed_id)
    assert feed.status == "ok" and feed.title == "Loopback News" and feed.etag and feed.error_count == 0
    assert feed.last_success_at == now
    assert now + timedelta(seconds=60) <= feed.next_check_at <= now + timedelta(seconds=66)
    article_id = only_article_id(session_factory)
    (v1,) = versions(session_factory, article_id)
    assert v1.number == 1 and not v1.suspect and v1.diff is None
    assert "Foreign ministers met in Geneva" in v1.text
    assert v1.raw_html == PAGE_A.encode() and v1.text_extractor == TEXT_EXTRACTOR
    stored = article(session_factory, article_id)
    assert stored.current_version_id == v1.id and stored.raw_hash and stored.entry_key == "g1"
    assert stored.next_check_at is not None and stored.next_check_at > now
    with session_factory() as session:
        aliases = set(session.scalars(select(ArticleAlias.url)))
    assert site.url("/story/1") in aliases  # tracking parameters stripped


def test_unchanged_feed_is_answered_304_without_parsing(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert (outcome.status, outcome.new_entries, outcome.new_versions) == ("not_modified", 0, 0)
    assert feed_row(session_factory, feed_id).status == "not_modified"
    assert site.hits("/story/1") == 1  # the page is not fetched again by the feed poll


def test_page_only_update_makes_version_two_with_diff(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    article_id = only_article_id(session_factory)

    same = check_article(session_factory, client, article_id, settings, now=utcnow())
    assert same.status in {"unchanged", "not_modified"} and same.new_versions == 0
    site.put("/story/1", PAGE_B)  # other nav, ads, byline time, footer: the same text
    boiler = check_article(session_factory, client, article_id, settings, now=utcnow())
    assert boiler.status == "unchanged" and boiler.new_versions == 0
    site.put("/story/1", PAGE_EDITED)
    edited = check_article(session_factory, client, article_id, settings, now=utcnow())
    assert (edited.status, edited.version_number, edited.new_versions) == ("new", 2, 1)
    _v1, v2 = versions(session_factory, article_id)
    assert article(session_factory, article_id).current_version_id == v2.id
    assert {"op": "insert", "text": "on prisoner exchanges "} in v2.diff or any(
        op["op"] == "insert" and "prisoner exchanges" in op["text"] for op in v2.diff
    )


def test_ab_flip_makes_no_endless_versions(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    article_id = only_article_id(session_factory)
    statuses = []
    for page in [PAGE_EDITED, PAGE_A, PAGE_EDITED, PAGE_A, PAGE_EDITED]:
        site.put("/story/1", page)
        statuses.append(check_article(session_factory, client, article_id, settings, now=utcnow()).status)
    assert statuses == ["new", "reverted", "reverted", "reverted", "reverted"]
    _v1, v2 = versions(session_factory, article_id)
    assert article(session_factory, article_id).current_version_id == v2.id


def test_suspect_version_is_kept_flagged_and_not_current(site, session_factory, settings, client) -> None:
    calls: list[int] = []

    def hook(session, version) -> int:
        calls.append(version.number)
        return 2

    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    first = poll_feed(session_factory, client, feed_id, settings, now=utcnow(), on_new_version=hook)
    assert first.changes == 2 and calls == [1]
    article_id = only_article_id(session_factory)
    site.put("/story/1", PAYWALL)
    outcome = check_article(session_factory, client, article_id, settings, now=utcnow(), on_new_version=hook)
    assert outcome.status == "suspect" and outcome.changes == 0
    v1, v2 = versions(session_factory, article_id)
    assert v2.suspect and "paywall" in v2.suspect_reason
    assert article(session_factory, article_id).current_version_id == v1.id
    assert calls == [1]  # no stance changes from a suspect version
    site.put("/story/1", PAGE_A)  # the page recovers: nothing new
    assert check_article(session_factory, client, article_id, settings, now=utcnow()).status == "unchanged"
    assert len(versions(session_factory, article_id)) == 2


def test_hook_failure_rolls_back_the_version(site, session_factory, settings, client) -> None:
    def broken(session, version) -> int:
        raise RuntimeError("stance engine bug")

    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    with pytest.raises(RuntimeError):
        poll_feed(session_factory, client, feed_id, settings, now=utcnow(), on_new_version=broken)
    article_id = only_article_id(session_factory)
    assert versions(session_factory, article_id) == []  # all or nothing
    assert article(session_factory, article_id).current_version_id is None


def test_unchanged_bytes_stop_before_extraction(site, session_factory, settings, client, monkeypatch) -> None:
    site.etags = False  # force a full body: the byte hash must do the work
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    article_id = only_article_id(session_factory)

    def no_extraction(*args, **kwargs):
        raise AssertionError("extraction ran for unchanged bytes")

    monkeypatch.setattr(polling, "extract_text", no_extraction)
    outcome = check_article(session_factory, client, article_id, settings, now=utcnow())
    assert outcome.status == "unchanged"


def test_feed_failures_back_off_and_recover(site, session_factory, settings, client) -> None:
    feed_id = new_feed(session_factory, settings, site, interval=10)
    site.put("/feed.xml", "boom", status=500)
    now = utcnow()
    outcome = poll_feed(session_factory, client, feed_id, settings, now=now)
    assert outcome.status == "error" and "500" in outcome.error
    feed = feed_row(session_factory, feed_id)
    assert feed.status == "error" and feed.error_count == 1 and "500" in feed.last_error
    assert feed.next_check_at >= now + timedelta(seconds=20)
    poll_feed(session_factory, client, feed_id, settings, now=now)
    assert feed_row(session_factory, feed_id).next_check_at >= now + timedelta(seconds=40)
    site.put("/feed.xml", "slow down", status=429, **{"Retry-After": "3600"})
    poll_feed(session_factory, client, feed_id, settings, now=now)
    feed = feed_row(session_factory, feed_id)
    assert feed.error_count == 3 and feed.next_check_at >= now + timedelta(seconds=3600)
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    assert poll_feed(session_factory, client, feed_id, settings, now=now).status == "ok"
    feed = feed_row(session_factory, feed_id)
    assert feed.error_count == 0 and feed.last_error is None and feed.status == "ok"


def test_not_a_feed_is_a_recorded_error(site, session_factory, settings, client) -> None:
    site.put("/feed.xml", "<html><body>Just a page</body></html>")
    feed_id = new_feed(session_factory, settings, site)
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert outcome.status == "error" and "not a feed" in outcome.error
    assert "not a feed" in feed_row(session_factory, feed_id).last_error


def test_bozo_warning_is_recorded(site, session_factory, settings, client) -> None:
    site.put(
        "/feed.xml",
        "<rss version='2.0'><channel><title>B</title><item><guid>x</guid><title>T &bogus; </title>"
        "<description>Body text of the entry.</description></item></channel>",
        **{"Content-Type": "application/rss+xml"},
    )
    feed_id = new_feed(session_factory, settings, site)
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert outcome.status == "ok" and outcome.new_entries == 1
    assert feed_row(session_factory, feed_id).bozo_warning


def test_gone_disables_the_feed(site, session_factory, settings, client) -> None:
    site.put("/feed.xml", "gone", status=410)
    feed_id = new_feed(session_factory, settings, site)
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert outcome.status == "disabled"
    feed = feed_row(session_factory, feed_id)
    assert not feed.enabled and feed.status == "disabled" and "410" in feed.last_error
    assert poll_feed(session_factory, client, feed_id, settings, now=utcnow()).status == "disabled"
    assert site.hits("/feed.xml") == 1


def test_permanent_redirect_updates_the_url(site, session_factory, settings, client) -> None:
    site.put("/feed.xml", "", status=301, Location=site.url("/new-feed.xml"))
    site.put("/new-feed.xml", rss(site, ("g1", "T", "/story/1")), **{"Content-Type": "application/rss+xml"})
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    assert poll_feed(session_factory, client, feed_id, settings, now=utcnow()).status == "ok"
    assert feed_row(session_factory, feed_id).url == site.url("/new-feed.xml")


def test_temporary_redirect_keeps_the_url(site, session_factory, settings, client) -> None:
    site.put("/feed.xml", "", status=302, Location=site.url("/elsewhere.xml"))
    site.put("/elsewhere.xml", rss(site), **{"Content-Type": "application/rss+xml"})
    feed_id = new_feed(session_factory, settings, site)
    assert poll_feed(session_factory, client, feed_id, settings, now=utcnow()).status == "ok"
    assert feed_row(session_factory, feed_id).url == site.url("/feed.xml")


def test_changed_guid_same_url_stays_one_article(site, session_factory, settings, client) -> None:
    put_feed(site, ("old-guid", "Geneva talks", "/story/1?utm_campaign=a"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    put_feed(site, ("new-guid", "Geneva talks", "/story/1?utm_campaign=b#top"))
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert outcome.new_entries == 0
    with session_factory() as session:
        assert session.scalar(select(func.count(Article.id))) == 1


def test_edited_entry_is_refetched_and_window_restarts(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    article_id = only_article_id(session_factory)
    site.put("/story/1", PAGE_EDITED)
    put_feed(site, ("g1", "Geneva talks end with a statement", "/story/1"))
    later = utcnow() + timedelta(days=1)
    outcome = poll_feed(session_factory, client, feed_id, settings, now=later)
    assert (outcome.new_entries, outcome.new_versions) == (0, 1)
    stored = article(session_factory, article_id)
    assert stored.recheck_until == later + timedelta(seconds=settings.recheck_window)


def test_unreachable_page_falls_back_to_the_entry_body(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/missing"))
    feed_id = new_feed(session_factory, settings, site)
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert (outcome.new_entries, outcome.new_versions) == (1, 1)
    article_id = only_article_id(session_factory)
    (v1,) = versions(session_factory, article_id)
    assert v1.text_extractor == FALLBACK_EXTRACTOR and "Summary of Geneva talks" in v1.text
    assert "404" in article(session_factory, article_id).last_error


def test_recheck_backs_off_and_stops_after_the_window(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "Geneva talks", "/story/1"))
    site.put("/story/1", PAGE_A)
    feed_id = new_feed(session_factory, settings, site, interval=60)
    poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    article_id = only_article_id(session_factory)
    intervals = []
    for _ in range(3):
        check_article(session_factory, client, article_id, settings, now=utcnow())
        intervals.append(article(session_factory, article_id).check_interval_seconds)
    assert intervals == [120, 240, 480]
    beyond = utcnow() + timedelta(seconds=settings.recheck_window + 1)
    check_article(session_factory, client, article_id, settings, now=beyond)
    assert article(session_factory, article_id).next_check_at is None


def test_entry_without_link_is_stored_from_its_body(site, session_factory, settings, client) -> None:
    site.put(
        "/feed.xml",
        "<rss version='2.0'><channel><title>N</title><item><title>Linkless</title>"
        "<pubDate>Mon, 28 Feb 2022 09:00:00 GMT</pubDate><description>&lt;p&gt;The whole story is in the "
        "feed.&lt;/p&gt;&lt;script&gt;steal()&lt;/script&gt;</description></item></channel></rss>",
        **{"Content-Type": "application/rss+xml"},
    )
    feed_id = new_feed(session_factory, settings, site)
    outcome = poll_feed(session_factory, client, feed_id, settings, now=utcnow())
    assert outcome.new_versions == 1
    article_id = only_article_id(session_factory)
    (v1,) = versions(session_factory, article_id)
    assert v1.text == "The whole story is in the feed."
    assert article(session_factory, article_id).next_check_at is None


def test_schedule_decisions_are_pure() -> None:
    import random

    rng = random.Random(1)
    assert 600 <= next_feed_delay(600, error_count=0, rng=rng) <= 660
    assert 1200 <= next_feed_delay(600, error_count=1, rng=rng) <= 1320
    assert next_feed_delay(600, error_count=30, rng=rng) <= 24 * 3600 * 1.1
    assert next_feed_delay(10, error_count=1, retry_after=500, rng=rng) >= 500
    now = utcnow()
    assert (
        next_recheck(
            600, changed=False, feed_interval=600, max_interval=86400, now=now, recheck_until=None, rng=rng
        )[0]
        == 1200
    )
    assert (
        next_recheck(
            86400, changed=False, feed_interval=600, max_interval=86400, now=now, recheck_until=None, rng=rng
        )[0]
        == 86400
    )
    assert (
        next_recheck(
            4800, changed=True, feed_interval=600, max_interval=86400, now=now, recheck_until=None, rng=rng
        )[0]
        == 600
    )
    assert (
        next_recheck(
            600,
            changed=False,
            feed_interval=600,
            max_interval=86400,
            now=now,
            recheck_until=now + timedelta(seconds=60),
            rng=rng,
        )[1]
        is None
    )


def test_check_articles_in_a_batch(site, session_factory, settings, client) -> None:
    put_feed(site, ("g1", "One", "/story/1"), ("g2", "Two", "/story/2"), ("g3", "Three", "/story/3"))
    for path in ("/story/1", "/story/2", "/story/3"):
        site.put(path, PAGE_A.replace("Geneva", f"Geneva {path}"))
    feed_id = new_feed(session_factory, settings, site)
    assert poll_feed(session_factory, client, feed_id, settings, now=utcnow()).new_versions == 3
    with session_factory() as session:
        ids = list(session.scalars(select(Article.id).order_by(Article.id)))
    site.etags = False
    site.put("/story/2", PAGE_EDITED)
    site.put("/story/3", "gone", status=404)
    outcomes = polling.check_articles(session_factory, client, [*ids, 99999], settings, now=utcnow())
    by_id = {o.article_id: o for o in outcomes}
    assert set(by_id) == set(ids)  # the unknown id is skipped
    assert by_id[ids[0]].status == "unchanged"
    assert by_id[ids[1]].status == "new" and by_id[ids[1]].version_number == 2
    assert by_id[ids[2]].status == "error" and "404" in by_id[ids[2]].error
    assert article(session_factory, ids[0]).check_interval_seconds == 120  # backed off
    assert article(session_factory, ids[1]).check_interval_seconds == 60  # changed: back to the feed's
    assert "404" in article(session_factory, ids[2]).last_error
