"""Gazetteer: display names and finding countries the way journalists write them."""

from __future__ import annotations

import pytest

from services.gazetteer import country_name, find_mentions, lookup


def codes(text: str) -> list[str]:
    return [m.code for m in find_mentions(text)]


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("KP", "North Korea"),
        ("IR", "Iran"),
        ("SY", "Syria"),
        ("VE", "Venezuela"),
        ("RU", "Russia"),
        ("US", "United States"),
        ("GB", "United Kingdom"),
        ("BY", "Belarus"),
    ],
)
def test_country_name_is_the_common_name(code: str, name: str) -> None:
    assert country_name(code) == name


def test_short_forms_capitals_demonyms_and_leaders() -> None:
    text = (
        "The U.S. and Britain spoke; Minsk, the Kremlin and Tehran replied; the Syrian envoy and Maduro too."
    )
    assert codes(text) == ["US", "GB", "BY", "RU", "IR", "SY", "VE"]


def test_ambiguous_words_inside_longer_names_are_left_out() -> None:
    assert codes("Michael Jordan visited the Washington Post in Georgia Tech colours.") == []
    assert codes("Jordan and Egypt abstained.") == ["JO", "EG"]


def test_lower_case_common_words_are_not_countries() -> None:
    assert codes("They served turkey on fine china.") == []


def test_longest_name_wins() -> None:
    assert codes("Papua New Guinea and South Sudan and Niger") == ["PG", "SS", "NE"]


def test_lookup_accepts_names_codes_and_capitals() -> None:
    assert lookup("china") == "CN"
    assert lookup("DE") == "DE"
    assert lookup("Pretoria") == "ZA"
    assert lookup("Atlantis") is None
