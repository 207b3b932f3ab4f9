"""content_hash, word diffs and suspect detection."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.versions import content_hash, diff_stats, diff_words, raw_hash, suspect_reason


def test_content_hash_ignores_typography_and_spacing() -> None:
    assert content_hash("\u201cHello\u201d  world\n\n") == content_hash('"Hello" world')
    assert content_hash("Hello world") != content_hash("Hello there world")
    assert len(content_hash("x")) == 64


def test_raw_hash_is_byte_exact() -> None:
    assert raw_hash(b"a") != raw_hash(b"a ")
    assert raw_hash(b"") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_diff_words_marks_the_change() -> None:
    ops = diff_words("Belarus supports Russia.", "Belarus and Nicaragua support Russia.")
    assert {"op": "insert", "text": "and Nicaragua support "} in ops
    assert {"op": "delete", "text": "supports "} in ops
    assert ops[0] == {"op": "equal", "text": "Belarus "}
    json.dumps(ops)  # stored as JSON on the version


def test_diff_of_equal_texts_is_one_equal_op() -> None:
    assert diff_words("same text", "same text") == [{"op": "equal", "text": "same text"}]
    assert diff_words("", "") == []


@given(st.text(max_size=200), st.text(max_size=200))
def test_diff_reconstructs_both_sides(old: str, new: str) -> None:
    ops = diff_words(old, new)
    assert "".join(o["text"] for o in ops if o["op"] != "insert") == old
    assert "".join(o["text"] for o in ops if o["op"] != "delete") == new


def test_diff_stats_counts_words() -> None:
    assert diff_stats(diff_words("a b c", "a x y c")) == {"inserted": 2, "deleted": 1}


LONG = "The ministers met for six hours and discussed prisoners, corridors and sanctions. " * 10


@pytest.mark.parametrize(
    ("previous", "new", "fragment"),
    [
        (LONG, "", "empty"),
        (LONG, "Subscribe to continue reading. Already a subscriber? Log in.", "paywall"),
        (LONG, "404 Not Found", "error page"),
        (None, "Access denied", "error page"),
        (LONG, LONG[:100], "most of the text is gone"),
    ],
)
def test_suspect(previous: str | None, new: str, fragment: str) -> None:
    reason = suspect_reason(previous, new)
    assert reason is not None and fragment in reason


@pytest.mark.parametrize(
    ("previous", "new"),
    [
        (None, LONG),
        (LONG, LONG + " A new paragraph."),
        (LONG, LONG[: len(LONG) // 2]),  # half gone is an edit, not a broken page
        ("short", "shorter"),  # too little to judge a shrink by
        # a long article that mentions a paywall is still an article
        (LONG, LONG + " The newspaper removed its paywall for coverage of the war."),
    ],
)
def test_not_suspect(previous: str | None, new: str) -> None:
    assert suspect_reason(previous, new) is None
