"""Versions of an article: content hash, word-level diff, and whether a new text looks broken."""

from __future__ import annotations

import difflib
import hashlib
import re
from typing import Any

from services.text import normalize_text

# Fewer than this share of the previous text left: the page probably broke (error page, paywall).
SUSPECT_SHRINK_RATIO = 0.3
# Texts shorter than this are too small to judge a shrink by.
SUSPECT_MIN_PREVIOUS_CHARS = 200
# A text this short that carries a paywall/error phrase is that page, not the article.
SUSPECT_MARKER_MAX_CHARS = 1500
# Above this many tokens, difflib's autojunk keeps the diff fast; below it, the diff is exact.
_EXACT_DIFF_MAX_TOKENS = 20_000

_MARKERS = re.compile(
    r"subscribe (now )?to (continue|keep) reading|subscribers? only|for subscribers|"
    r"to continue reading,? (please )?(log ?in|sign ?in|subscribe)|already a subscriber|"
    r"this (content|article) is (only )?(available|reserved) (to|for) (subscribers|members)|paywall|"
    r"\b(403|404|500|502|503)\b.{0,20}\b(forbidden|not found|error|unavailable|bad gateway)\b|"
    r"page (was )?not found|page (you requested )?(could not|cannot|can't) be found|access denied|"
    r"internal server error|service (temporarily )?unavailable|are you a robot|verify you are (a )?human|"
    r"enable javascript( and cookies)? to continue|checking your browser",
    re.IGNORECASE,
)
_TOKENS = re.compile(r"\S+\s*|\s+")


def content_hash(text: str) -> str:
    """sha256 (hex) of the normalised text: equal hashes mean the same version."""
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def raw_hash(content: bytes) -> str:
    """sha256 (hex) of fetched bytes: equal to the last fetch means nothing to extract."""
    return hashlib.sha256(content).hexdigest()


def diff_words(old: str, new: str) -> list[dict[str, Any]]:
    """Word-level diff as JSON-able ops ``{"op": "equal"|"delete"|"insert", "text": ...}``.

    Each token keeps its trailing whitespace, so joining the ``equal`` and ``delete`` texts gives
    ``old`` back and joining ``equal`` and ``insert`` gives ``new``; a replacement is a delete then an insert.
    """
    a = _TOKENS.findall(old)
    b = _TOKENS.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > _EXACT_DIFF_MAX_TOKENS)
    ops: list[dict[str, Any]] = []

    def add(op: str, tokens: list[str]) -> None:
        if not tokens:
            return
        text = "".join(tokens)
        if ops and ops[-1]["op"] == op:
            ops[-1]["text"] += text
        else:
            ops.append({"op": op, "text": text})

    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            add("equal", a[i1:i2])
        else:
            add("delete", a[i1:i2])
            add("insert", b[j1:j2])
    return ops


def diff_stats(ops: list[dict[str, Any]]) -> dict[str, int]:
    """Words inserted and deleted by a diff (for summaries)."""
    stats = {"inserted": 0, "deleted": 0}
    for op in ops:
        if op["op"] == "insert":
            stats["inserted"] += len(op["text"].split())
        elif op["op"] == "delete":
            stats["deleted"] += len(op["text"].split())
    return stats


def suspect_reason(previous_text: str | None, new_text: str) -> str | None:
    """Why ``new_text`` looks like a broken fetch rather than an edit (None when it looks fine).

    A suspect version is kept and flagged; it does not become the article's current text and
    produces no stance changes.
    """
    stripped = new_text.strip()
    if not stripped:
        return "empty text"
    if len(stripped) <= SUSPECT_MARKER_MAX_CHARS:
        marker = _MARKERS.search(stripped)
        if marker and (previous_text is None or len(stripped) < len(previous_text.strip())):
            return f"looks like a paywall or error page ({marker.group(0)!r})"
    if previous_text is not None:
        before = len(previous_text.strip())
        if before >= SUSPECT_MIN_PREVIOUS_CHARS and len(stripped) < before * SUSPECT_SHRINK_RATIO:
            return f"most of the text is gone ({len(stripped)} of {before} characters left)"
    return None
