"""The extraction pass: walk lines, sentences and clauses; attach each cue to the government it is about."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field

from services.gazetteer import DEMONYM, Mention, find_mentions
from services.stance import structure
from services.stance.actors import _GROUP_SEP, GOV_NOUNS, groups, is_actor
from services.stance.aggregate import Evidence, decide
from services.stance.caseless import Caseless
from services.stance.cues import (
    BLOCK,
    CHANGE,
    COPY,
    ENUM,
    NONGOV,
    STANCE,
    CompiledCues,
    CueHit,
    compile_cues,
    find_cues,
    negation,
)
from services.stance.segment import Span, clauses, lines, sentences, sentences_by_line
from services.stance.topic import Topic, load_topic
from services.types import Observation, Stance

_ANAPHOR = Caseless(
    re.compile(
        r"\b(?:the country|its|it|his|her|he|she|the government|the kingdom|the republic|the ministry|"
        r"the foreign ministry|the presidency|the president|the prime minister|the chancellor|officials|"
        r"the foreign minister|the spokes\w+|the administration|the leader|we|our|my country|the junta|"
        r"the military government|the regime|the authorities|the delegation|the envoy|the emirate|"
        r"the island nation|the state)\b",
        re.I,
    )
)
_PLURAL_ANAPHOR = Caseless(
    re.compile(
        r"\b(?:both|neither|the two|they|their|the leaders|all (?:two|three|four|five|six)|"
        r"these governments|those governments|the pair)\b",
        re.I,
    )
)
# Non-country actors: a cue after one of these belongs to it, not to the country named earlier
# ("Lukashenko said the war was forced on Moscow by Western governments that had been arming Kyiv").
_OTHER_ACTOR = re.compile(
    r"\b(?:Western (?:governments|capitals|countries|allies|partners|nations|powers|diplomats|officials|envoys"
    r"|leaders|ambassadors)|European (?:diplomats|officials|envoys)|the West|NATO"
    r"|the (?:EU|European Union|European Commission|African Union|Security Council|bloc))\b"
)
_OTHER_OBJECT = re.compile(
    r"\b(?:of|to|in|at|with|from|on|toward|towards|than|join|joining|joined|joins|told|telling|urged|urging|warned"
    r"|addressed|addressing|briefed|asked)\s+$"
)
# A party (the target or the other side) as the subject of its own clause: "Russian officials declined to
# comment", "and Moscow denied it". A cue after it is the party's, not an earlier country's.
_PARTY_SUBJ_BEFORE = Caseless(
    re.compile(r"(?:^|[,;]\s*|\b(?:and|but|while|whereas|as|when|after)\s+)(?:the\s+)?$", re.I)
)
_PARTY_SUBJ_AFTER = re.compile(
    r"^(?:[’']s\s+" + GOV_NOUNS + r"|\s+(?:also\s+|has\s+|have\s+|had\s+)?"
    r"(?!and\b|or\b|nor\b)[a-z]+(?:ed|s)\b)"
)
# What a party says about others is its claim, not their stance: "The Kremlin said that Uganda supported ...".
_PARTY_SPEECH = re.compile(
    r"\s+(?:has\s+|had\s+)?(?:also\s+)?(?:said|says|claimed|claims|told|insisted|asserted|"
    r"announced|declared|listed|named|thanked)\b"
)
# "Taiwan joined the United States and the EU in imposing sanctions": the subject acts with its partners.
_JOINED_IN = re.compile(r"\s+(?:also\s+|has\s+|had\s+|have\s+)?join(?:ed|s)?\s+(?:\w+\s+){0,8}?in\s+$")
_GOV_WORDS = re.compile(r"\s+(?:[\w-]+\s+){0,2}?" + GOV_NOUNS + r"\b")
_CAPWORD = re.compile(r"\b[A-Z][\w’'.-]*")
_RELATIVE_BEFORE = re.compile(r",\s+(?:which|who|whose)\b[^,]*$")
_LEAD_VERB = re.compile(r"^(?:(?:also|then|later|now|again|finally|still|quickly|instead|likewise)\s+)*$")
_RELATIVE = re.compile(r",\s+(?:which|who|whose)\b[^,;]*(?:,|$)")


_ATTRIBUTABLE = frozenset({STANCE, COPY, ENUM})
_new = tuple.__new__  # ``_new(Evidence, (...))``: a named tuple without its Python-level ``__new__``


# Longest heading-through-item evidence (characters) before the heading alone is used.
MAX_STRUCTURAL_EVIDENCE = 400


@dataclass
class _State:
    focus: list[str] = field(default_factory=list)
    last_group: list[str] = field(default_factory=list)
    last_event: tuple[Stance, float] | None = None
    pending: tuple[Stance, float, int] | None = None  # stance, strength, sentence index
    order: int = 0
    evidence: list[Evidence] = field(default_factory=list)
    actor_cache: dict[int, bool] = field(default_factory=dict)  # mention start -> is_actor


def _eligible(text: str, m: Mention, line: Span, topic: Topic, state: _State) -> bool:
    known = state.actor_cache.get(m.start)
    if known is None:
        known = m.code not in topic.parties and is_actor(text, m, line.start)
        state.actor_cache[m.start] = known
    return known


def extract_stances(text: str, topic: Topic | None = None) -> list[Observation]:
    """One observation per country whose government's stance toward the topic's target the text states.

    Pure and deterministic; sorted by country code. Parties to the conflict never get a stance.
    """
    topic = topic or load_topic()
    cues = compile_cues(topic)
    if not text or not cues.context.search(text):
        return []
    mentions = [m for m in find_mentions(text)]
    starts = [m.start for m in mentions]
    all_lines = lines(text)
    line_sentences = sentences_by_line(text, all_lines)
    windows = [(s.start, s.end) for sents in line_sentences for s in sents]
    hits = find_cues(text, cues, windows)
    hit_starts = [h.start for h in hits]
    state = _State()
    heading: tuple[Stance | None, float, Span] | None = None
    item_group: list[str] = []
    raws = [text[ln.start : ln.end] for ln in all_lines]
    raws.append(None)  # the line after the last one
    # A heading with no stance word of its own ("First movers:") takes the stance of an actor-less cue in
    # the lead line just before it ("Nine capitals have expelled Russian diplomats."), and only that line's.
    lead_pending: tuple[Stance, float, int] | None = None
    for index, line in enumerate(all_lines):
        raw = raws[index]
        nxt = raws[index + 1]
        line_mentions = _between(mentions, starts, line.start, line.end)
        line_hits = _between(hits, hit_starts, line.start, line.end)
        if not line_mentions and not line_hits:
            # Nothing to attribute and nobody to focus on: only a bare heading ("In favour:") matters.
            if structure.is_heading(raw, nxt):
                is_roll, roll_stance = structure.roll_call_stance(raw)
                heading = (
                    (roll_stance, structure.ROLL_STRENGTH, line)
                    if is_roll
                    else _lead_heading(None, None if _CONTRAST_HEADING.search(raw) else lead_pending, line)
                )
            else:
                item_group = []
            continue
        is_roll, roll_stance = structure.roll_call_stance(raw)
        if is_roll and not line_mentions and nxt is not None and structure.ITEM.match(nxt):
            # "In favour:" over a bulleted list: every item voted that way.
            heading = (roll_stance, structure.ROLL_STRENGTH, line)
            continue
        if structure.is_heading(raw, nxt):
            # "Many governments condemned the invasion. Others have been quieter:": the stance of an earlier
            # sentence does not carry over a heading that sets its list apart from it.
            last = line_sentences[index][-1] if line_sentences[index] else line
            own = [h for h in line_hits if h.start >= last.start]
            contrast = _CONTRAST_HEADING.search(text, last.start, last.end)
            stance = _strongest(text, own if contrast else line_hits)
            heading = _lead_heading(stance, None if contrast else lead_pending, line)
            continue
        if is_roll:
            for m in line_mentions:
                if roll_stance is not None and m.code not in topic.parties:
                    _add(state, m.code, roll_stance, structure.ROLL_STRENGTH, line, False)
            heading = None
            continue
        item = structure.ITEM.match(raw)
        body_start = line.start
        item_group = []
        if item:
            body_start = line.start + item.end()
            lead = _leading_group(text, line_mentions, body_start, topic)
            item_group = [m.code for m in lead]
            if item_group:
                state.focus = list(item_group)
                if len(item_group) > 1:
                    state.last_group = list(item_group)
                if heading and heading[0] is not None:
                    # Evidence is the heading through the item when they sit together; for an item
                    # far down a long list, the heading alone (not every item in between).
                    span = Span(heading[2].start, line.end)
                    if span.end - span.start > MAX_STRUCTURAL_EVIDENCE:
                        span = heading[2]
                    for code in item_group:
                        _add(state, code, heading[0], heading[1], span, False, structural=True)
                body_start = lead[-1].end
        code, skip = structure.dateline_code(raw)
        if code:
            state.focus = [code]
            item_group = [code]
            body_start = line.start + skip
        sents = line_sentences[index] if body_start == line.start else sentences(text, body_start, line.end)
        before = state.pending
        for sent in sents:
            _sentence(text, sent, line, mentions, starts, hits, hit_starts, cues, topic, state, item_group)
        lead_pending = state.pending if state.pending is not before else None
    return decide(text, state.evidence)


_CONTRAST_HEADING = re.compile(
    r"\b(?:[Ww]here|[Hh]ow|stands?|[Oo]thers?|[Rr]est|remaining|not|no|quiet\w*|yet|instead|[Hh]oldouts?|held|holding"
    r"|[Bb]ut|while|[Uu]nlike|contrast|[Hh]owever|[Ee]xcept|still|undecided|silent|[Ff]ence)\b"
)


def _lead_heading(
    stance: Stance | None, lead_pending: tuple[Stance, float, int] | None, line: Span
) -> tuple[Stance | None, float, Span]:
    if stance is None and lead_pending is not None:
        return (lead_pending[0], min(lead_pending[1], structure.HEADING_STRENGTH), line)
    return (stance, structure.HEADING_STRENGTH, line)


def _between(items: list, starts: list[int], lo: int, hi: int) -> list:
    return items[bisect_left(starts, lo) : bisect_left(starts, hi)]


def _strongest(text: str, hits: list[CueHit]) -> Stance | None:
    best: tuple[float, Stance] | None = None
    for hit in hits:
        if hit.spec.kind != STANCE or hit.spec.stance is None:
            continue
        stance, strength = hit.spec.stance, hit.spec.strength
        if best is None or strength > best[0]:
            best = (strength, stance)
    return best[1] if best else None


def _leading_group(text: str, line_mentions: list[Mention], body_start: int, topic: Topic) -> list[Mention]:
    """The countries an item is about: the coordinated mentions it starts with."""
    lead = [m for m in line_mentions if m.start >= body_start]
    if not lead or lead[0].start - body_start > 4:
        return []
    first = groups(text, lead)[0]
    return [m for m in first if m.code not in topic.parties]


def _add(
    state: _State,
    code: str,
    stance: Stance,
    strength: float,
    span: Span,
    changed: bool,
    structural: bool = False,
) -> None:
    state.order += 1
    state.evidence.append(
        _new(Evidence, (code, stance, strength, state.order, span.start, span.end, changed, structural))
    )


def _sentence(
    text: str,
    sent: Span,
    line: Span,
    mentions: list[Mention],
    starts: list[int],
    hits: list[CueHit],
    hit_starts: list[int],
    cues: CompiledCues,
    topic: Topic,
    state: _State,
    item_group: list[str],
) -> None:
    lo, hi = sent
    sent_mentions = mentions[bisect_left(starts, lo) : bisect_left(starts, hi)]
    sent_hits = hits[bisect_left(hit_starts, lo) : bisect_left(hit_starts, hi)]
    if not sent_mentions and not sent_hits:
        return
    for h in sent_hits:
        if h.spec.kind in _ATTRIBUTABLE:
            break
    else:
        # Nothing to attribute: only keep track of who the sentence is about, for "the country" later.
        _track_focus(text, sent_mentions, line, topic, state)
        return
    changed = any(h.spec.kind == CHANGE for h in sent_hits)
    sent_text = text[sent.start : sent.end]
    relative = (
        [(sent.start + m.start(), sent.start + m.end()) for m in _RELATIVE.finditer(sent_text)]
        if ", wh" in sent_text
        else []
    )
    prev_actors: list[str] = []
    sentence_actor_codes: list[str] = []
    speech_at = _party_speech(text, sent, sent_mentions, topic)
    sent_eligible = [m for m in sent_mentions if _eligible(text, m, line, topic, state)]
    sent_groups = groups(text, sent_eligible)
    for clause in clauses(text, sent.start, sent.end):
        c_mentions = [m for m in sent_mentions if clause.start <= m.start < clause.end]
        c_hits = [h for h in sent_hits if clause.start <= h.start < clause.end]
        eligible = [m for m in sent_eligible if clause.start <= m.start < clause.end]
        c_groups = groups(text, eligible)
        blocked = False
        nongov_at = enum_at = None
        for h in c_hits:  # the clause's bookkeeping cues, in one pass
            kind = h.spec.kind
            if kind == BLOCK:
                blocked = blocked or h.spec.name == "unconfirmed"
            elif kind == NONGOV:
                nongov_at = h.start if nongov_at is None else min(nongov_at, h.start)
            elif kind == ENUM and enum_at is None:
                enum_at = h.end
        # A stance announced for a group ("countries that have yet to ...") lands on the list that follows.
        if state.pending and enum_at is not None:
            listed = [m for m in eligible if m.start >= enum_at]
            for m in listed:
                _add(state, m.code, state.pending[0], state.pending[1], sent, changed)
            if listed:
                state.pending = None
        clause_actors: list[str] = []
        party_subjects: list[int] | None = None
        for hit in c_hits:
            spec = hit.spec
            if spec.kind not in (STANCE, COPY) or blocked:
                continue
            if nongov_at is not None and nongov_at < hit.start:
                continue
            if spec.needs_context and not cues.target.search(sent_text):
                continue
            if speech_at is not None and hit.start > speech_at:
                continue
            if spec.name == "condemn" and _other_object(text, hit, topic):
                continue
            stance, strength = spec.stance, spec.strength
            if spec.kind == COPY:
                if state.last_event is None:
                    continue
                stance, strength = state.last_event
            elif spec.negatable:
                neg = negation(text[max(clause.start, hit.start - 45) : hit.start])
                if neg == "irrealis":
                    continue
                if neg == "neg":
                    if spec.negated is None:
                        continue
                    stance, strength = spec.negated
            if any(a <= hit.start < b for a, b in relative):
                strength *= 0.5
            assert stance is not None
            if party_subjects is None:
                party_subjects = _party_subjects(text, clause, c_mentions, topic)
            actors = _actors(
                text,
                hit,
                clause,
                c_groups,
                state,
                prev_actors,
                item_group,
                party_subjects,
                sent_groups if text[clause.end : clause.end + 2].startswith(":") else [],
            )
            if not actors:
                if spec.kind == STANCE and strength >= 1.5:
                    state.pending = (stance, strength, 0)
                    if enum_at is not None and enum_at > hit.end:
                        listed = [m for m in eligible if m.start >= enum_at]
                        for m in listed:
                            _add(state, m.code, stance, strength, sent, changed)
                        if listed:
                            state.pending = None
                continue
            for code in actors:
                _add(state, code, stance, strength, sent, changed)
            clause_actors = actors
            state.last_event = (stance, strength)
        if c_groups:
            first = [m.code for m in c_groups[0]]
            state.focus = first
            if len(first) > 1:
                state.last_group = first
            sentence_actor_codes.extend(m.code for m in eligible)
        if clause_actors:
            state.focus = clause_actors
            if len(clause_actors) > 1:
                state.last_group = clause_actors
        prev_actors = clause_actors or ([m.code for m in c_groups[0]] if c_groups else prev_actors)


def _track_focus(text: str, sent_mentions: list[Mention], line: Span, topic: Topic, state: _State) -> None:
    group: list[Mention] = []
    for m in sent_mentions:
        if not _eligible(text, m, line, topic, state):
            if group:
                break
            continue
        if group and not _GROUP_SEP.match(text[group[-1].end : m.start]):  # not coordinated with the group
            break
        group.append(m)
    if group:
        codes = _codes(group)
        state.focus = codes
        if len(codes) > 1:
            state.last_group = codes


def _actors(
    text: str,
    hit: CueHit,
    clause: Span,
    c_groups: list[list[Mention]],
    state: _State,
    prev_actors: list[str],
    item_group: list[str],
    party_subjects: list[int],
    sent_after: list[list[Mention]],
) -> list[str]:
    before = [g for g in c_groups if g[-1].end <= hit.start]
    after = [g for g in c_groups if g[0].start >= hit.start]
    if hit.spec.kind == COPY and after:
        return _codes(after[0])
    for i, g in enumerate(before):
        if _JOINED_IN.match(text, g[-1].end, hit.start) and not _other_actor(text, clause.start, g[0].start):
            return list(dict.fromkeys(c for grp in before[i:] for c in _codes(grp)))
    if before:
        lo = before[-1][-1].end
        if _other_actor(text, lo, hit.start) or (
            party_subjects and any(lo <= p < hit.start for p in party_subjects)
        ):
            return []
        return _codes(before[-1])
    prefix = text[clause.start : hit.start]
    if _other_actor(text, clause.start, hit.start) or (
        party_subjects and any(clause.start <= p < hit.start for p in party_subjects)
    ):
        return []
    if prev_actors and _LEAD_VERB.match(prefix):
        # "Gabon backed the March text but voted against the suspension": no new subject.
        return list(prev_actors)
    if not after and sent_after:
        after = [g for g in sent_after if g[0].start >= hit.start]
    if state.last_group and _PLURAL_ANAPHOR.search(prefix):
        return list(state.last_group)
    if state.focus and _ANAPHOR.search(prefix):
        return list(state.focus)
    if after:
        return _codes(after[0])
    if prev_actors:
        return list(prev_actors)
    if item_group:
        return list(item_group)
    return []


def _before(text: str, lo: int, at: int) -> str:
    """Up to 12 characters before ``at`` but not before ``lo`` (so that ``^`` means the clause start)."""
    return text[max(lo, at - 12) : at] if at - 12 <= lo else "#" + text[at - 12 : at]


def _party_speech(text: str, sent: Span, sent_mentions: list[Mention], topic: Topic) -> int | None:
    """Where a party starts speaking in the sentence ("The Kremlin said ..."), or None."""
    for m in sent_mentions:
        if m.code not in topic.parties:
            continue
        after = m.end
        if m.kind == DEMONYM:
            g = _GOV_WORDS.match(text, m.end, m.end + 40)
            if not g:
                continue
            after = g.end()
        # All three tests are pure; the cheap anchored ones go first.
        if _PARTY_SPEECH.match(text, after, after + 40) and _PARTY_SUBJ_BEFORE.search(
            _before(text, sent.start, m.start)
        ):
            return m.start
    return None


_ALLOWED_CACHE: dict[str, frozenset[str]] = {}
_TITLES = frozenset(
    [
        "The",
        "A",
        "An",
        "President",
        "Prime",
        "Minister",
        "Mr",
        "Mrs",
        "Ms",
        "UN",
        "U.N.",
        "United",
        "Nations",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "Charter",
    ]
)


def _other_object(text: str, hit: CueHit, topic: Topic) -> bool:
    """A condemnation of an act by someone else ("condemned the Houthi drone attack"): a proper name in the
    object that is not the target, the other side or the war's places."""
    allowed = _ALLOWED_CACHE.get(topic.key)
    if allowed is None:
        words = {
            w
            for name in (*topic.target_names, *topic.victim_names, *topic.context_words)
            for w in name.split()
        }
        allowed = frozenset(words | _TITLES)
        _ALLOWED_CACHE[topic.key] = allowed
    span = text[hit.start : hit.end]
    first = span.find(" ")
    for m in _CAPWORD.finditer(span, first + 1 if first > 0 else len(span)):
        word = m.group(0).rstrip(".,")
        for suffix in ("'s", "’s", "'", "’"):
            word = word.removesuffix(suffix)
        if word not in allowed:
            return True
    return False


def _other_actor(text: str, lo: int, hi: int) -> bool:
    """A non-country actor (NATO, the EU) acting between ``lo`` and ``hi``; "chair of the African Union" is
    an apposition, not an actor."""
    for m in _OTHER_ACTOR.finditer(text, lo, hi):
        if not _OTHER_OBJECT.search(text, max(lo, m.start() - 12), m.start()):
            return True
    return False


def _party_subjects(text: str, clause: Span, c_mentions: list[Mention], topic: Topic) -> list[int]:
    out = []
    for m in c_mentions:
        if m.code not in topic.parties:
            continue
        after = text[m.end : m.end + 60]
        if m.kind == DEMONYM:
            if is_actor(text, m, clause.start) and not _RELATIVE_BEFORE.search(text, clause.start, m.start):
                out.append(m.start)
        elif _PARTY_SUBJ_AFTER.match(after) and _PARTY_SUBJ_BEFORE.search(
            _before(text, clause.start, m.start)
        ):
            out.append(m.start)
    return out


def _codes(group: list[Mention]) -> list[str]:
    return list(dict.fromkeys([m.code for m in group]))
