"""Country gazetteer: display names and mention finding, the way journalists write countries.

Names come from pycountry plus the maintained alias file ``services/stance/data/aliases.json``
(short forms, capitals and seats of government, demonyms, leaders by name). Everything is built
once and cached; ``find_mentions`` is one Aho-Corasick pass over the text.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib import resources
from typing import NamedTuple

import ahocorasick
import pycountry

# Kinds of mention, in the order a surface keeps when two sources disagree.
NAME, CAPITAL, DEMONYM, LEADER, GOV, BLOCKER = "name", "capital", "demonym", "leader", "gov", "blocker"
_KIND_ORDER = {NAME: 0, GOV: 1, LEADER: 2, CAPITAL: 3, DEMONYM: 4}


class Mention(NamedTuple):
    """One place in a text that names a country (or its capital, people, leader, government).

    A named tuple: immutable like the frozen dataclass it replaces, and several times cheaper to create."""

    start: int
    end: int
    code: str  # ISO 3166-1 alpha-2 ("XK" for Kosovo)
    kind: str
    surface: str


_new = tuple.__new__  # ``_new(Mention, (...))``: a named tuple without its Python-level ``__new__``


@cache
def _alias_data() -> dict:
    raw = resources.files("services.stance").joinpath("data/aliases.json").read_text("utf-8")
    return json.loads(raw)


@cache
def _surfaces() -> tuple[dict[str, tuple[str, str]], frozenset[str]]:
    """Surface form -> (code, kind); alias file wins over pycountry, blockers win over all."""
    table: dict[str, tuple[str, str]] = {}
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            # "Korea, Republic of" and "Saint Martin (French part)" are not how anyone writes them.
            if value and "," not in value and "(" not in value:
                table[value] = (country.alpha_2, NAME)
    data = _alias_data()
    for code, entry in data.items():
        if code.startswith("_"):
            continue
        for kind, key in (
            (DEMONYM, "demonyms"),
            (CAPITAL, "capitals"),
            (LEADER, "leaders"),
            (GOV, "gov"),
            (NAME, "names"),
        ):
            for surface in entry.get(key, []):
                old = table.get(surface)
                if old is None or old[0] == code or _KIND_ORDER[kind] <= _KIND_ORDER.get(old[1], 9):
                    table[surface] = (code, kind)
    for surface in data.get("_blockers", []):
        table[surface] = ("", BLOCKER)
    return table, frozenset(data.get("_ambiguous", []))


@cache
def _automaton() -> ahocorasick.Automaton:
    """Surface -> (surface, code, kind, length, hyphen before it breaks the word, may end mid-word,
    needs a second look: a blocker or an ambiguous word)."""
    table, ambiguous = _surfaces()
    automaton = ahocorasick.Automaton()
    for surface, (code, kind) in table.items():
        automaton.add_word(
            surface,
            (
                surface,
                code,
                kind,
                len(surface),
                surface[0].isalpha(),
                surface[-1] == ".",
                kind == BLOCKER or surface in ambiguous,
            ),
        )
    automaton.make_automaton()
    return automaton


@cache
def _names() -> dict[str, str]:
    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    for code, entry in _alias_data().items():
        if not code.startswith("_") and entry.get("names"):
            names[code] = entry["names"][0]
    return names


def country_name(code: str) -> str:
    """Common English name for an ISO alpha-2 code ("KP" -> "North Korea"); the code if unknown."""
    return _names().get(code.upper(), code.upper())


def all_codes() -> frozenset[str]:
    """Every code the gazetteer knows."""
    return frozenset(_names())


@cache
def lookup(name: str) -> str | None:
    """Code for a country name, alias, capital or demonym given by a user (case-insensitive)."""
    wanted = name.strip().casefold()
    if len(wanted) == 2 and wanted.upper() in _names():
        return wanted.upper()
    table, _ = _surfaces()
    for surface, (code, kind) in table.items():
        if kind in (NAME, DEMONYM, CAPITAL) and surface.casefold() == wanted:
            return code
    for country in pycountry.countries:
        if wanted in (country.alpha_3.casefold(), country.name.casefold()):
            return country.alpha_2
    return None


@cache
def capitals_upper() -> dict[str, str]:
    """Upper-case capital -> code, for wire datelines such as "KUALA LUMPUR —"."""
    table, _ = _surfaces()
    return {s.upper(): code for s, (code, kind) in table.items() if kind == CAPITAL}


_CAP_WORD_BEFORE = re.compile(r"([A-Z][\w'-]*)\s+$")
_CAP_WORD_AFTER = re.compile(r"^\s+([A-Z][\w'-]*)")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n•\-–—]\s*|[\"“‘(]\s*)$")
_CONNECTORS = frozenset(
    {
        "And",
        "The",
        "In",
        "On",
        "At",
        "For",
        "But",
        "While",
        "Both",
        "Neither",
        "Only",
        "From",
        "To",
        "With",
        "By",
        "As",
        "After",
        "Since",
        "When",
        "Yet",
        "Like",
    }
)


def _ambiguous_ok(text: str, start: int, end: int) -> bool:
    """An ambiguous surface ("Jordan", "Georgia", "Chad") counts only when it is not part of a longer
    proper name ("Michael Jordan", "Jordan Peterson", "Washington Post"); never guessed otherwise."""
    before = text[max(0, start - 40) : start]
    m = _CAP_WORD_BEFORE.search(before)
    if m and m.group(1) not in _CONNECTORS and not _SENTENCE_START.search(before[: m.start()]):
        return False
    after = text[end : end + 30]
    m = _CAP_WORD_AFTER.match(after)
    return not (m and not after.startswith(("'s", "’s")))


def find_mentions(text: str) -> list[Mention]:
    """All country mentions in ``text``, left to right, longest match, on word boundaries."""
    found: list[Mention] = []
    n = len(text)
    for end_index, (
        surface,
        code,
        kind,
        length,
        alpha_first,
        dot_last,
        second_look,
    ) in _automaton().iter_long(text):
        start = end_index - length + 1
        end = end_index + 1
        if start > 0:
            prev = text[start - 1]
            if prev.isalnum() or prev == "_" or (prev == "-" and alpha_first):
                continue
        if end < n and not dot_last and (text[end].isalnum() or text[end] == "_"):
            continue
        if second_look and (kind == BLOCKER or not _ambiguous_ok(text, start, end)):
            continue
        found.append(_new(Mention, (start, end, code, kind, surface)))
    return found
