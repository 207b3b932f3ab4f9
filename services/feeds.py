"""Parse fetched feed bytes into plain data (feedparser does the parsing; nothing here touches the network)."""

from __future__ import annotations

import calendar
import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import feedparser

from services.errors import ParseError

logger = logging.getLogger(__name__)

# feedparser marks these "bozo" but still hands back everything it could read.
_MAX_WARNING_CHARS = 500


@dataclass(frozen=True, slots=True)
class EntryData:
    """One feed entry, reduced to what ingestion needs."""

    key: str  # identity inside the feed: guid/id, else link, else hash of title and date
    title: str | None
    link: str | None
    published: datetime | None
    updated: datetime | None
    summary: str | None  # HTML as the feed gave it (feedparser-sanitised)
    content: str | None  # the longest full-content body, if the feed carries one
    fingerprint: str  # changes when the entry's title, dates or summary change


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed: its title and link, its entries, and feedparser's warning if the XML was not clean."""

    title: str | None
    link: str | None
    version: str | None
    entries: tuple[EntryData, ...]
    bozo_warning: str | None = None
    skipped_entries: int = 0


def _datetime(parsed: Any) -> datetime | None:
    if not parsed:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def entry_key(guid: str | None, link: str | None, title: str | None, date: datetime | None) -> str | None:
    """The identity of an entry: its guid, else its link, else a hash of title and date (None if none)."""
    if guid:
        return guid
    if link:
        return link
    if title or date:
        digest = hashlib.sha256(f"{title or ''}\x00{date.isoformat() if date else ''}".encode()).hexdigest()
        return f"sha256:{digest}"
    return None


def entry_fingerprint(
    title: str | None, published: datetime | None, updated: datetime | None, summary: str | None
) -> str:
    """sha256 over the fields that change when a publisher edits an entry."""
    parts = [
        title or "",
        published.isoformat() if published else "",
        updated.isoformat() if updated else "",
        summary or "",
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def _entry(raw: Any) -> EntryData | None:
    title = _text(raw.get("title"))
    link = _text(raw.get("link"))
    guid = _text(raw.get("id"))
    published = _datetime(raw.get("published_parsed"))
    # dict.get: FeedParserDict would map a missing updated_parsed to published_parsed (with a warning).
    updated = _datetime(dict.get(raw, "updated_parsed"))
    summary = _text(raw.get("summary"))
    contents = [c.get("value") for c in raw.get("content") or [] if c.get("value")]
    content = max(contents, key=len) if contents else None
    key = entry_key(guid, link, title, published or updated)
    if key is None:
        if not (summary or content):
            return None
        # Nothing names the entry; its body is all there is to tell it apart.
        key = "sha256:" + hashlib.sha256((content or summary or "").encode("utf-8")).hexdigest()
    return EntryData(
        key=key,
        title=title,
        link=link,
        published=published,
        updated=updated,
        summary=summary,
        content=content,
        fingerprint=entry_fingerprint(title, published, updated, summary),
    )


def parse_feed(content: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse feed bytes; a bozo feed is parsed as far as it goes and its warning kept.

    :raise ParseError: when nothing in ``content`` can be read as a feed.
    """
    response_headers = {k.lower(): v for k, v in (headers or {}).items()}
    # Content-Location lets feedparser resolve relative links against the URL we actually fetched.
    response_headers.setdefault("content-location", url)
    parsed = feedparser.parse(
        content, response_headers=response_headers, resolve_relative_uris=True, sanitize_html=True
    )
    warning = None
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = (f"{type(exc).__name__}: {exc}" if exc is not None else "malformed feed")[
            :_MAX_WARNING_CHARS
        ]
    version = parsed.get("version") or None
    meta = parsed.get("feed") or {}
    raw_entries = parsed.get("entries") or []
    if not raw_entries and not version:
        raise ParseError(
            url, f"not a feed: {warning}" if warning else "not a feed (no RSS, Atom or RDF found)"
        )
    entries: list[EntryData] = []
    seen: set[str] = set()
    skipped = 0
    for raw in raw_entries:
        try:
            entry = _entry(raw)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # One broken entry must not cost the others; the feed fails only if every entry does.
            logger.warning("skipping unreadable entry feed=%s error=%r", url, exc)
            entry = None
        if entry is None:
            skipped += 1
            continue
        if entry.key in seen:  # feeds repeat an entry now and then; the first one wins
            continue
        seen.add(entry.key)
        entries.append(entry)
    if raw_entries and not entries:
        detail = f"none of {len(raw_entries)} entries has an id, link, title, date or body"
        raise ParseError(url, f"no usable entries: {detail}" + (f" ({warning})" if warning else ""))
    return ParsedFeed(
        title=_text(meta.get("title")),
        link=_text(meta.get("link")),
        version=version,
        entries=tuple(entries),
        bozo_warning=warning,
        skipped_entries=skipped,
    )
