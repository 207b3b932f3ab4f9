"""Who acts in a clause: which country mentions are governments speaking, not places or objects.

A capital after "in", "to", "against" is a place or an object ("talks in Istanbul", "blaming
Washington"); "X's" counts only before a government noun ("Syria's government", not "Turkey's largest
city"); a demonym counts only before one ("the Iranian foreign ministry", not "Iranian technicians").
"""

from __future__ import annotations

import re

from services.gazetteer import CAPITAL, DEMONYM, Mention
from services.stance.caseless import Caseless

GOV_NOUNS = (
    r"(?:government|governments|foreign ministry|ministry|foreign minister|minister|president|prime minister|"
    r"premier|chancellor|leader|leadership|officials?|authorities|administration|envoy|ambassador|delegations?"
    r"|delegates?|representative|mission|spokes(?:man|woman|person|people)|cabinet|regime|junta|military government"
    r"|military rulers|rulers|transitional authorities|presidency|king|emir|crown prince|state department"
    r"|foreign office|external affairs ministry|information ministry|defen[cs]e minister|head of state|parliament"
    r"|supreme leader|ruling council|council|foreign policy chief|top diplomat|diplomats|embassy|mission to the UN"
    r"|vice-president|deputy|junta|military|official news agency|news agency|Foreign Ministry|Foreign Minister"
    r"|President|Prime Minister|Supreme Leader|Chancellor|counterpart)"
)
_ADJ = (
    r"(?:(?:new|senior|top|own|former|acting|interim|assistant|deputy|current|official|then|military|foreign|"
    r"information|economy|trade|finance|interior|energy|justice|defen[cs]e|transitional|caretaker|"
)
_ADJ += r"\w+-appointed)\s+)*"
_GOV_AFTER = Caseless(
    re.compile(r"^\s+" + _ADJ + GOV_NOUNS + r"\b", re.I)
)  # many branches: lower-cased is faster
_POSSESSIVE = re.compile(r"^[’']s?\b")
# "Brazil's vote in favour", "India's position": the government's own act or word.
_ACTS = r"(?:votes?|decision|position|stance|abstention|condemnation|refusal|backing|support|statement|reaction|response)"
_POSS_GOV = re.compile(
    r"^[’']s?\s+(?:" + _ADJ + GOV_NOUNS + r"|(?:official\s+|own\s+)?" + _ACTS + r")\b", re.I
)
_OBJECT_WORDS = frozenset(
    [
        "in",
        "to",
        "from",
        "at",
        "on",
        "against",
        "toward",
        "towards",
        "into",
        "through",
        "via",
        "across",
        "near",
        "between",
        "with",
        "over",
        "behind",
        "about",
        "under",
        "onto",
        "within",
        "outside",
        "around",
        "beyond",
        "blaming",
        "blamed",
        "followed",
        "following",
        "blame",
        "accusing",
        "accused",
        "urged",
        "urging",
        "told",
        "telling",
        "warned",
        "warning",
        "criticised",
        "criticized",
        "criticising",
        "criticizing",
        "than",
        "like",
        "visit",
        "visited",
        "visiting",
        "hosted",
        "hosting",
        "give",
        "gave",
        "giving",
        "sanctioning",
        "sanctioned",
        "targeting",
        "targeted",
        "isolate",
        "isolating",
        "of",
        "for",
        "among",
        "inside",
        "throughout",
    ]
)
_OF_OK = Caseless(
    re.compile(
        r"(?:governments?|spokes\w+|president|prime minister|minister|representative|ambassador|leader|people|king|emir"
        r"|authorities|delegation|presidency|foreign ministry)\s+of\s+(?:the\s+)?$",
        re.I,
    )
)
_FOR_OK = Caseless(
    re.compile(r"(?:speak\w*|spokes\w+|envoy|ambassador|minister|secretary)\s+for\s+(?:the\s+)?$", re.I)
)
# "the votes in favour came from Japan and Australia": the source of a vote is its caster.
_FROM_OK = re.compile(
    r"\b(?:came|come|comes)\s+(?:\w+\s+)?from\b(?:[^.;:]*\bas well as from)?\s+(?:the\s+)?$"
)
_IN_OK = Caseless(
    re.compile(
        r"(?:(?:officials?|authorities|government|administration|leadership|ministry|spokes\w+)\s+in\s+"
        r"(?:the\s+)?$)|(?:^|[.!?]\s+|^\s*)(?:back\s+)?in\s+$",
        re.I,
    )
)
_AND_GOV_AFTER = re.compile(
    r"^(?:\s*(?:,|,?\s+and|\s+or)\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?)+\s+" + _ADJ + GOV_NOUNS
)
_POSS_NAME = re.compile(r"^[’']s?\s+(?:[A-Z][\w-]+\s+){1,3}")
_OFFICIALS_IN = Caseless(
    re.compile(
        r"(?:officials?|authorities|government|administration|leadership|ministry|spokes\w+)"
        r"\s+in\s+(?:the\s+)?$",
        re.I,
    )
)
_COMMA_GOV = re.compile(r"^,\s+(?:the|a|an|its|his)?\s*" + _ADJ + GOV_NOUNS, re.I)
_PREV_WORD = re.compile(r"([\w’']+)\W*$")  # the reference for ``_prev_word`` (see its test)
_APOSTROPHES = "’'"


