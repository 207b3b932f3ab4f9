"""Split a text into lines, sentences and clauses, keeping character offsets into the original."""

from __future__ import annotations

import re
from typing import NamedTuple

# Abbreviations whose final dot does not end a sentence ("the U.S. said", "Mr. Biden").
_ABBREV = re.compile(
    r"(?:\b(?:U\.S|U\.K|U\.N|Mr|Mrs|Ms|Dr|St|Gen|Lt|Col|Sen|Rep|Gov|Jr|Sr|No|Feb|Jan|Aug|Sept|Oct|Nov"
    r"|Dec|vs|etc|approx|D\.C)\.|\b[A-Z]\.)$"
)
_SENT_END = re.compile(r"[.!?][\"”’')]*\s+(?=[\"“‘(]?[A-Z0-9À-Ý])")
# Clause boundaries: a new subject usually follows these.
_CLAUSE = re.compile(
    r";\s+|:\s+|\s+[—–]\s+|,\s+(?:while|whereas)\s+|\s+while\s+|,?\s+but\s+|,\s+yet\s+|,\s+and\s+"
    r"(?=(?:the|its|his|her|their|he|she|it|they|both|all|neither)\b)"
)

_CLAUSE_MARKS = (";", ":", "—", "–", "while", "whereas", "but", "yet", ", and")
_ANY_CLAUSE_MARK = re.compile("|".join(re.escape(mark) for mark in _CLAUSE_MARKS))


class Span(NamedTuple):
    start: int
    end: int


_new = tuple.__new__  # ``_new(Span, (a, b))``: a named tuple without its Python-level ``__new__``


def lines(text: str) -> list[Span]:
    """Non-empty lines with offsets."""
    out = []
    pos = 0
    for raw in text.splitlines(keepends=True):
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            out.append(_new(Span, (pos + lead, pos + lead + len(stripped))))
        pos += len(raw)
    return out


def sentences(text: str, start: int, end: int) -> list[Span]:
    """Sentences of ``text[start:end]``."""
    out = []
    cur = start
    for m in _SENT_END.finditer(text, start, end):
        if _ABBREV.search(text, max(cur, m.start() - 6), m.start() + 1):
            continue
        out.append(_new(Span, (cur, m.start() + 1)))
        cur = m.end()
    if cur < end:
        out.append(_new(Span, (cur, end)))
    return out


def clauses(text: str, start: int, end: int) -> list[Span]:
    """Clauses of one sentence."""
    chunk = text[start:end]
    if not _ANY_CLAUSE_MARK.search(chunk):
        return [_new(Span, (start, end))]
    out = []
    cur = start
    for m in _CLAUSE.finditer(text, start, end):
        if m.start() > cur:
            out.append(_new(Span, (cur, m.start())))
        cur = m.end()
    if cur < end:
        out.append(_new(Span, (cur, end)))
    return out or [_new(Span, (start, end))]


def sentences_by_line(text: str, spans: list[Span]) -> list[list[Span]]:
    """``[sentences(text, s.start, s.end) for s in spans]`` for sorted, stripped, non-overlapping lines, with
    one scan of the whole text: a boundary match that runs past its line's end (the line break) is one a
    scan bounded by the line cannot find, and it hides nothing else (only quotes lie between its full stop
    and the line's end)."""
    out = []
    found = _SENT_END.finditer(text)
    m = next(found, None)
    for span in spans:
        start, end = span
        while m is not None and m.start() < start:
            m = next(found, None)
        cur = start
        sents = []
        while m is not None and m.start() < end:
            if m.end() <= end and not _ABBREV.search(text, max(cur, m.start() - 6), m.start() + 1):
                sents.append(_new(Span, (cur, m.start() + 1)))
                cur = m.end()
            m = next(found, None)
        if cur < end:
            sents.append(_new(Span, (cur, end)))
        out.append(sents)
    return out
