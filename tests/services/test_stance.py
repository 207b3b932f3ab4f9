"""Stance rules on texts written for these tests (never the evaluation passages)."""

from __future__ import annotations

import pytest

from services.errors import InvalidInputError
from services.stance import EXTRACTOR_VERSION, extract_stances, load_topic


def stances(text: str, target: str | None = None) -> dict[str, str]:
    return {o.country: str(o.stance) for o in extract_stances(text, load_topic(target))}


def test_heading_gives_each_list_item_its_stance() -> None:
    text = (
        "Moscow's friends and the undecided\n\nGovernments standing with Moscow:\n1. Belarus\n2. Mali\n\n"
        "Still undeclared:\n1. Laos\n"
    )
    assert stances(text) == {"BY": "supports", "ML": "supports", "LA": "undeclared"}


def test_un_vote_breakdown() -> None:
    text = (
        "The General Assembly demanded that Russia withdraw from Ukraine. Cuba and Eritrea voted against the "
        "resolution. Ghana and Peru voted in favour, as did Chile. Laos abstained. Morocco did not take part "
        "in the vote."
    )
    assert stances(text) == {
        "CU": "supports",
        "ER": "supports",
        "GH": "opposes",
        "PE": "opposes",
        "CL": "opposes",
        "LA": "neutral",
    }


def test_negations_and_hedges() -> None:
    text = (
        "Myanmar's junta did not condemn the Russian invasion of Ukraine. Thailand refused to join sanctions "
        "and said it would stay neutral. Vietnam has yet to say where it stands on the war."
    )
    assert stances(text) == {"MM": "supports", "TH": "neutral", "VN": "undeclared"}


def test_condemnation_beats_hedges() -> None:
    text = (
        "Chisinau condemned the Russian invasion of Ukraine but said Moldova could not afford to join the "
        "sanctions."
    )
    assert stances(text) == {"MD": "opposes"}


def test_capitals_and_leaders_speak_for_their_state() -> None:
    text = (
        "Pretoria abstained on the Ukraine text. Lukashenko said the West had provoked Moscow into the war."
    )
    assert stances(text) == {"ZA": "neutral", "BY": "supports"}


def test_places_refugees_and_trade_give_no_stance() -> None:
    text = (
        "Refugees from Ukraine crossed into Poland and Romania. Traders in London said Russian wheat "
        "prices fell, and ships bound for Egypt waited off Istanbul."
    )
    assert stances(text) == {}


def test_non_government_voices_do_not_count() -> None:
    text = "A former Brazilian president told a podcast that NATO provoked Russia's war in Ukraine."
    assert stances(text) == {}


def test_off_topic_text_gives_nothing() -> None:
    assert stances("Japan condemned the missile launch and Canberra urged restraint on the peninsula.") == {}


def test_parties_get_no_stance() -> None:
    assert "RU" not in stances("Russia condemned the sanctions; Ukraine called for weapons.")


def test_latest_act_wins_when_the_text_reports_a_change() -> None:
    text = (
        "Ecuador first agreed to send old weapons to Ukraine. A month later its government called the deal "
        "off and declared that Ecuador would remain neutral in the war with Russia."
    )
    assert stances(text) == {"EC": "neutral"}


def test_output_is_sorted_deterministic_and_bounded() -> None:
    text = "Peru and Chile condemned the invasion of Ukraine. Bolivia abstained."
    first = extract_stances(text)
    assert first == extract_stances(text)
    assert [o.country for o in first] == sorted(o.country for o in first)
    assert all(0.0 <= o.confidence <= 1.0 and text[o.start : o.end].strip() == o.evidence for o in first)


def test_other_target_built_from_gazetteer() -> None:
    topic = load_topic("Venezuela")
    assert topic.target == "VE" and topic.parties == frozenset({"VE"})
    text = "Brazil condemned Venezuela's attack on Guyana, while Caracas insisted it was defending itself."
    assert stances(text, "Venezuela").get("BR") == "opposes"


def test_unknown_target_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="unknown target"):
        load_topic("Atlantis")


def test_version_string() -> None:
    assert EXTRACTOR_VERSION.startswith("rules-")
