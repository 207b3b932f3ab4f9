"""compare_stances: the pure decision behind every stance change (no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.changes import ChangeIntent, compare_stances
from services.types import Observation, Stance

COUNTRIES = ["AM", "BY", "CN", "IR", "KP", "KZ", "NI", "SY", "VE"]


def obs(country: str, stance: Stance, evidence: str = "") -> Observation:
    return Observation(country, stance, 0.9, evidence or f"{country} is {stance.value}", 0, 1)


snapshots = st.dictionaries(st.sampled_from(COUNTRIES), st.sampled_from(list(Stance))).map(
    lambda d: {c: obs(c, s) for c, s in d.items()}
)


def apply(state: dict[str, Stance], changes: list[ChangeIntent]) -> dict[str, Stance]:
    result = dict(state)
    for change in changes:
        assert result.get(change.country) == change.from_stance
        if change.to_stance is None:
            result.pop(change.country)
        else:
            result[change.country] = change.to_stance
    return result


def stances(snapshot: dict[str, Observation]) -> dict[str, Stance]:
    return {c: o.stance for c, o in snapshot.items()}


def test_seed_update_adds_nicaragua_only():
    v1 = {c: obs(c, Stance.SUPPORTS) for c in ["BY", "CN", "SY"]} | {"AM": obs("AM", Stance.UNDECLARED)}
    v2 = v1 | {"NI": obs("NI", Stance.SUPPORTS, "Nicaragua's President Daniel Ortega ...")}
    assert compare_stances(v1, v2) == [
        ChangeIntent("NI", None, Stance.SUPPORTS, None, "Nicaragua's President Daniel Ortega ...", 0.9)
    ]


def test_removed_and_moved_countries_and_evidence():
    before = {"BY": obs("BY", Stance.SUPPORTS, "old BY"), "KZ": obs("KZ", Stance.UNDECLARED, "old KZ")}
    after = {"KZ": obs("KZ", Stance.NEUTRAL, "new KZ")}
    assert compare_stances(before, after) == [
        ChangeIntent("BY", Stance.SUPPORTS, None, "old BY", None, None),
        ChangeIntent("KZ", Stance.UNDECLARED, Stance.NEUTRAL, "old KZ", "new KZ", 0.9),
    ]


def test_new_wording_of_the_same_stance_is_no_change():
    assert (
        compare_stances({"BY": obs("BY", Stance.SUPPORTS, "a")}, {"BY": obs("BY", Stance.SUPPORTS, "b")})
        == []
    )


@given(snapshots)
def test_a_version_compared_with_itself_has_no_changes(a):
    assert compare_stances(a, a) == []


@given(snapshots, snapshots)
def test_changes_turn_before_into_after(a, b):
    changes = compare_stances(a, b)
    assert apply(stances(a), changes) == stances(b)
    assert [c.country for c in changes] == sorted({c.country for c in changes})
    assert all(c.from_stance != c.to_stance for c in changes)


@given(snapshots, snapshots, snapshots)
def test_a_to_b_then_b_to_c_composes_to_a_to_c(a, b, c):
    stepwise = apply(apply(stances(a), compare_stances(a, b)), compare_stances(b, c))
    assert stepwise == apply(stances(a), compare_stances(a, c)) == stances(c)
    # The direct change of each country is the first "from" and the last "to" of the two steps.
    first = {x.country: x.from_stance for x in compare_stances(a, b)}
    last = {x.country: x.to_stance for x in compare_stances(b, c)}
    for change in compare_stances(a, c):
        assert first.get(change.country, stances(b).get(change.country)) == change.from_stance
        assert last.get(change.country, stances(b).get(change.country)) == change.to_stance
