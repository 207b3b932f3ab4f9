"""One stance per country: resolve conflicting cues by strength, then by recency of a reported change."""

from __future__ import annotations

from collections import defaultdict
from typing import NamedTuple

from services.types import Observation, Stance

MIN_STRENGTH = 0.9  # weaker cues (a discounted call for talks) are background, not a stance
CHANGE_BONUS = 1.5  # "later", "this time", "reversed": the latest act wins over earlier ones


class Evidence(NamedTuple):
    code: str
    stance: Stance
    strength: float
    order: int
    start: int
    end: int
    changed: bool
    structural: bool = False  # from a list heading: the span is heading..item, a prose sentence reads better


def _score(e: Evidence, earlier: list[Evidence]) -> float:
    bonus = CHANGE_BONUS if e.changed and any(x.stance != e.stance for x in earlier) else 0.0
    return e.strength + bonus + e.order * 1e-6


def decide(text: str, evidence: list[Evidence]) -> list[Observation]:
    """The decisive evidence per country, with a confidence that drops when other cues disagree."""
    by_code: dict[str, list[Evidence]] = defaultdict(list)
    for e in evidence:
        by_code[e.code].append(e)
    out = []
    for code in sorted(by_code):
        evs = sorted(by_code[code], key=lambda e: e.order)
        scored = [(_score(e, evs[:i]), e) for i, e in enumerate(evs)]
        best_score, best = max(scored, key=lambda pair: pair[0])
        if best.strength < MIN_STRENGTH:
            continue
        rival = max((s for s, e in scored if e.stance != best.stance), default=0.0)
        confidence = min(0.97, 0.45 + 0.17 * min(best_score, 3.0))
        if rival:
            confidence -= 0.25 * min(1.0, rival / best_score)
        confidence = round(max(0.2, confidence), 2)
        if best.structural:
            prose = [
                e for e in evs if e.stance == best.stance and not e.structural and e.strength >= MIN_STRENGTH
            ]
            if prose:
                best = max(prose, key=lambda e: e.strength)
        out.append(
            Observation(
                code, best.stance, confidence, text[best.start : best.end].strip(), best.start, best.end
            )
        )
    return out
