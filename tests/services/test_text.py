"""Main text and normalisation: boilerplate and typography must not make new versions, edits must."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.text import FALLBACK_EXTRACTOR, TEXT_EXTRACTOR, extract_text, normalize_text, sanitize_html
from services.versions import content_hash

PAGES = Path(__file__).resolve().parent.parent / "data" / "pages"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def test_pages_differing_only_in_nav_ads_bylines_footer_hash_the_same() -> None:
    a = extract_text(page("article_a.html"))
    b = extract_text(page("article_b.html"))
    assert page("article_a.html") != page("article_b.html")
    assert a.extractor == TEXT_EXTRACTOR
    assert "Foreign ministers met in Geneva" in a.text
    assert "Advertisement" not in a.text and "All rights reserved" not in a.text
    assert content_hash(a.text) == content_hash(b.text)


def test_a_real_edit_changes_the_hash() -> None:
    a = extract_text(page("article_a.html"))
    edited = extract_text(page("article_edited.html"))
    assert "joint statement on prisoner exchanges" in edited.text
    assert content_hash(a.text) != content_hash(edited.text)


def test_scripts_never_reach_the_text() -> None:
    text = extract_text(page("article_a.html")).text
    assert "tracker" not in text and "var " not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  two   spaces\tand tab  ", "two spaces and tab"),
        ("non\u00a0breaking\u2009thin", "non breaking thin"),
        ("\u201cquoted\u201d and \u2018single\u2019", "\"quoted\" and 'single'"),
        ("en\u2013dash em\u2014dash", "en-dash em-dash"),
        ("\ufb01ne \uff21", "fine A"),  # ligature and full-width: NFKC is safe here
        ("x\u00b2 and \u00bd", "x\u00b2 and \u00bd"),  # superscripts and fractions keep their meaning
        ("e\u0301", "\u00e9"),  # NFC
        ("zero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),
        ("line one\r\n\r\n\r\nline two", "line one\nline two"),
        ("Body.\nBy Jane Doe, 12:30 GMT\nMore body.", "Body.\nMore body."),
        ("Body.\nUpdated 3 hours ago\nAdvertisement\nShare this article", "Body."),
        ("Published: 2022-02-26 14:00", ""),
    ],
)
def test_normalize_text(raw: str, expected: str) -> None:
    assert normalize_text(raw) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "By the end of 2022, Russia had lost ground.",
        "The year 2022 was long.",
        "By Jane Doe",  # a byline without a time never changes on its own: it is kept
        "Updated figures show 12 deaths in 3 cities since the strikes on Kyiv and Kharkiv began.",
    ],
)
def test_normalize_keeps_sentences_that_mention_dates(sentence: str) -> None:
    assert normalize_text(sentence) == sentence


def test_normalize_is_idempotent() -> None:
    text = normalize_text(extract_text(page("article_b.html")).text + "\n\u201cx\u201d \u2013 \ufb01")
    assert normalize_text(text) == text


def test_sanitize_html_drops_tags_and_scripts() -> None:
    html = '<p>One <b>bold</b> <a href="x">link</a></p><script>alert(1)</script><style>p{}</style><p>Two &amp; three</p>'
    text = normalize_text(sanitize_html(html))
    assert text == "One bold link\nTwo & three"


@pytest.mark.parametrize(
    "junk", ["", "   ", "<p>", "<p><b>unclosed", "</div></div>", "<!-- only a comment -->"]
)
def test_sanitize_html_survives_junk(junk: str) -> None:
    text = normalize_text(sanitize_html(junk))
    assert "<p" not in text and "<b" not in text and "-->" not in text


def test_fallback_used_when_the_page_has_no_text() -> None:
    fallback = "<p>The entry's own body, long enough to be the article's text rather than a teaser line.</p>"
    result = extract_text(b"<html><body><nav>Home</nav></body></html>", fallback_html=fallback)
    assert result.extractor == FALLBACK_EXTRACTOR
    assert result.text.startswith("The entry's own body")


def test_fallback_without_a_page() -> None:
    result = extract_text(None, fallback_html="<p>Summary <script>x()</script>only.</p>")
    assert result.text == "Summary only."
    assert result.extractor == FALLBACK_EXTRACTOR


def test_extractor_names_its_version() -> None:
    import trafilatura

    assert f"trafilatura {trafilatura.__version__}" == TEXT_EXTRACTOR
