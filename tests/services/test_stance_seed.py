"""Golden test: the founding article and its earlier version give exactly the expected stances."""

from __future__ import annotations

import json

import pytest

from seeds import seed_path
from services.stance import extract_stances


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_seed_article_matches_expected(version: str) -> None:
    text = seed_path(f"article-{version}.txt").read_text(encoding="utf-8")
    expected = json.loads(seed_path(f"article-{version}.expected.json").read_text(encoding="utf-8"))
    got = [{"country": o.country, "stance": str(o.stance)} for o in extract_stances(text)]
    assert got == expected["stances"]


def test_seed_v2_exact_countries() -> None:
    text = seed_path("article-v2.txt").read_text(encoding="utf-8")
    got = {o.country: str(o.stance) for o in extract_stances(text)}
    assert got == {
        **dict.fromkeys(["BY", "CN", "IR", "KP", "SY", "VE", "NI"], "supports"),
        "AM": "undeclared",
        "KZ": "undeclared",
    }


def test_seed_update_adds_only_nicaragua() -> None:
    v1 = {
        o.country: o.stance for o in extract_stances(seed_path("article-v1.txt").read_text(encoding="utf-8"))
    }
    v2 = {
        o.country: o.stance for o in extract_stances(seed_path("article-v2.txt").read_text(encoding="utf-8"))
    }
    changed = {c for c in v1.keys() | v2.keys() if v1.get(c) != v2.get(c)}
    assert changed == {"NI"}


def test_evidence_offsets_point_into_text() -> None:
    text = seed_path("article-v2.txt").read_text(encoding="utf-8")
    for o in extract_stances(text):
        assert text[o.start : o.end].strip() == o.evidence
        assert 0.0 <= o.confidence <= 1.0
