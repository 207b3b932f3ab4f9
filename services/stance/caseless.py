"""Case-insensitive regular expressions, run faster.

``re.IGNORECASE`` costs ``re`` 2-3x per match attempt. For a text whose characters all lower-case to one
character and that holds neither ``ı`` nor ``ſ`` (the only characters ``re.IGNORECASE`` pairs with an ASCII
letter that ``str.lower`` does not map to it), a lower-cased pattern on the lower-cased text finds exactly
the same spans; anything else falls back to the original pattern. Use it only where the caller needs
whether or where a match is, not its (lower-cased) text.
"""

from __future__ import annotations

import re

_PATTERN_SAFE = frozenset("’‘“”—–•")  # non-ASCII pattern literals that have no case
_INLINE_FLAGS = re.compile(r"\(\?[aiLmsux-]")


def lower_pattern(pattern: str) -> str:
    """Lower-case a pattern's literals but not its escapes (``\\S`` must stay ``\\S``)."""
    out = []
    escaped = False
    for ch in pattern:
        out.append(ch if escaped else ch.lower())
        escaped = ch == "\\" and not escaped
    return "".join(out)


def foldable(s: str, lowered: str) -> bool:
    """Whether ``lowered`` (``s.lower()``) can stand in for ``s`` under a lower-cased pattern."""
    return s.isascii() or (len(lowered) == len(s) and "ı" not in lowered and "ſ" not in lowered)


class Caseless:
    """A ``re.IGNORECASE`` pattern with a lower-cased twin; ``search``/``match`` return a match or None."""

    __slots__ = ("low", "rx")

    def __init__(self, rx: re.Pattern[str]) -> None:
        assert rx.flags & re.IGNORECASE
        self.rx = rx
        ok = not _INLINE_FLAGS.search(rx.pattern) and all(
            ord(ch) < 128 or ch in _PATTERN_SAFE for ch in rx.pattern
        )
        self.low = re.compile(lower_pattern(rx.pattern), rx.flags & ~re.IGNORECASE) if ok else None

    def search(self, s: str) -> re.Match[str] | None:
        if self.low is not None:
            lowered = s.lower()
            if foldable(s, lowered):
                return self.low.search(lowered)
        return self.rx.search(s)

    def match(self, s: str) -> re.Match[str] | None:
        if self.low is not None:
            lowered = s.lower()
            if foldable(s, lowered):
                return self.low.match(lowered)
        return self.rx.match(s)
