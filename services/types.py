"""Plain data shared by the pure decision functions (no database, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stance(StrEnum):
    SUPPORTS = "supports"
    OPPOSES = "opposes"
    NEUTRAL = "neutral"
    UNDECLARED = "undeclared"


@dataclass(frozen=True, slots=True)
class Observation:
    """One country's stance toward the target, as one text states it."""

    country: str  # ISO 3166-1 alpha-2
    stance: Stance
    confidence: float  # in [0, 1]
    evidence: str  # the decisive sentence
    start: int  # character offsets of ``evidence`` in the text
    end: int