def _prev_word(before: str) -> str | None:
    """``_PREV_WORD.search(before).group(1)`` (or None) without trying the regex at every position: the run
    of word characters and apostrophes holding the last word character, or, with no word character at
    all, the first run of apostrophes."""
    k = len(before)
    while k and not (before[k - 1].isalnum() or before[k - 1] == "_"):
        k -= 1
    if not k:
        i = min((at for at in (before.find("’"), before.find("'")) if at >= 0), default=-1)
        if i < 0:
            return None
        j = i + 1
        while j < len(before) and before[j] in _APOSTROPHES:
            j += 1
        return before[i:j]
    i = k - 1
    while i and (before[i - 1].isalnum() or before[i - 1] == "_" or before[i - 1] in _APOSTROPHES):
        i -= 1
    j = k
    while j < len(before) and before[j] in _APOSTROPHES:
        j += 1
    return before[i:j]


# "told Scholz and Macron", "blamed Washington and London": later members of an object list are objects too.
_NAME = r"(?:the\s+)?[A-Z][\w’'.-]*(?:\s+[A-Z][\w’'.-]*){0,2}"
_OBJECT_LIST = re.compile(
    r"\b(?:told|telling|urged|urging|warned|warning|visited|visiting|hosted|hosting|blamed|blaming|accused|accusing"
    r"|critici[sz]ed|critici[sz]ing)\s+"
    + _NAME
    + r"(?:(?:,\s+"
    + _NAME
    + r")*\s+|(?:,\s+"
    + _NAME
    + r")+,\s+)(?:and|or)\s+(?:the\s+)?$"
)
_GROUP_SEP = re.compile(
    r"^(?:[’']s\s+" + GOV_NOUNS + r")?\s*(?:,|;|and|or|&|, and|as well as|nor)\s*(?:the\s+)?$", re.I
)


def is_actor(text: str, m: Mention, line_start: int) -> bool:
    """Whether mention ``m`` can be the government doing something in its clause."""
    after = text[m.end : m.end + 60]
    before = text[max(line_start, m.start - 50) : m.start]
    if m.kind == DEMONYM:
        if not (_GOV_AFTER.match(after) or _AND_GOV_AFTER.match(after)):
            return False
    elif (
        after[:1] in _APOSTROPHES
        and _POSSESSIVE.match(after)
        and not _POSS_GOV.match(after)
        and not _POSS_NAME.match(after)
    ):
        return False
    word = _prev_word(before)
    prev = word.lower() if word else ""
    if (prev == "and" or prev == "or" or prev == "the") and _OBJECT_LIST.search(before):
        return False
    if prev in _OBJECT_WORDS:
        if prev == "of" and _OF_OK.search(before):
            return True
        if prev == "for" and _FOR_OK.search(before):
            return True
        if prev == "from" and _FROM_OK.search(before):
            return True
        if prev == "in" and m.kind in (CAPITAL, "name", "gov") and _IN_OK.search(before):
            # "officials in Colombo" and a sentence-initial "In Beijing, a spokesman ..." speak for the state.
            if not _OFFICIALS_IN.search(before):
                return bool(_COMMA_GOV.match(after))
            return True
        return False
    return True


def groups(text: str, mentions: list[Mention]) -> list[list[Mention]]:
    """Coordinated mentions ("Kenya, Ghana and Mexico") as one group, in text order."""
    out: list[list[Mention]] = []
    for m in mentions:
        if out and _GROUP_SEP.match(text[out[-1][-1].end : m.start]):
            out[-1].append(m)
        else:
            out.append([m])
    return out
