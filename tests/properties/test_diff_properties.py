"""Property tests for the word-level diffs (stored with each version, and shown on the diff page)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services import versions

try:  # the diff page's own diff (web); optional while that module settles
    from services import textdiff
except ImportError:  # pragma: no cover
    textdiff = None

words = st.sampled_from(["Belarus", "Iran", "supports", "opposes", "Russia", "the", "a", ".", "said", "\n"])
texts = st.lists(st.tuples(words, st.sampled_from([" ", " ", "\n", "  ", ""])), max_size=60).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


def _ops(ops: Sequence[Any]) -> list[tuple[str, str]]:
    return [(op["op"], op["text"]) if isinstance(op, dict) else (op.op, op.text) for op in ops]


def _old(ops: list[tuple[str, str]]) -> str:
    return "".join(text for op, text in ops if op in ("equal", "delete"))


def _new(ops: list[tuple[str, str]]) -> str:
    return "".join(text for op, text in ops if op in ("equal", "insert"))


DIFFS = [pytest.param(versions.diff_words, id="versions")]
if textdiff is not None:
    DIFFS.append(pytest.param(textdiff.diff_words, id="textdiff"))


@pytest.mark.parametrize("diff", DIFFS)
@settings(max_examples=300)
@given(a=texts)
def test_a_version_compared_with_itself_has_no_changes(
    diff: Callable[[str, str], Sequence[Any]], a: str
) -> None:
    ops = _ops(diff(a, a))
    assert all(op == "equal" for op, _ in ops)
    assert _old(ops) == a


@pytest.mark.parametrize("diff", DIFFS)
@settings(max_examples=300)
@given(a=texts, b=texts)
def test_a_diff_gives_back_both_texts(diff: Callable[[str, str], Sequence[Any]], a: str, b: str) -> None:
    ops = _ops(diff(a, b))
    assert _old(ops) == a
    assert _new(ops) == b
    assert all(text for _, text in ops), "no empty operations"


@pytest.mark.parametrize("diff", DIFFS)
@settings(max_examples=200)
@given(a=texts, b=texts, c=texts)
def test_diffs_compose(diff: Callable[[str, str], Sequence[Any]], a: str, b: str, c: str) -> None:
    # Applying A→B to A, then B→C to the result, lands where A→C does.
    ab, bc, ac = _ops(diff(a, b)), _ops(diff(b, c)), _ops(diff(a, c))
    assert _old(ab) == a and _new(ab) == _old(bc) and _new(bc) == c
    assert _old(ac) == a and _new(ac) == c


@pytest.mark.parametrize("diff", DIFFS)
@settings(max_examples=200)
@given(a=texts, b=texts)
def test_the_reverse_diff_swaps_inserts_and_deletes(
    diff: Callable[[str, str], Sequence[Any]], a: str, b: str
) -> None:
    forward, backward = _ops(diff(a, b)), _ops(diff(b, a))
    inserted = "".join(t for op, t in forward if op == "insert").split()
    deleted_back = "".join(t for op, t in backward if op == "delete").split()
    assert sorted(inserted) == sorted(deleted_back) or (_new(backward) == a and _old(backward) == b)


@settings(max_examples=200)
@given(a=texts, b=texts)
def test_diff_stats_count_the_changed_words(a: str, b: str) -> None:
    ops = versions.diff_words(a, b)
    stats = versions.diff_stats(ops)
    if a == b:
        assert stats == {"inserted": 0, "deleted": 0}
    assert stats["inserted"] <= len(b.split()) and stats["deleted"] <= len(a.split())
