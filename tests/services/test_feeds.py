"""Parsing fetched feed bytes: identity, fingerprints, bozo feeds, encodings, and what is not a feed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.errors import ParseError
from services.feeds import entry_fingerprint, entry_key, parse_feed

FEEDS = Path(__file__).resolve().parent.parent / "data" / "feeds"
RSS = {"content-type": "application/rss+xml; charset=utf-8"}


def load(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


def test_rss_entries_identity_and_dedup() -> None:
    feed = parse_feed(load("rss_basic.xml"), url="http://example.test/feed.xml", headers=RSS)
    assert feed.title == "Basic News" and feed.version == "rss20" and feed.bozo_warning is None
    keys = [e.key for e in feed.entries]
    # guid, then link, then a hash of title and date; the repeated guid appears once
    assert keys[0] == "story-1"
    assert keys[1] == "http://example.test/a/2"
    assert keys[2].startswith("sha256:")
    assert len(keys) == 3
    first = feed.entries[0]
    assert first.title == "First story" and first.summary == "Summary of the first story."
    assert first.published == datetime(2022, 2, 26, 14, 0, tzinfo=UTC)
    assert first.link == "http://example.test/a/1?utm_source=rss"


def test_atom_content_and_relative_links() -> None:
    feed = parse_feed(
        load("atom_content.xml"),
        url="http://example.test/atom.xml",
        headers={"content-type": "application/atom+xml"},
    )
    (entry,) = feed.entries
    assert entry.key == "urn:entry:1"
    assert entry.link == "http://example.test/relative/1"
    assert entry.content is not None and "full body" in entry.content
    assert "<script" not in entry.content  # feedparser sanitises
    assert entry.updated == datetime(2022, 2, 26, 14, 0, tzinfo=UTC)


def test_bozo_feed_is_parsed_as_far_as_it_goes() -> None:
    feed = parse_feed(load("bozo_unclosed.xml"), url="http://example.test/broken.xml", headers=RSS)
    assert feed.bozo_warning
    assert feed.entries and feed.entries[0].title == "Readable entry"


def test_encoding_comes_from_the_response_headers() -> None:
    feed = parse_feed(
        load("latin1_no_decl.xml"),
        url="http://example.test/l.xml",
        headers={"content-type": "application/rss+xml; charset=iso-8859-1"},
    )
    assert feed.title == "Café News"
    assert feed.entries[0].title == "Crème brûlée"


@pytest.mark.parametrize("name", ["not_a_feed.html", "empty_file.xml"])
def test_nothing_parseable_raises_parse_error(name: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed(load(name), url=f"http://example.test/{name}", headers={"content-type": "text/html"})
    assert "not a feed" in info.value.message
    assert info.value.url == f"http://example.test/{name}"


def test_a_valid_feed_without_entries_is_fine() -> None:
    feed = parse_feed(load("empty_channel.xml"), url="http://example.test/e.xml", headers=RSS)
    assert feed.entries == () and feed.title == "Quiet"


def test_entries_without_ids_are_named_by_title_date_or_body() -> None:
    feed = parse_feed(load("no_ids.xml"), url="http://example.test/n.xml", headers=RSS)
    assert len(feed.entries) == 2  # the empty item has nothing to name it by
    assert all(e.key.startswith("sha256:") for e in feed.entries)
    assert feed.skipped_entries == 1


def test_entry_key_order() -> None:
    date = datetime(2022, 2, 26, tzinfo=UTC)
    assert entry_key("guid", "http://x/", "t", date) == "guid"
    assert entry_key(None, "http://x/", "t", date) == "http://x/"
    assert entry_key(None, None, "t", date) == entry_key(None, None, "t", date)
    assert entry_key(None, None, "t", date) != entry_key(None, None, "t", None)
    assert entry_key(None, None, None, None) is None


def test_fingerprint_changes_with_title_dates_and_summary() -> None:
    date = datetime(2022, 2, 26, tzinfo=UTC)
    base = entry_fingerprint("t", date, None, "s")
    assert base == entry_fingerprint("t", date, None, "s")
    assert base != entry_fingerprint("t2", date, None, "s")
    assert base != entry_fingerprint("t", date, date, "s")
    assert base != entry_fingerprint("t", date, None, "s2")
