"""Untrusted article text: escaped everywhere (pages, diff, Atom); CSP and friends on every response."""

from __future__ import annotations

import feedparser
import pytest
from factories import make_article, make_change, make_feed, make_version

from services.types import Stance
from web import CSP

SCRIPT = "<script>alert(1)</script>"
EVIL_TITLE = f'Allies {SCRIPT} <img src=x onerror="alert(2)">'
EVIL_URL = "javascript:alert(3)"


@pytest.fixture
def evil(session):
    feed = make_feed(session, title=f"Feed {SCRIPT}")
    article = make_article(session, feed, title=EVIL_TITLE, url=EVIL_URL)
    v1 = make_version(session, article, 1, "Minsk said nothing.", url=EVIL_URL)
    v2 = make_version(session, article, 2, f"Minsk said {SCRIPT} again. <b>bold</b>", url=EVIL_URL)
    change = make_change(
        session,
        v2,
        "BY",
        None,
        Stance.SUPPORTS,
        from_version=v1,
        evidence_after=f'Officials in Minsk said {SCRIPT} and <a href="javascript:alert(4)">click</a>.',
        evidence_before=f"before {SCRIPT}",
    )
    session.commit()
    return {"article": article, "change": change}


@pytest.mark.parametrize(
    "path",
    ["/", "/countries/BY", "/articles/{id}", "/articles/{id}/diff?from=1&to=2", "/feeds", "/?country=BY"],
)
def test_pages_escape_untrusted_text(client, evil, path):
    page = client.get(path.format(id=evil["article"].id)).get_data(as_text=True)
    assert "<script>alert" not in page
    assert "onerror=" not in page.replace("onerror=&#34;", "").replace("onerror=&quot;", "")
    assert 'href="javascript:' not in page.lower() and "href='javascript:" not in page.lower()
    assert "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page or (path == "/feeds" and "&lt;script&gt;" in page)


def test_article_link_only_for_http_urls(client, evil, session):
    page = client.get(f"/articles/{evil['article'].id}").get_data(as_text=True)
    assert EVIL_URL in page  # shown as text, so a person sees what the feed said
    assert f'href="{EVIL_URL}"' not in page
    feed = make_feed(session, url="http://127.0.0.1:1/ok.xml")
    good = make_article(session, feed, key="ok", url="https://news.example/a")
    session.commit()
    assert 'href="https://news.example/a"' in client.get(f"/articles/{good.id}").get_data(as_text=True)


def test_atom_escapes_untrusted_text(client, evil):
    body = client.get("/changes.atom").get_data(as_text=True)
    assert "<script>" not in body and "<b>" not in body
    feed = feedparser.parse(body)
    assert not feed.bozo
    entry = feed.entries[0]
    # Text, not markup: a reader shows the characters and runs nothing.
    assert entry.summary_detail.type == "text/plain"
    assert SCRIPT in entry.summary and "javascript:alert(4)" in entry.summary
    assert not any(link.href.lower().startswith("javascript:") for link in entry.links)


def test_api_returns_untrusted_text_as_json_data(client, evil):
    response = client.get("/api/changes")
    assert response.mimetype == "application/json"
    assert SCRIPT in response.get_json()["changes"][0]["evidence"]["after"]


@pytest.mark.parametrize(
    "path", ["/", "/api/changes", "/changes.atom", "/nope", "/api/nope", "/healthz", "/metrics"]
)
def test_security_headers_everywhere(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    assert "'unsafe-inline'" not in CSP


def test_pages_have_no_inline_scripts_or_styles(client, evil):
    for path in (
        "/",
        "/countries/BY",
        f"/articles/{evil['article'].id}/diff?from=1&to=2",
        "/webhooks",
        "/feeds",
    ):
        page = client.get(path).get_data(as_text=True)
        assert "<script" not in page and "<style" not in page and " style=" not in page, path
        assert " onclick=" not in page and " onload=" not in page, path


def test_unknown_paths_are_html_404_and_json_404_under_api(client):
    page = client.get("/nope")
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/api/nope")
    assert api.status_code == 404 and api.get_json()["error"]["status"] == 404
    wrong_method = client.put("/api/changes")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["error"]["status"] == 405
