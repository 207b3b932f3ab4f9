"""The Atom feed: valid for feedparser (no bozo), newest first, filterable like the page."""

from __future__ import annotations

import feedparser


def test_atom_feed_parses_cleanly_and_lists_nicaragua(client, seeded):
    response = client.get("/changes.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    titles = [e.title for e in feed.entries]
    assert titles[0].startswith("Nicaragua") and any(t.startswith("Belarus") for t in titles)
    ni = feed.entries[0]
    assert "blamed Ukraine" in ni.summary
    assert ni.link.endswith(f"/articles/{seeded['article'].id}/diff?to=2")
    assert len({e.id for e in feed.entries}) == len(feed.entries) == 4


def test_atom_feed_filters(client, seeded):
    feed = feedparser.parse(client.get("/changes.atom?country=BY").get_data())
    assert not feed.bozo and [e.title for e in feed.entries] == ["Belarus: none → supports"]
    assert "Belarus" in feed.feed.title
    assert client.get("/changes.atom?stance=nope").status_code == 400


def test_empty_atom_feed_is_valid(client):
    feed = feedparser.parse(client.get("/changes.atom").get_data())
    assert not feed.bozo and feed.entries == []
