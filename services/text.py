"""Main text of a page, and the normalisation that decides whether two texts are the same version."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import lxml.html
import trafilatura
from lxml import etree

logger = logging.getLogger(__name__)

TEXT_EXTRACTOR = f"trafilatura {trafilatura.__version__}"
FALLBACK_EXTRACTOR = "feed-entry (sanitised)"

# Below this many characters trafilatura probably found a teaser or nothing; the entry's own body
# (when the feed carries one) is then the better text.
MIN_EXTRACTED_CHARS = 80

# Elements whose content is never article text.
_DROP_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "form", "head")
_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "pre",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "aside",
        "figure",
        "figcaption",
        "dd",
        "dt",
        "dl",
        "hr",
    ]
)

# Typographic variants that editors swap without changing a word.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u02bc": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u2033": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2039": "'",
        "\u203a": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        # zero-width characters and soft hyphens are invisible: drop them
        "\u200b": None,
        "\u200c": None,
        "\u200d": None,
        "\u2060": None,
        "\ufeff": None,
        "\u00ad": None,
    }
)
# Compatibility decompositions that change meaning are kept (x² is not x2, ½ is not 1/2).
_UNSAFE_COMPAT_TAGS = ("<super>", "<sub>", "<fraction>", "<circle>")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]+")
_BLANK_LINES = re.compile(r"\n{2,}")

# Lines that carry no article content and change on their own: bylines with times, "updated"
# stamps, ad labels, share prompts. Only whole short lines match, so a sentence that mentions a
# date ("By the end of 2022, ...") is never dropped.
_LABEL_LINE = re.compile(
    r"^(advertisement|advertisements|ad|ads|sponsored|sponsored content|story continues below advertisement"
    r"|scroll to continue( with content)?|skip to (main )?content|share|share this( article| story)?"
    r"|read more|continue reading|(sign up for|subscribe to) our newsletters?)[.!:]?$",
    re.IGNORECASE,
)
_STAMP_PREFIX = re.compile(
    r"^(?:(?:By|BY|by)\s+(?:[A-Z][\w.'-]*,?\s*(?:and\s+|&\s+)?){1,6}"
    r"|(?:published|updated|last updated|posted|modified|first published)\b)[\s,:|\u00b7\u2022-]*",
    re.IGNORECASE,
)
_DATE_WORDS = frozenset(
    [
        "jan",
        "january",
        "feb",
        "february",
        "mar",
        "march",
        "apr",
        "april",
        "may",
        "jun",
        "june",
        "jul",
        "july",
        "aug",
        "august",
        "sep",
        "sept",
        "september",
        "oct",
        "october",
        "nov",
        "november",
        "dec",
        "december",
        "mon",
        "monday",
        "tue",
        "tues",
        "tuesday",
        "wed",
        "wednesday",
        "thu",
        "thur",
        "thurs",
        "thursday",
        "fri",
        "friday",
        "sat",
        "saturday",
        "sun",
        "sunday",
        "am",
        "pm",
        "a",
        "m",
        "p",
        "gmt",
        "utc",
        "bst",
        "cet",
        "cest",
        "est",
        "edt",
        "cst",
        "cdt",
        "mst",
        "mdt",
        "pst",
        "pdt",
        "ist",
        "jst",
        "aest",
        "z",
        "t",
        "ago",
        "just",
        "now",
        "today",
        "yesterday",
        "second",
        "seconds",
        "sec",
        "secs",
        "minute",
        "minutes",
        "min",
        "mins",
        "hour",
        "hours",
        "hr",
        "hrs",
        "day",
        "days",
        "week",
        "weeks",
        "month",
        "months",
        "on",
        "at",
        "published",
        "updated",
        "last",
        "modified",
        "posted",
        "first",
        "st",
        "nd",
        "rd",
        "th",
    ]
)
_TOKEN = re.compile(r"[^\W_]+")


def _is_date_stamp(text: str) -> bool:
    tokens = _TOKEN.findall(text.lower())
    if not tokens or not any(t.isdigit() or t in {"ago", "today", "yesterday", "now"} for t in tokens):
        return False
    return all(
        t.isdigit() or t in _DATE_WORDS or (t[:-2].isdigit() and t[-2:] in {"st", "nd", "rd", "th"})
        for t in tokens
    )


def _is_boilerplate(line: str) -> bool:
    if len(line) > 160:
        return False
    if _LABEL_LINE.match(line):
        return True
    prefix = _STAMP_PREFIX.match(line)
    rest = line[prefix.end() :] if prefix else line
    return _is_date_stamp(rest)


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """The text of one page and the extractor that produced it."""

    text: str  # normalised
    extractor: str


@lru_cache(maxsize=4096)
def _compat(ch: str) -> str:
    decomposition = unicodedata.decomposition(ch)
    if decomposition.startswith("<") and not decomposition.startswith(_UNSAFE_COMPAT_TAGS):
        return unicodedata.normalize("NFKC", ch)
    return ch


def normalize_text(text: str) -> str:
    """Unicode-normalise, unify quotes and dashes, collapse whitespace and drop boilerplate lines.

    Two texts that differ only in typography, spacing, a byline with a time, an ad label or a share
    prompt normalise to the same string; the result is stable (normalising it again changes nothing).
    """
    text = unicodedata.normalize("NFC", text)
    # NFKC only where it is safe: ligatures, full-width forms, odd spaces; not superscripts or fractions.
    text = _NON_ASCII.sub(lambda m: _compat(m.group()), text)
    text = text.translate(_QUOTES).replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for raw in text.split("\n"):
        line = _SPACES.sub(" ", raw).strip()
        if line and not _is_boilerplate(line):
            lines.append(line)
    return "\n".join(lines)


def sanitize_html(fragment: str) -> str:
    """Plain text of an HTML fragment: no tags, no scripts or styles, one line per block."""
    if not fragment or not fragment.strip():
        return ""
    if "<" not in fragment and "&" not in fragment:
        return fragment
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return ""
    for element in list(root.iter(*_DROP_TAGS)):
        element.drop_tree()
    pieces: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(element.tag, str):  # comments, processing instructions
            if event == "end" and element.tail:
                pieces.append(element.tail)
            continue
        if event == "start":
            if element.tag in _BLOCK_TAGS:
                pieces.append("\n")
            if element.text:
                pieces.append(element.text)
        else:
            if element.tag in _BLOCK_TAGS:
                pieces.append("\n")
            if element.tail and element is not root:
                pieces.append(element.tail)
    return "".join(pieces)


def extract_text(
    html: bytes | str | None, *, fallback_html: str | None = None, url: str | None = None
) -> ExtractedText:
    """Main text of ``html`` (trafilatura), or the sanitised ``fallback_html`` when that finds too little."""
    extracted = ""
    if html:
        try:
            extracted = trafilatura.extract(html, url=url, fast=True, include_comments=False) or ""
        except (ValueError, TypeError, etree.LxmlError) as exc:
            # trafilatura gives up on some malformed documents; the fallback still has a chance.
            logger.warning("text extraction failed url=%s error=%s", url, exc)
    text = normalize_text(extracted)
    if len(text) >= MIN_EXTRACTED_CHARS or not fallback_html:
        return ExtractedText(text, TEXT_EXTRACTOR)
    fallback = normalize_text(sanitize_html(fallback_html))
    if len(fallback) > len(text):
        return ExtractedText(fallback, FALLBACK_EXTRACTOR)
    return ExtractedText(text, TEXT_EXTRACTOR)
