"""Stance rules on a fixture of varied passages written for these tests (never the evaluation passages).

``data/stance_cases.jsonl``: one case a line, ``{"id", "text", "labels": {"CC": stance}, "xfail"?}``. The
styles vary on purpose: wire copy, UN vote roundups and roll calls, named ministers and spokespeople, capitals
for governments, hedges, negations, reversals over time, and distractor texts where no government takes a
stance (refugees, evacuations, trade, sport, venues of talks, opposition figures, analysts, state media).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.stance import extract_stances, load_topic

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "stance_cases.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


def _params() -> list:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_case(case: dict) -> None:
    got = {o.country: str(o.stance) for o in extract_stances(case["text"], load_topic())}
    assert got == case["labels"]


def test_fixture_is_varied_and_large_enough() -> None:
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert sum(1 for c in CASES if not c["labels"]) >= 5  # distractor texts: no stance at all


def test_micro_f1_on_own_cases() -> None:
    tp = fp = fn = 0
    for case in CASES:
        got = {o.country: str(o.stance) for o in extract_stances(case["text"], load_topic())}
        gold = case["labels"]
        for code in got.keys() | gold.keys():
            if got.get(code) == gold.get(code):
                tp += 1
            else:
                fp += code in got
                fn += code in gold
    assert tp / (tp + 0.5 * (fp + fn)) >= 0.95


PAIRS = [
    # An update adds one country to a vote roundup; untouched paragraphs must not flicker.
    (
        "Where the region stood on the Ukraine vote\n\nChile and Peru voted in favour of the resolution against Russia. "
        "Bolivia abstained.\n\nThe country's foreign minister said La Paz wanted dialogue. Argentina's president "
        "condemned the invasion.",
        "Where the region stood on the Ukraine vote\n\nUpdated to add Colombia.\n\nChile, Colombia and Peru voted in "
        "favour of the resolution against Russia. Bolivia abstained.\n\nThe country's foreign minister said La Paz "
        "wanted dialogue. Argentina's president condemned the invasion.",
        {"CO": (None, "opposes")},
    ),
    # Paragraphs swapped and a distractor sentence added: no change at all.
    (
        "Kenya condemned the Russian invasion of Ukraine.\n\nIndia abstained in the General Assembly.",
        "India abstained in the General Assembly.\n\nRefugees from Ukraine reached Nairobi by air.\n\n"
        "Kenya condemned the Russian invasion of Ukraine.",
        {},
    ),
    # A reported reversal moves one country; its neighbour in the same paragraph stays.
    (
        "Mexico and Brazil abstained on the suspension of Russia from the Human Rights Council over Ukraine.",
        "Mexico and Brazil abstained on the suspension of Russia from the Human Rights Council over Ukraine. "
        "Brazil later voted for the resolution against the annexation.",
        {"BR": ("neutral", "opposes")},
    ),
]


@pytest.mark.parametrize(("v1", "v2", "expected"), PAIRS, ids=["adds-one", "reorder-distractor", "reversal"])
def test_version_pairs_change_only_what_changed(v1: str, v2: str, expected: dict) -> None:
    a = {o.country: str(o.stance) for o in extract_stances(v1, load_topic())}
    b = {o.country: str(o.stance) for o in extract_stances(v2, load_topic())}
    changes = {c: (a.get(c), b.get(c)) for c in a.keys() | b.keys() if a.get(c) != b.get(c)}
    assert changes == expected
