"""Topics: the target a stance is taken toward, its names, and the parties that get no stance."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache

from services.errors import InvalidInputError

DEFAULT_TOPIC = "russia"


@dataclass(frozen=True)
class Topic:
    """What stances are about: ``name`` for display, ``key`` for caching and storage."""

    name: str
    key: str
    target: str  # ISO alpha-2 of the target country
    target_names: tuple[str, ...]
    parties: frozenset[str]
    victim_names: tuple[str, ...] = ()
    context_words: tuple[str, ...] = ()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.strip().casefold()).strip("-")


def _from_file(data: dict, key: str) -> Topic:
    return Topic(
        name=data["name"],
        key=data.get("key", key),
        target=data["target"].upper(),
        target_names=tuple(data.get("target_names", [data["name"]])),
        parties=frozenset(c.upper() for c in data.get("parties", [data["target"]])),
        victim_names=tuple(data.get("victim_names", [])),
        context_words=tuple(data.get("context_words", [])),
    )


def _from_gazetteer(code: str) -> Topic:
    # Any country can be a target: its own names, capital and leaders name it; it is the only party.
    from services.gazetteer import _alias_data, country_name

    entry = _alias_data().get(code, {})
    name = country_name(code)
    names = [
        name,
        *entry.get("names", []),
        *entry.get("capitals", []),
        *entry.get("leaders", []),
        *entry.get("gov", []),
    ]
    names = list(dict.fromkeys(names))
    context = [*names, *entry.get("demonyms", [])]
    return Topic(
        name=name,
        key=_slug(name),
        target=code,
        target_names=tuple(names),
        parties=frozenset({code}),
        victim_names=(),
        context_words=tuple(dict.fromkeys(context)),
    )


@cache
def load_topic(name: str | None = None) -> Topic:
    """The topic for ``name`` (default "russia"): ``seeds/topics/<slug>.toml`` if present, else built
    from the gazetteer for that country.

    :raise InvalidInputError: ``name`` is neither a topic file nor a country the gazetteer knows.
    """
    from seeds import TOPICS_DIR

    slug = _slug(name or DEFAULT_TOPIC)
    path = TOPICS_DIR / f"{slug}.toml"
    if path.is_file():
        with path.open("rb") as fh:
            return _from_file(tomllib.load(fh), slug)
    from services.gazetteer import lookup

    code = lookup(name or "")
    if code is None:
        raise InvalidInputError(
            f"unknown target {name!r}: not a topic in seeds/topics and not a country name"
        )
    for candidate in TOPICS_DIR.glob("*.toml"):
        with candidate.open("rb") as fh:
            data = tomllib.load(fh)
        if data.get("target", "").upper() == code:
            return _from_file(data, candidate.stem)
    return _from_gazetteer(code)
