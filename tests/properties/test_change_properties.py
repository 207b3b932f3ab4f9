"""Property tests for change computation: what decides which stance changes are recorded and alerted."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.changes import ChangeIntent, compare_stances, observations_by_country
from services.types import Observation, Stance

COUNTRIES = ["BY", "CN", "CU", "ER", "IN", "IR", "KP", "NI", "SY", "ZA"]

observation = st.builds(
    Observation,
    country=st.sampled_from(COUNTRIES),
    stance=st.sampled_from(list(Stance)),
    confidence=st.floats(0, 1),
    evidence=st.text(max_size=40),
    start=st.integers(0, 1000),
    end=st.integers(0, 1000),
)
# One observation per country, as the extractor gives them.
version = st.lists(observation, max_size=len(COUNTRIES), unique_by=lambda o: o.country).map(
    observations_by_country
)


def as_moves(intents: list[ChangeIntent]) -> dict[str, tuple[Stance | None, Stance | None]]:
    return {i.country: (i.from_stance, i.to_stance) for i in intents}


def compose(
    first: dict[str, tuple[Stance | None, Stance | None]],
    second: dict[str, tuple[Stance | None, Stance | None]],
) -> dict[str, tuple[Stance | None, Stance | None]]:
    moves = dict(first)
    for country, (src, dst) in second.items():
        if country in moves:
            start = moves[country][0]
            assert moves[country][1] == src, "B→C starts where A→B ended"
            moves[country] = (start, dst)
        else:
            moves[country] = (src, dst)
    return {c: m for c, m in moves.items() if m[0] != m[1]}


@settings(max_examples=500)
@given(version)
def test_a_version_compared_with_itself_has_no_changes(a: dict[str, Observation]) -> None:
    assert compare_stances(a, a) == []


@settings(max_examples=500)
@given(version, version, version)
def test_changes_compose(
    a: dict[str, Observation], b: dict[str, Observation], c: dict[str, Observation]
) -> None:
    assert compose(as_moves(compare_stances(a, b)), as_moves(compare_stances(b, c))) == as_moves(
        compare_stances(a, c)
    )


@settings(max_examples=300)
@given(version, version)
def test_changes_reverse(a: dict[str, Observation], b: dict[str, Observation]) -> None:
    forward = as_moves(compare_stances(a, b))
    backward = as_moves(compare_stances(b, a))
    assert backward == {c: (dst, src) for c, (src, dst) in forward.items()}


@settings(max_examples=300)
@given(version, version)
def test_every_change_is_real_and_carries_its_evidence(
    a: dict[str, Observation], b: dict[str, Observation]
) -> None:
    intents = compare_stances(a, b)
    assert [i.country for i in intents] == sorted({i.country for i in intents})
    for i in intents:
        assert i.from_stance != i.to_stance
        assert i.from_stance == (a[i.country].stance if i.country in a else None)
        assert i.to_stance == (b[i.country].stance if i.country in b else None)
        assert i.evidence_after == (b[i.country].evidence if i.country in b else None)
        assert i.evidence_before == (a[i.country].evidence if i.country in a else None)
    # Every country whose stance differs is reported.
    differing = {c for c in a.keys() | b.keys() if (a.get(c) and a[c].stance) != (b.get(c) and b[c].stance)}
    assert {i.country for i in intents} == differing


@settings(max_examples=200)
@given(version)
def test_rewording_alone_is_not_a_change(a: dict[str, Observation]) -> None:
    reworded = {
        c: Observation(
            o.country, o.stance, 1 - o.confidence, o.evidence + " (updated)", o.start + 1, o.end + 1
        )
        for c, o in a.items()
    }
    assert compare_stances(a, reworded) == []
