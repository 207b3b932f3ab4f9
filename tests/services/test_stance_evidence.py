"""Evidence is a sentence a person can read in an alert, not a stretch of the article."""

from seeds import seed_path
from services.stance import extract_stances
from services.stance.extract import MAX_STRUCTURAL_EVIDENCE


def test_evidence_stays_short_and_points_at_the_text() -> None:
    text = seed_path("article-v2.txt").read_text()
    observations = {o.country: o for o in extract_stances(text)}
    for o in observations.values():
        assert text[o.start : o.end].strip() == o.evidence
        assert len(o.evidence) <= MAX_STRUCTURAL_EVIDENCE, (o.country, len(o.evidence))
    # North Korea's item has no stance cue of its own: the list heading, alone, is the evidence.
    assert observations["KP"].evidence == "Here is a list of countries choosing to support Russia:"


def test_an_item_right_under_its_heading_keeps_both() -> None:
    text = "Governments backing Moscow:\n\n1. Belarus\n\nMinsk hosts the troops."
    [belarus] = [o for o in extract_stances(text) if o.country == "BY"]
    assert belarus.stance == "supports"
    assert "Governments backing Moscow:" in belarus.evidence
