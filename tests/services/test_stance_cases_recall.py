"""Recall cases (round 4): stances written without the usual stance words, in passages written for these tests.

``data/stance_cases_recall.jsonl``: one case a line, ``{"id", "text", "labels": {"CC": stance}, "xfail"?}``.
Acts of opposition without "condemn" (expelled diplomats, closed airspace, recalled ambassadors, frozen or
seized assets, air defence and armour for Kyiv, training Ukrainian troops, joining coalitions, backing
Ukraine's territorial integrity, calling the referendums a sham), neutrality without "neutral" (declining to
take sides, offering to mediate, urging both parties, impartiality), support without "support" (echoing
Moscow's line, hailing the offensive, arms sent to Russia), pronoun and "the two leaders" references, and
distractors that must give nothing (aid alone, evacuation, trade, sport, venues of talks, analysts,
opposition, unconfirmed reports, acts aimed at another country).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.stance import extract_stances, load_topic

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "data" / "stance_cases_recall.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]


def _got(text: str) -> dict[str, str]:
    return {o.country: str(o.stance) for o in extract_stances(text, load_topic())}


def _params() -> list:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else []
        out.append(pytest.param(case, id=case["id"], marks=marks))
    return out


@pytest.mark.parametrize("case", _params())
def test_recall_case(case: dict) -> None:
    assert _got(case["text"]) == case["labels"]


def test_recall_fixture_has_distractors() -> None:
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)
    assert sum(1 for c in CASES if not c["labels"]) >= 6


def test_recall_micro_f1_and_precision() -> None:
    tp = fp = fn = 0
    for case in CASES:
        got, gold = _got(case["text"]), case["labels"]
        for code in got.keys() | gold.keys():
            if got.get(code) == gold.get(code):
                tp += 1
            else:
                fp += code in got
                fn += code in gold
    assert tp / (tp + fp) >= 0.97
    assert tp / (tp + 0.5 * (fp + fn)) >= 0.90
