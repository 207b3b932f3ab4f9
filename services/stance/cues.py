"""Cue phrases: how journalists write that a government backs, condemns, sits out or has not spoken.

Each cue is a regular expression with a stance toward the target and a strength. Strength encodes the
precedence in docs/stance.md: explicit condemnation (3.0) > explicit neutrality (2.6) > votes, sanctions,
weapons, backing, justification (2.0-2.4) > undeclared (1.8) > calls for talks (1.0). ``negated`` is
the reading when a negator precedes the cue ("did not condemn", "refused to join sanctions").
Placeholders: {T} target names, {V} the other side, {A} words for the act of aggression.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import ahocorasick

try:  # the regular-expression parser, to read the literal prefixes a cue's match must start with
    import re._parser as _sre_parse
    from re._constants import ASSERT, ASSERT_NOT, AT, BRANCH, IN, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN
except ImportError:  # pragma: no cover - older layouts: no anchoring, every cue is scanned with ``search``
    _sre_parse = None

from services.stance.caseless import Caseless
from services.stance.caseless import lower_pattern as _lower_pattern
from services.stance.topic import Topic
from services.types import Stance

SUP, OPP, NEU, UND = Stance.SUPPORTS, Stance.OPPOSES, Stance.NEUTRAL, Stance.UNDECLARED

# Kinds besides plain stance cues.
STANCE, COPY, BLOCK, NONGOV, CHANGE, ENUM = "stance", "copy", "block", "nongov", "change", "enum"


@dataclass(frozen=True, slots=True)
class CueSpec:
    name: str
    pattern: str
    stance: Stance | None = None
    strength: float = 0.0
    kind: str = STANCE
    negated: tuple[Stance, float] | None = None  # reading under negation; None: negation drops it
    negatable: bool = True
    priority: int = 1  # overlapping hits: the higher priority wins
    needs_context: bool = False  # only counts in a sentence that names the target, the war or sanctions


class CueHit(NamedTuple):
    start: int
    end: int
    spec: CueSpec


_new = tuple.__new__  # ``_new(CueHit, (...))``: a named tuple without its Python-level ``__new__``

_A = (
    r"(?:invasion|invading|attack|assault|aggression|war|offensive|incursion|military operation|operation"
    r"|annexation|violation|use of force|bombing|strikes|decision to go to war|military action|intervention)"
)
_GAP = r"(?:(?!but\b|while\b|whereas\b)[\w'’,-]+\s+){0,%d}?"  # never across "but"/"while"
_WEAPONS = (
    r"(?:weapons|arms|missiles|tanks|artillery|howitzers|ammunition|shells|rocket launchers|drones"
    r"|air[- ]defen[cs]e\w*|stingers?|javelins|armou?red vehicles|helmets|S-300s?|military aid"
    r"|military assistance|Leopard|HIMARS|anti-tank|anti-aircraft|grenade launchers|machine guns"
    r"|fighter jets|jets|helicopters|battle tanks|military equipment|lethal aid|launchers|fighting vehicles"
    r"|guns|F-16s?|Patriots?|NASAMS|IRIS-T|munitions|rockets|ballistic missiles|shahed)"
)

SPECS: tuple[CueSpec, ...] = (
    # --- opposes: condemnation and its equivalents -------------------------------------------------
    CueSpec(
        "condemn",
        r"\b(?:condemn\w*|denounc\w*|deplor\w*|decr(?:y|ied|ies))\b\s+(?:(?!sanction)[\w'’,-]+\s+){0,7}?"
        r"(?:" + _A + r"|{T}(?![’']s\s+(?:allies|partners|friends)))\b",
        OPP,
        3.0,
        negated=(SUP, 1.2),
    ),
    CueSpec(
        "condemn-bare",
        r"\b(?:condemned|condemns|condemning) (?:it|this|the move)\b",
        OPP,
        2.8,
        negated=(SUP, 1.2),
    ),
    CueSpec(
        "grave",
        r"\b(?:grave|flagrant|blatant|serious|clear|gross) (?:violation|breach)\b|\bbreach of (?:the UN Charter|"
        r"the Charter|international law)|\bviolation of (?:(?:every|the) (?:\w+ )?principles? of )?(?:the UN Charter|the Charter|international law)|\bviolat\w+ (?:the UN Charter|international law|(?:Ukraine's |its )?sovereignty)"
        r"|\b(?:unprovoked|unjustified|unjustifiable|unlawful|illegal) (?:attack|invasion|war|assault|aggression)"
        r"|\begregious attack|\bbrutal (?:assault|attack|invasion)|\bunacceptable\b|\bwar crimes\b|\bPutin[’']s war\b"
        r"|\bunprovoked and unlawful\b|\breject\w* (?:{T}[’']s |the Russian )(?:aggression|invasion|attack|war)\b"
        r"|\bcall\w* (?:the |{T}[’']s )?(?:invasion|war|attack|aggression)(?: of {V})? (?:an? )?(?:aberration|outrage|crime"
        r"|disgrace|abomination|barbar\w+)|\b(?:oppos\w*|reject\w*) (?:the|any) use of (?:armed )?force\b|\bopposed to the invasion\b|\bagainst the invasion\b"
        r"|\bnot agree with an invasion|\b(?:not|never) (?:be |remain |stay )?neutral (?:in the face of|toward|towards|about|on)"
        r" (?:\w+\s+){0,2}?(?:aggression|invasion|war)|\b(?:war|act) of aggression\b|\bcrime of aggression\b"
        r"|\b(?:cannot|can not|could not|will not|would not|won't|does not|do not|never) accept (?:\w+\s+){0,3}?(?:invasion"
        r"|annexation|aggression|attack)|\bbreach\w* (?:the )?(?:UN Charter|Charter|international law|territorial integrity)",
        OPP,
        2.8,
        negated=None,
    ),
    CueSpec(
        "withdraw",
        r"\b(?:demand\w*|call\w* (?:on|for)|urg\w*|press\w*)\s+"
        + _GAP % 6
        + r"(?:withdraw\w*|pull\w* (?:its |their )?(?:forces|troops)?\s*(?:back|out)|stop the (?:offensive|war|attack)"
        r"|leave Ukraine|end (?:the|its) (?:war|invasion|aggression))",
        OPP,
        2.4,
        negated=None,
    ),
    CueSpec(
        "stand-victim",
        r"\b(?:st(?:an|oo)d\w* (?:with|by)|solidarity with|back\w* |support\w* |respect\w* )\s*(?:the people of "
        r"|(?:the )?(?:independence|sovereignty|territorial integrity)(?:,? (?:and )?(?:independence|sovereignty|territorial "
        r"integrity|unity))* of )?(?:{V}|the Ukrainian people)\b",
        OPP,
        2.0,
        negated=None,
    ),
    # --- opposes: sanctions and export controls -------------------------------------------------------
    CueSpec(
        "sanction-verb",
        r"\b(?:impos\w+|announc\w+|adopt\w*|appl(?:y|ied|ies|ying)|join\w*|back\w*|align\w*|follow\w*"
        r"|extend\w*|tighten\w*|agree\w*|enforc\w*|cop(?:y|ied|ies)|slapp\w*|add\w*|sign\w* (?:off|on) on|introduc\w*"
        r"|expand\w*|widen\w*|unveil\w*|approv\w*|keep adding)\s+"
        + _GAP % 6
        + r"(?:sanctions?|penalties|measures|packages?|export controls|asset freezes|travel bans|listings|designations)\b",
        OPP,
        2.2,
        negated=(NEU, 1.2),
        needs_context=True,
    ),
    CueSpec(
        "sanction-direct",
        r"\b(?:sanction(?:ed|ing|s)?\s+(?:on\s+|against\s+)?(?:\w+\s+){0,3}?(?:{T}|Russian|Belarusian)"
        r"|sanctioned by|sanctions list|financial penalties|froz\w* (?:\w+\s+){0,3}?(?:accounts|funds|property) (?:\w+\s+){0,4}?"
        r"(?:Russian|sanctioned|oligarchs?)|freez\w+ (?:\w+\s+){0,4}?(?:assets|reserves)|froze\s+"
        r"(?:\w+\s+){0,4}?(?:assets|reserves)|frozen (?:\w+\s+){0,4}?(?:assets|reserves)|asset freezes|export controls"
        r"|cut\w* (?:[\w'’]+\s+){0,6}?off from (?:SWIFT|the dollar|the global)|SWIFT ban|blocked counterparties"
        r"|banned (?:\w+\s+){0,4}?(?:Aeroflot|Russian)|closed (?:\w+\s+){0,3}?airspace to Russian"
        r"|barred (?:\w+\s+){0,4}?(?:shipments|exports|imports)|expell\w+ (?:\w+\s+){0,2}?Russian diplomats"
        r"|ban\w* (?:\w+\s+){0,3}?imports of Russian|cut (?:\w+\s+){0,3}?imports of Russian"
        r"|export permits? for {T}|sanctions would (?:stay|remain) in place|export bans? (?:on|to|against)"
        r"|ban\w* (?:\w+\s+){0,2}?exports (?:\w+\s+){0,2}?to (?:Russian|{T})"
        r"|(?:stop\w*|suspend\w*|halt\w*) issuing visas to Russian|(?:suspend\w*|halt\w*) (?:\w+\s+){0,3}?visas? (?:for|to) Russian"
        r"|(?:stop\w*|halt\w*|phas\w+ out|ban\w*|cut\w*|reduc\w+) (?:\w+\s+){0,3}?(?:imports? of |importing "
        r"|purchases of |buying |dependence on )?Russian (?:oil|gas|coal|energy|crude|LNG|fuel)"
        r"|(?:halt\w*|suspend\w*|stop\w*|froze|freez\w+|block\w*|shelv\w+) (?:\w+\s+){0,3}?Nord Stream"
        r"|(?:special )?tribunal (?:\w+\s+){0,4}?(?:aggression|{T}|Russian)|(?:referr\w*|refer) (?:\w+\s+){0,4}?"
        r"(?:International Criminal Court|ICC))",
        OPP,
        2.2,
        negated=(NEU, 1.2),
    ),
    CueSpec(
        "no-sanctions",
        r"\b(?:refus\w+|declin\w+|reject\w*|resist\w*|not) (?:to )?(?:\w+ ){0,2}?(?:join|impose|adopt|apply)\w*\s+"
        r"(?:\w+\s+){0,3}?(?:sanctions|the measures)|\bimposed none\b|\bhas not joined the sanctions"
        r"|\bonly sanctions (?:decided|approved|imposed|agreed) by\b|\bnot (?:to )?join (?:in )?(?:the |any )?sanctions"
        r"|\bwithout imposing sanctions|\bno sanctions of its own",
        NEU,
        1.2,
        negatable=False,
        priority=3,
    ),
    CueSpec(
        "anti-sanctions",
        r"\bsanctions (?:\w+\s+){0,4}?(?:illegal|unlawful|counterproductive|useless|pointless|shot in"
        r"|own foot|never solved|change nothing|economic warfare)|\b(?:criticis|criticiz|denounc|condemn|reject|oppos)\w*"
        r"\s+(?:\w+\s+){0,3}?sanctions (?:on|against) {T}",
        SUP,
        1.6,
        negatable=False,
        priority=2,
    ),
    # --- opposes: weapons for the other side ----------------------------------------------------------------
    CueSpec(
        "weapons",
        r"\b(?:sen[dt]\w*|suppl\w+|deliver\w*|ship\w*|hand\w* over|gave|give|giv\w+|provid\w+|donat\w+"
        r"|transfer\w*|re-export\w*|pledg\w+|promis\w+|offer\w*)\s+" + _GAP % 8 + _WEAPONS + r"\b"
        r"|\b(?:bought|buy\w*|purchas\w+|paid for|pay\w* for|financ\w+|fund\w*)\s+"
        + _GAP % 6
        + _WEAPONS
        + r"\s+(?:\w+\s+){0,3}?for {V}\b"
        r"|\b"
        + _WEAPONS
        + r"\s+"
        + _GAP % 8
        + r"(?:sent|shipped|delivered|supplied|handed over|given|donated) "
        r"(?:\w+\s+){0,2}?to {V}|\barming {V}|\bmilitary (?:aid|funding|support) (?:to|for) {V}",
        OPP,
        2.3,
        negated=(NEU, 1.0),
    ),
    CueSpec(
        "weapons-neither",
        r"\bweapons to neither\b|\brefus\w+ to (?:sell|send|supply|hand over|give)\b|\bturned down "
        r"requests for\b|\b(?:not|refus\w+ to|declin\w+ to) (?:allow|permit|let)\w* (?:\w+\s+){0,2}?(?:weapons|arms)"
        r" (?:deliveries|shipments|transfers|supplies|transit)",
        NEU,
        1.2,
        negatable=False,
        priority=3,
    ),
    # --- opposes: acts against the target described without a stance word (round 4) ---------------------------
    CueSpec(
        "opp-acts",
        r"\bexpel\w* (?:[\w'’-]+\s+){0,3}?(?:Russian|{T}[’']s) (?:\w+\s+)?(?:diplomats?|envoys?|ambassador|embassy"
        r"|officials|staff|spies|intelligence)|\border\w* (?:\w+\s+){0,3}?Russian (?:diplomats|envoys|embassy staff"
        r"|officials) to leave|\bdeclar\w+ (?:\w+\s+){0,3}?Russian (?:\w+\s+)?(?:diplomats?|ambassador|envoys?"
        r"|officials?) personae? non gratae?"
        r"|\b(?:shut|clos\w*|bann\w*|barr\w*|den(?:y|ied|ies)) (?:\w+\s+){0,4}?(?:airspace|ports|straits|waters"
        r"|harbou?rs) to (?:\w+\s+){0,2}?(?:Russian|{T})"
        r"|\brecall\w* (?:its|their|his|her|the) (?:\w+\s+)?(?:ambassador|envoy)s? (?:from|to|in) {T}\b"
        r"|\bsummon\w* (?:the )?Russian (?:ambassador|envoy|charg\w+)"
        r"|\b(?:sever\w*|cut|broke|break\w*|downgrad\w*|suspend\w*|froze|freez\w+) (?:\w+\s+){0,2}?(?:diplomatic )?"
        r"(?:relations|ties) with {T}\b|\b(?:suspend\w*|clos\w*) (?:\w+\s+){0,4}?embassy in {T}\b"
        r"|\b(?:seiz\w*|confiscat\w*|impound\w*) (?:[\w'’,-]+\s+){0,6}?(?:Russian|oligarchs?)\b"
        r"|\b(?:cut|sever\w*|suspend\w*|halt\w*|clos\w*) (?:\w+\s+){0,3}?(?:links|connections|flights|routes|crossings)"
        r" (?:to|with) {T}\b",
        OPP,
        2.2,
        negated=None,
    ),
    CueSpec(
        "train-victim",
        r"\btrain\w* (?:[\w'’-]+\s+){0,5}?Ukrainian (?:troops|soldiers|recruits|pilots|forces|servicemen|marines"
        r"|crews|personnel|sailors|gunners|sappers|officers)|\b(?:bought|buy\w*|purchas\w+|paid for|pay\w* for"
        r"|financ\w+|fund\w*) (?:[\w'’-]+\s+){0,5}?for (?:the Ukrainian (?:army|military|armed forces|forces|air force"
        r"|navy)|Ukraine[’']s (?:army|armed forces|military|air force|navy))|\b(?:joined|joins|join|joining|signed up to|sign up to"
        r"|leads|led|leading) (?:\w+\s+){0,3}?coalition (?:\w+\s+){0,8}?(?:{V}|Ukrainian)\b",
        OPP,
        2.2,
        negated=None,
    ),
    CueSpec(
        "sham-vote",
        r"\b(?:sham|illegitimate|fake|staged) (?:referend\w+|votes? in the occupied|annexation)"
        r"|\breferend\w+ (?:[\w'’-]+\s+){0,8}?(?:a sham|a farce|illegitimate|null and void|illegal)"
        r"|\b(?:dismiss\w*|reject\w*|describ\w*|call\w*) (?:\w+\s+){0,5}?(?:referend\w+|annexation) (?:as )?"
        r"(?:\w+\s+)?(?:illegitimate|illegal|a sham|a farce|null and void|fake)",
        OPP,
        2.4,
        negated=None,
    ),
    CueSpec(
        "integrity-victim",
        r"\b(?:support\w*|back\w*|reaffirm\w*|defend\w*|respect\w*|uphold\w*|commit\w*) (?:[\w'’]+\s+){0,4}?{V}[’']s"
        r" (?:\w+\s+)?(?:territorial integrity|sovereignty|independence)|\breaffirm\w* (?:[\w'’]+\s+){0,3}?"
        r"(?:territorial integrity|sovereignty) of {V}\b",
        OPP,
        2.0,
        negated=None,
    ),
    # --- supports: arms for the target, echoing its line (round 4) --------------------------------------------
    CueSpec(
        "arms-to-target",
        r"\b(?:sen[dt]\w*|suppl\w+|deliver\w*|ship\w*|provid\w+|transfer\w*|sold|sell\w*|export\w*)\s+"
        + _GAP % 8
        + _WEAPONS
        + r"\s+(?:[\w'’-]+\s+){0,3}?to (?:(?:help|aid|assist|arm|support) )?(?:{T}|the Russian (?:army|military|forces"
        r"|armed forces))\b|\b(?:that|which) (?:[\w'’-]+\s+){1,3}?(?:has |have |had )?(?:sent|supplied|shipped|delivered"
        r"|sold|provided|transferred) (?:\w+\s+){0,2}?to (?:{T}|the Russian (?:army|military|forces|armed forces))\b",
        SUP,
        2.3,
        negated=None,
        priority=2,
    ),
    CueSpec(
        "echo-line",
        r"\b(?:echo\w*|repeat\w*|parrot\w*|amplif\w*|adopt\w*|embrac\w*) (?:[\w'’]+\s+){0,2}?(?:{T}[’']s|Russian)"
        r" (?:\w+\s+)?(?:line|narrative|talking points|arguments?|justifications?|version of events|propaganda)",
        SUP,
        2.0,
        negated=None,
    ),
    # --- votes at the UN (resolutions read as aimed at the target) -------------------------------------------
    CueSpec(
        "vote-yes",
        r"\bvot\w+ (?:for|in favou?r|yes)\b|\bvoted with the majority\b|\bin the majority\b"
        r"|\b(?:were|was) in favou?r\b|\bvotes? in favou?r\b|\b(?:backed|supported) the (?:\w+\s+){0,2}?(?:resolution|text|demand|call)"
        r"|\bco-?sponsor\w*|\bamong the sponsors\b|\bdrafted the (?:\w+\s+){0,2}?(?:resolution|text)\b|\bsupport for the (?:\w+\s+){0,2}?(?:resolution|text|motion|draft)(?:\s+[\w'’,-]+){0,6}?\s+came from\b|\bvot\w+ against {T}|\bvoted yes\b|\bsupport any resolution",
        OPP,
        2.2,
        negatable=False,
    ),
    CueSpec(
        "vote-no",
        r"\bvot\w+ (?:no\b|against\b(?!\s+{T}))|\bjoined {T} in voting\b|\bvot\w+ with {T}\b"
        r"|\bto a no\b|\bnay\b|\boppos\w* the (?:\w+\s+){0,2}?(?:resolution|text|motion|draft)\b",
        SUP,
        2.2,
        negatable=False,
        priority=2,
    ),
    CueSpec("abstain", r"\babstain\w*|\babstention\w*", NEU, 2.2, negatable=False),
    CueSpec(
        "no-vote",
        r"\bdid not (?:take part in|participate in|vote)\b|\bwas unable to (?:cast|vote)\b"
        r"|\bno vote to cast\b|\bwere absent\b|\bwas absent\b|\babsent from\b|\bbehind on its (?:UN )?dues",
        None,
        0.0,
        BLOCK,
        negatable=False,
    ),
    # --- neutral: explicit neutrality and non-alignment -----------------------------------------------------
    CueSpec(
        "neutral",
        r"\bneutral(?:ity)?\b|\bnon-?align(?:ed|ment)\b|\bequidistan\w+|\beven-handed\b|\bimpartial\w*"
        r"|\bbalanced (?:position|approach|stance|line|policy)\b",
        NEU,
        2.6,
        negated=None,
    ),
    CueSpec(
        "condemn-either",
        r"\b(?:not|never|n't|declin\w+ to|refus\w+ to|avoid\w*|without) (?:\w+\s+)?(?:condemn\w*|criticis\w+|criticiz\w+"
        r"|blam\w+) (?:either|neither|both)\b",
        NEU,
        2.6,
        negatable=False,
        priority=4,
    ),
    CueSpec(
        "neutral-status",
        r"\b(?:military|militarily|constitutional|constitutionally|traditional|traditionally|long-standing|permanent"
        r"|permanently|armed|official) neutral(?:ity)?\b|\bneutral(?:ity)? (?:\w+\s+){0,3}?(?:written into|enshrined in|"
        r"anchored in) (?:its|the) constitution|\bneutral by (?:tradition|constitution|law|treaty)",
        NEU,
        1.0,
        negatable=False,
        priority=2,
    ),
    CueSpec(
        "no-sides",
        r"\b(?:not|never|n't|refus\w+ to|declin\w+ to|avoid\w*)\s+(?:\w+\s+){0,3}?(?:tak\w+|choos\w+|pick\w*)"
        r" (?:a )?sides?\b|\b(?:not|never|n't|refus\w+ to|declin\w+ to|avoid\w*)\s+(?:\w+\s+){0,2}?choos\w* between\b"
        r"|\bnot (?:let (?:itself|themselves|\w+) )?be (?:pushed|drawn|pulled|made|dragged) (?:in)?to\b|\bwill not be made to choose\b"
        r"|\bneither (?:side|camp|bloc)\b|\bjoin (?:any|either) (?:bloc|camp|side)\b|\b(?:either|any) camp\b|\bjoin a camp\b|\bbelong to no bloc\b"
        r"|\bno part in the (?:conflict|war)\b|\bparty to neither\b|\bnot a party to\b|\bnot become a party\b"
        r"|\bnot (?:be )?with anyone\b|\bfriends (?:on|with|in) both sides\b|\bwith no one\b|\bsides? with no one\b|\bfriends with everyone\b"
        r"|\bon the side of peace\b|\bstay out of (?:a |the |this )?(?:\w+\s+){0,3}?(?:quarrel|conflict|war|fight)"
        r"|\bnot turn its back on either\b|\bmiddle (?:path|road|ground)\b|\bsupport both sides\b"
        r"|\b(?:without|not|avoid\w*|declin\w+ to|refus\w+ to) (?:naming|blaming|assigning blame|apportion\w* blame|"
        r"singl\w+ out|criticis\w+|criticiz\w+) (?:to )?(?:either|any|neither)\b|\bnaming neither\b"
        r"|\bavoid\w* assigning blame|\bdeclin\w+ to apportion blame|\bnot to judge either\b|\bkept? (?:his |its |her )?distance"
        r"|\bnot indifferent\b|\bon the fence\b|\b(?:not|never|n't|refus\w+ to|declin\w+ to)\s+(?:\w+\s+){0,2}?align\w*"
        r" (?:itself |themselves |ourselves )?with (?:either|any|neither) (?:side|camp|bloc|party)",
        NEU,
        2.6,
        negatable=False,
        priority=3,
    ),
    CueSpec(
        "dialogue",
        r"\b(?:call\w*|urg\w*|appeal\w*|press\w*|push\w*) (?:\w+\s+){0,5}?(?:for |to )?(?:dialogue|talks|restraint|"
        r"a ceasefire|ceasefire|negotiat\w+|peace|de-escalation|an immediate halt|maximum restraint|diplomacy|agree an? (?:\w+ )?truce"
        r"|an? (?:\w+ )?truce)"
        r"|\b(?:exercise|show) restraint\b|\breturn to (?:diplomacy|dialogue|talks|the negotiating table)|\bintermediary\b"
        r"|\bcease hostilities\b|\bcessation of hostilities\b|\bnegotiated (?:end|solution|peace)\b"
        r"|\b(?:call\w*|urg\w*) (?:on )?(?:both|all) (?:sides|parties)\b|\b(?:put forward|propos\w+|present\w+|unveil\w+"
        r"|offer\w+) (?:\w+\s+){0,2}?peace (?:plan|proposal|initiative)\b|\bmaintain\w* (?:\w+\s+){0,2}?contacts? with both\b"
        r"|\bpeaceful (?:means|settlement|resolution|solution)\b|\b(?:settle|resolve) (?:\w+\s+){0,3}?(?:differences|dispute|quarrel)"
        r"|\b(?:resolv|settl|solv)\w* (?:\w+\s+){0,2}?(?:diplomatically|peacefully|through (?:dialogue|diplomacy|negotiations?"
        r"|talks))"
        r"|\bmediat\w+|\bbroker\w*\b|\bgood offices\b|\bpolitical settlement\b|\bdiplomatic solution\b"
        r"|\bnegotiated settlement\b|\b(?:channels|lines) (?:\w+\s+){0,4}?open\b|\bpush both toward\b|\bgo-between\b"
        r"|\bto negotiate\b|\bkeep negotiating\b|\b(?:importance|need) (?:of|for) (?:\w+\s+){0,2}?(?:dialogue|diplomacy|negotiat\w+"
        r"|restraint|talks|a peaceful|peaceful)",
        NEU,
        1.0,
        negatable=False,
    ),
    # --- supports: backing the target and justifying the act -----------------------------------------------
    CueSpec(
        "back-target",
        r"\b(?:back\w*|support\w*|st(?:an|oo)d\w* (?:by|with|behind)|sid\w+ with|solidarity with|prais\w+"
        r"|endors\w+|defend\w*|allied with|ally of|allies of|in agreement with|understanding for|understood why"
        r"|underst\w+ (?:for )?(?:why )?)\s+(?:[\w'’]+\s+){0,2}?{T}\b(?![’']s (?:opposition|claim))"
        r"|\bfull (?:backing|support)\b|\bvoice\w* support\b|\bprais\w+ the (?:operation|invasion|offensive|recognition)"
        r"|\b(?:prais|hail|applaud|cheer|welcom)\w* (?:the Russian|{T}[’']s|the special) (?:military )?(?:operation|invasion"
        r"|offensive|intervention|campaign)|\bshoulder to shoulder with {T}\b",
        SUP,
        2.2,
        negated=None,
    ),
    CueSpec(
        "justify",
        r"\b{T} (?:\w+\s+){0,3}?(?:defending|protecting|safeguarding|acted to (?:protect|defend|safeguard))"
        r"|\b{T}(?:[’']s)? (?:[\w'’]+\s+){0,4}?(?:was|were|is|are|had been|has been) (?:\w+\s+){0,2}?(?:within its rights|entitled|justified|legitimate)|\bevery right to defend"
        r"|\blegitimate (?:security )?(?:concerns|interests|defen[cs]e)\b|\bsecurity concerns deserved\b"
        r"|\bnecessary (?:step|response|measure)\b|\bno (?:other )?choice\b|\bforced on {T}\b"
        r"|\brefus\w+ to call (?:[\w'’]+\s+){0,6}?(?:an )?invasion|\bnot call (?:it|the \w+) an invasion"
        r"|\bcorrection of history\b|\bspecial military operation\b|\bas a military operation\b"
        r"|\b(?:legitimate|justified|lawful|legal) (?:act of )?self-defen[cs]e\b|\bact of self-defen[cs]e\b"
        r"|\bdefend\w* (?:the |{T}[’']s )(?:invasion|war|offensive|military operation|annexation|attack)\b"
        r"|\b{T} (?:\w+\s+){0,3}?(?:forced|compelled|obliged|provoked) (?:in)?to (?:act|respond|defend|intervene)",
        SUP,
        2.0,
        negatable=False,
        priority=2,
    ),
    CueSpec(
        "blame-west",
        r"\b(?:blam\w+|fault of|rooted in|root causes?|lay in|lies in|provocation\w*|provok\w+|accus\w+|bullying"
        r"|hostile policy|hegemon\w*)\s+"
        r"(?:[\w'’]+\s+){0,6}?(?:NATO|the West|Western|Washington|the U\.?S\.?|the United States|{V})"
        r"|\b(?:NATO|the West|Western|Washington)[’']?s?\s+(?:[\w'’-]+\s+){0,6}?(?:provocations?|expansion|enlargement"
        r"|encirclement|encroachment|march|bullying|promises|pushing|double standards|eastward|had lit|provoked|hegemony)"
        r"|\bbroken (?:\w+\s+){0,2}?promises\b|\b(?:NATO|the West)\b (?:\w+\s+){0,3}?(?:provoked|caused|started|left)"
        r"|\bdouble standards\b|\bblame lies with\b|\broots of the crisis\b|\bpush(?:ing)? NATO\b"
        r"|\b(?:NATO|the West|Washington|the U\.?S\.?|the United States|Western countries) (?:\w+\s+){0,2}?(?:was|were|is|are)"
        r" (?:\w+\s+)?(?:responsible|to blame) for (?:the |this )?(?:war|conflict|crisis|fighting)",
        SUP,
        2.0,
        negated=None,
        priority=2,
    ),
    CueSpec(
        "recognise",
        r"\brecogni[sz]\w*\s+(?:[\w'’-]+\s+){0,7}?(?:republics?|Donetsk|Luhansk|Donbas|independence"
        r"|annexation|breakaway|separatist)",
        SUP,
        2.2,
        negated=(OPP, 1.2),
    ),
    CueSpec(
        "host-troops",
        r"\b(?:let|allow\w*|permit\w*|host\w*|carry\w*|carrying)\s+(?:\w+\s+){0,3}?Russian (?:troops|forces"
        r"|units|columns|missiles|equipment|soldiers|jets)(?!\s+(?:\w+\s+){0,3}?in (?:Transnistria|Abkhazia|South Ossetia|(?:its |the )?"
        r"breakaway|(?:its |the )?separatist))|\bfrom (?:Belarusian|its) (?:soil|territory)\b"
        r"|\bsuppl\w+ (?:\w+\s+){0,3}?to the Russian (?:army|military|forces)"
        r"|\b(?:deepen|expand|boost|strengthen|step\w* up)\w* (?:\w+\s+){0,2}?(?:military|defen[cs]e) (?:cooperation|ties|links"
        r"|partnership) with {T}\b",
        SUP,
        2.2,
        negated=None,
    ),
    CueSpec(
        "did-not-condemn",
        r"\b(?:did not|has not|have not|refused to|declined to|won't|would not) (?:\w+\s+)?condemn\w*",
        SUP,
        1.2,
        negatable=False,
        priority=3,
    ),
    # --- undeclared --------------------------------------------------------------------------------------
    CueSpec(
        "undeclared",
        r"\b(?:has|have|had|is|are|was|were)\s+(?:\w+\s+){0,2}?yet to\s+(?:\w+\s+){0,2}?(?:take|state|set out|"
        r"say|comment|react|declare|announce|make|adopt|issue|publish|express|clarify)"
        r"|\b(?:has|have|had)\s+(?:still\s+)?not\s+(?:yet\s+)?(?:\w+\s+)?(?:taken|stated|set out|said|made|declared|published"
        r"|announced|adopted|commented|issued|reacted|expressed|spoken|clarified)\b(?:\s+\w+){0,4}?\s*(?:position|stance"
        r"|statement|where|anything|a word|publicly|in public|known|either)"
        r"|\bnot (?:yet )?said where\b|\bno (?:official |public |common |formal |clear )?(?:statement|reaction|comment|position)\b"
        r"|\bissued no (?:official )?(?:statement|reaction)|\boffered no (?:public |official )?reaction"
        r"|\bdeclin\w+ to comment\b|\b(?:kept|keeps|remained|remains|stayed) silent\b|\bsaid nothing\b"
        r"|\bstill (?:weighing|studying|considering|assessing)\b|\bundeclared\b|\bundecided\b|\byet to (?:take|state)"
        r"|\bnot (?:yet )?(?:said|made) (?:anything|its position)|\bhas still not commented|\bnot (?:yet |publicly |officially )?commented\b"
        r"|\bset out its position only after\b|\bnot said a word\b|\bno stance\b|\bnot (?:yet )?(?:taken|stated) a"
        r"|\b(?:has|have|had) (?:not )?yet (?:stated|taken|set out|declared|announced|adopted)|\bnot set out any position|\bhave not said anything|\bnot said anything\b",
        UND,
        1.8,
        negatable=False,
        priority=3,
    ),
    # --- bookkeeping cues ---------------------------------------------------------------------------------------
    CueSpec(
        "copy",
        r"\bdid the same\b|\bdone (?:the same|likewise)\b|\bdid likewise\b|\bfollow\w* suit\b"
        r"|\bdo (?:likewise|the same)\b|\bfollowed(?= (?:in|on|a|the next|within|shortly|soon|days|weeks|months|later|weeks)\b"
        r"|[.,;])|\bas (?:did|was|were|has|have|had)\b|\b(?:was|were) joined by\b|\bjoined them\b|\bdone so\b|\bthe same way\b",
        None,
        0.0,
        COPY,
        negatable=False,
        priority=3,
    ),
    CueSpec(
        "unconfirmed",
        r"\baccording to (?:the Kremlin|Russian|Moscow|state media|reports|unconfirmed)|\breportedly\b"
        r"|\bunconfirmed\b|\balleged(?:ly)?\b|\brumou?r\w*|\baccused of\b|\bfor helping\b|\bhave been reported\b"
        r"|\bmoved from\b|\boriginally listed\b|\bwas listed\b|\blisted as\b|\bdid not make\b|\bwrongly\b",
        None,
        0.0,
        BLOCK,
        negatable=False,
    ),
    CueSpec(
        "nongov",
        r"\b(?:former|ex-)(?! Soviet| colonial| Yugoslav)|\bopposition (?:leader|party|parties|politician|MP|figure|lawmaker)s?\b|\bthe opposition\b|\banalysts?\b|\bcommentators?\b|\bprofessor\b"
        r"|\bretired\b|\bMPs?\b|\blawmakers?\b|(?<!on )(?<!told )(?<!to )(?<!via )\bstate (?:television|media|TV|newspaper)\b|\bthink tank\b"
        r"|\bpolitical scientists?\b|\beditor\b|\b(?:president|leader)[’']s son\b|\bscholars?\b|\bacademics?\b"
        r"|\bcolumnists?\b|\bactivists?\b|\bprotesters\b|\bpersonal views\b|\bpolitical party\b|\bparty leader\b",
        None,
        0.0,
        NONGOV,
        negatable=False,
    ),
    CueSpec(
        "change",
        r"\blater\b|\bthis time\b|\bsince then\b|\bhas since\b|\bfinally\b|\breversed\b|\bno longer\b"
        r"|\bwent from\b|\bchanged course\b|\bshifted\b|\bdifferent line\b|\beventually\b|\bnow\b|\bhas now\b"
        r"|\bthen retreated\b|\bturned\b|\bin the end\b",
        None,
        0.0,
        CHANGE,
        negatable=False,
    ),
    CueSpec(
        "enum",
        r"\bsuch as\b|\bincluding\b|\bincludes?\b|\bincluded\b|\bamong them\b|\bnamely\b|\bamong (?:those|the)\b",
        None,
        0.0,
        ENUM,
        negatable=False,
    ),
)

# Lower-case trigger substrings per cue: a cue's regex only runs on sentences holding one of them.
# {T}/{V} stand for the topic's target and victim names.
TRIGGERS: dict[str, tuple[str, ...]] = {
    "condemn": (
        "condemn",
        "denounc",
        "deplor",
        "decr",
    ),
    "condemn-bare": ("condemn",),
    "grave": (
        "violation",
        "breach",
        "violat",
        "unprovoked",
        "unjustif",
        "unlawful",
        "illegal",
        "egregious",
        "brutal",
        "unacceptable",
        "war crimes",
        "putin's war",
        "putin’s war",
        "use of force",
        "opposed",
        "against the invasion",
        "reject",
        "aberration",
        "outrage",
        "crime",
        "disgrace",
        "abomination",
        "barbar",
        "agree with an invasion",
        "neutral",
        "aggression",
        "accept",
        "breach",
    ),
    "withdraw": (
        "withdraw",
        "pull",
        "stop the",
        "leave ukraine",
        "end the",
        "end its",
    ),
    "stand-victim": (
        "stand",
        "stood",
        "solidarity",
        "back",
        "support",
        "respect",
    ),
    "sanction-verb": (
        "sanction",
        "penalt",
        "measures",
        "package",
        "export",
        "asset",
        "travel",
        "listings",
        "designations",
    ),
    "sanction-direct": (
        "sanction",
        "penalt",
        "freez",
        "froze",
        "frozen",
        "export",
        "swift",
        "dollar",
        "counterpart",
        "aeroflot",
        "airspace",
        "barred",
        "expel",
        "imports",
        "importing",
        "permit",
        "bans",
        "banned",
        "banning",
        "export ban",
        "visa",
        "oil",
        "gas",
        "coal",
        "energy",
        "crude",
        "lng",
        "fuel",
        "nord stream",
        "tribunal",
        "criminal court",
        "icc",
    ),
    "no-sanctions": (
        "sanction",
        "measures",
        "none",
    ),
    "anti-sanctions": ("sanction",),
    "weapons": (
        "weapon",
        "arms",
        "arming",
        "missile",
        "tank",
        "artillery",
        "howitzer",
        "ammunition",
        "shells",
        "launcher",
        "drone",
        "air-def",
        "stinger",
        "javelin",
        "armoured",
        "armored",
        "helmet",
        "s-300",
        "military",
        "leopard",
        "himars",
        "anti-",
        "machine",
        "jets",
        "helicopter",
        "lethal",
        "air def",
    ),
    "weapons-neither": (
        "neither",
        "refus",
        "turned",
        "allow",
        "permit",
        "let",
    ),
    "opp-acts": (
        "expel",
        "order",
        "persona non",
        "airspace",
        "ports",
        "straits",
        "waters",
        "harbo",
        "recall",
        "summon",
        "relations with",
        "ties with",
        "embassy in",
        "seiz",
        "confiscat",
        "impound",
        "links",
        "connections",
        "flights",
        "routes",
        "crossings",
    ),
    "train-victim": (
        "train",
        "coalition",
        "bought",
        "buy",
        "purchas",
        "paid for",
        "pay",
        "financ",
        "fund",
    ),
    "sham-vote": (
        "sham",
        "illegitimate",
        "fake",
        "staged",
        "referend",
        "annexation",
    ),
    "integrity-victim": (
        "integrity",
        "sovereignty",
        "independence",
    ),
    "arms-to-target": (
        "weapon",
        "arms",
        "missile",
        "drone",
        "shells",
        "ammunition",
        "munition",
        "artillery",
        "rocket",
        "shahed",
        "tank",
        "jets",
        "launcher",
        "military equipment",
        "sent",
        "supplied",
        "shipped",
        "delivered",
        "sold",
        "provided",
        "transferred",
    ),
    "echo-line": (
        "echo",
        "repeat",
        "parrot",
        "amplif",
        "adopt",
        "embrac",
    ),
    "vote-yes": (
        "vot",
        "majority",
        "favo",
        "backed the",
        "supported the",
        "sponsor",
        "drafted the",
        "support for the",
        "support any resolution",
    ),
    "vote-no": (
        "vot",
        "nay",
        "a no",
        "oppos",
    ),
    "abstain": (
        "abstain",
        "abstention",
    ),
    "no-vote": (
        "unable",
        "absent",
        "behind",
        "did not",
        "no vote",
    ),
    "neutral": (
        "neutral",
        "align",
        "equidistan",
        "even-handed",
        "impartial",
        "balanced",
    ),
    "neutral-status": ("neutral",),
    "condemn-either": (
        "either",
        "neither",
        "both",
    ),
    "no-sides": (
        "on the fence",
        "between",
        "join any",
        "join either",
        "side",
        "drawn",
        "dragged",
        "pushed",
        "pulled",
        "made to",
        "camp",
        "bloc",
        "no part",
        "party to",
        "anyone",
        "no one",
        "everyone",
        "stay out",
        "either",
        "neither",
        "middle",
        "blame",
        "distance",
        "indifferent",
        "align",
    ),
    "dialogue": (
        "truce",
        "dialogue",
        "importance",
        "need for",
        "need of",
        "talks",
        "restraint",
        "ceasefire",
        "negotiat",
        "peace",
        "de-escalation",
        "halt",
        "diplomacy",
        "settle",
        "resolve",
        "resolved",
        "resolving",
        "settled",
        "settling",
        "solv",
        "diplomatically",
        "peacefully",
        "through",
        "mediat",
        "broker",
        "offices",
        "settlement",
        "diplomatic",
        "channels",
        "lines",
        "push",
        "both",
        "go-between",
        "intermediary",
        "negotiated",
        "both",
        "all sides",
        "all parties",
        "peace plan",
        "peace proposal",
        "peace initiative",
        "hostilities",
        "contact",
    ),
    "back-target": (
        "back",
        "support",
        "stand",
        "stood",
        "sided",
        "siding",
        "side with",
        "solidarity",
        "prais",
        "endors",
        "defend",
        "allied with",
        "ally of",
        "allies of",
        "in agreement",
        "understand",
        "understood",
        "full backing",
        "full support",
        "voice",
        "hail",
        "applaud",
        "cheer",
        "welcom",
        "shoulder",
    ),
    "justify": (
        "defend",
        "protect",
        "safeguard",
        "within its rights",
        "entitled",
        "justified",
        "every right",
        "legitimate",
        "concerns",
        "necessary",
        "choice",
        "forced on",
        "to call",
        "not call",
        "correction of history",
        "self-defen",
        "military operation",
        "forced",
        "compelled",
        "obliged",
        "provoked",
    ),
    "blame-west": (
        "hegemony",
        "responsible",
        "to blame",
        "blam",
        "fault",
        "rooted",
        "root cause",
        "lay in",
        "lies in",
        "hegemon",
        "provoc",
        "provok",
        "accus",
        "bullying",
        "hostile",
        "expansion",
        "enlargement",
        "encircl",
        "encroach",
        "march",
        "promises",
        "push",
        "double standards",
        "eastward",
        "lit ",
        "caused",
        "started",
        "left",
        "roots of",
    ),
    "recognise": ("recogni",),
    "host-troops": (
        "deepen",
        "expand",
        "boost",
        "strengthen",
        "step",
        "let ",
        "allow",
        "permit",
        "host",
        "carry",
        "soil",
        "territory",
        "to the russian",
    ),
    "did-not-condemn": ("condemn",),
    "undeclared": (
        "yet",
        "has not",
        "have not",
        "had not",
        "not yet",
        "not said",
        "not made",
        "not set out",
        "not taken",
        "not stated",
        "not commented",
        "not publicly",
        "not officially",
        "no official",
        "no public",
        "no statement",
        "no reaction",
        "no comment",
        "no position",
        "no common",
        "no formal",
        "no clear",
        "no stance",
        "issued no",
        "offered no",
        "declin",
        "silent",
        "said nothing",
        "still",
        "undeclared",
        "undecided",
        "only after",
    ),
    "copy": (
        "same",
        "likewise",
        "followed",
        "suit",
        "joined",
        "as did",
        "as was",
        "as were",
        "as has",
        "as have",
        "as had",
        "done so",
    ),
    "unconfirmed": (
        "according",
        "report",
        "unconfirmed",
        "alleged",
        "rumo",
        "accused",
        "helping",
        "moved",
        "listed",
        "make",
        "wrongly",
    ),
    "nongov": (
        "former",
        "ex-",
        "opposition",
        "analyst",
        "commentator",
        "professor",
        "retired",
        " mp",
        "lawmaker",
        "state tele",
        "state media",
        "state tv",
        "state news",
        "think tank",
        "political scien",
        "editor",
        "s son",
        "’s son",
        "scholar",
        "academic",
        "columnist",
        "activist",
        "protesters",
        "personal views",
        "political party",
        "party leader",
    ),
    "change": (
        "later",
        "this time",
        "since",
        "finally",
        "reversed",
        "no longer",
        "went from",
        "changed course",
        "shifted",
        "different line",
        "eventually",
        "now",
        "retreated",
        "turned",
        "in the end",
    ),
    "enum": (
        "includ",
        "among",
        "namely",
        "such as",
    ),
}

_MIDWORD_TRIGGERS = frozenset({"align", "sponsor"})

_NEG = Caseless(
    re.compile(
        r"\b(?:not|never|no|neither|nor|refus\w*|declin\w*|stopped short of|without|avoid\w*|rather than"
        r"|instead of|ending|abandon\w*|resist\w*|reject\w*)\b|n't\b",
        re.I,
    )
)
_IRREALIS = Caseless(
    re.compile(
        r"\b(?:urg\w*|ask\w*|press\w*|pressur\w*|call\w* on|whether|if|demand\w*|want\w*|pushed)\b"
        r"(?:\s+[\w'’]+){0,5}?\s+to\s*$|\bwhether\b|\bif\b"
        # what a resolution says is not what a voter says: "the resolution demanding a withdrawal"
        r"|\b(?:resolution|text|draft|motion|demand|call)s?\s+(?:that\s+|which\s+)?$"
        r"|\b(?:resolution|text|draft|motion)s?\s+(?:that\s+|which\s+)?(?:\w+\s+){0,2}$",
        re.I,
    )
)


def _top_level_alternatives(pattern: str) -> list[str] | None:
    """Split a pattern at its top-level ``|``; None when it cannot be split safely."""
    parts, depth, cur, i, in_class = [], 0, [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts if depth == 0 else None


# Cues whose patterns scan faster without their leading \\b (measured on the seed articles: their branches
# start with few distinct letters, so ``re``'s first-character scan skips most positions). For cues with many
# branches the \\b is the cheaper filter, so they keep it.
_FAST_SCAN = frozenset(
    {
        "condemn",
        "condemn-bare",
        "withdraw",
        "stand-victim",
        "weapons-neither",
        "vote-yes",
        "vote-no",
        "abstain",
        "no-vote",
        "neutral",
        "recognise",
        "host-troops",
        "did-not-condemn",
        "copy",
        "enum",
        "sanction-direct",
    }
)


def _strip_leading_boundary(pattern: str) -> tuple[str, bool]:
    """``\\bfoo|\\bbar`` -> ``foo|bar`` plus a flag: the caller checks the word boundary at the match start.
    ``re`` can only use its fast first-character scan when a pattern does not start with ``\\b`` (2x faster)."""
    parts = _top_level_alternatives(pattern)
    if not parts or not all(p.startswith("\\b") and len(p) > 2 for p in parts):
        return pattern, False
    return "|".join(p[2:] for p in parts), True


def _word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _finditer_bounded(
    rx: re.Pattern[str], text: str, lo: int, hi: int, bounded: bool
) -> list[tuple[int, int]]:
    """Like ``finditer`` but, when ``bounded``, only matches that start on a word boundary (exactly what a
    leading ``\\b`` would give)."""
    if not bounded:
        return [(m.start(), m.end()) for m in rx.finditer(text, lo, hi) if m.end() > m.start()]
    out = []
    pos = lo
    while pos < hi:
        m = rx.search(text, pos, hi)
        if m is None:
            break
        s, e = m.start(), m.end()
        if s > 0 and _word(text[s - 1]) == _word(text[s]):
            pos = s + 1
            continue
        if e > s:
            out.append((s, e))
        pos = e if e > s else s + 1
    return out


_PREFIX_CAP = 256  # beyond this many alternative prefixes a pattern's prefixes are cut to 4 characters


def _seq_prefixes(items: list, states: set[tuple[str, bool]]) -> set[tuple[str, bool]]:
    """Literal prefixes after matching the parsed sequence ``items``: (prefix, still extendable) pairs.
    Sound, not complete: every match of the sequence starts with one of the prefixes."""
    for op, av in items:
        if not any(open_ for _, open_ in states):
            break
        if op is AT or op is ASSERT or op is ASSERT_NOT:  # zero-width: consumes nothing
            continue
        closed = {st for st in states if not st[1]}
        opens = {(p, True) for p, open_ in states if open_}
        if op is LITERAL:
            new = {(p + chr(av), True) for p, _ in opens}
        elif op is SUBPATTERN and not av[1] & re.IGNORECASE:  # (?i:...) could match other characters
            new = _seq_prefixes(av[3], opens)
        elif op is BRANCH:
            new = set()
            for branch in av[1]:
                new |= _seq_prefixes(branch, opens)
        elif op is IN and len(av) <= 4 and all(kind is LITERAL for kind, _ in av):
            new = {(p + chr(ch), True) for p, _ in opens for _, ch in av}
        elif (op is MAX_REPEAT or op is MIN_REPEAT) and av[0] == 0 and av[1] == 1:  # x? : with or without
            new = _seq_prefixes(av[2], opens) | opens
        elif (op is MAX_REPEAT or op is MIN_REPEAT) and av[0] >= 1:
            new = {(p, False) for p, _ in _seq_prefixes(av[2], opens)}
        else:
            new = {(p, False) for p, _ in opens}
        states = closed | new
        if len(states) > _PREFIX_CAP:
            return {(p[:4], False) for p, _ in states}
    return states


def match_prefixes(pattern: str) -> frozenset[str] | None:
    """The literal strings every match of ``pattern`` starts with (at least one of them), or None when
    some match could start anywhere (an empty prefix) or the pattern cannot be read."""
    if _sre_parse is None:
        return None
    try:
        parsed = _sre_parse.parse(pattern)
        if parsed.state.flags & re.IGNORECASE:
            return None
        states = _seq_prefixes(list(parsed), {("", True)})
    except Exception:  # an unreadable pattern is simply not anchored
        return None
    prefixes = frozenset(p[:12] for p, _ in states)
    if not prefixes or "" in prefixes:
        return None
    # "vot" already marks every place "voted yes" could start: keep only the shortest of nested prefixes.
    return frozenset(p for p in prefixes if not any(q != p and p.startswith(q) for q in prefixes))


def _match_at(
    rx: re.Pattern[str], text: str, candidates: list[int], lo: int, hi: int, bounded: bool
) -> list[tuple[int, int]]:
    """What ``_finditer_bounded(rx, text, lo, hi, bounded)`` returns, trying ``rx`` only at the sorted
    ``candidates`` (every position where one of its literal prefixes starts): a match can start nowhere
    else, and ``match`` at a position sees the same text around it (``\\b``, look-behind) as ``search``."""
    out = []
    pos = lo
    a = bisect_left(candidates, lo)
    b = bisect_left(candidates, hi, a)
    for s in candidates[a:b]:
        if s < pos:
            continue
        if bounded and s > 0 and _word(text[s - 1]) == _word(text[s]):
            continue
        m = rx.match(text, s, hi)
        if m is not None:
            pos = m.end()
            out.append((s, pos))  # never empty: a match holds its prefix
    return out


def _alt(names: tuple[str, ...]) -> str:
    if not names:
        return r"(?!x)x"
    ordered = sorted(set(names), key=len, reverse=True)
    return "(?:" + "|".join(re.escape(n) for n in ordered) + ")"


@dataclass(frozen=True)
class CompiledCues:
    specs: tuple[tuple[CueSpec, re.Pattern[str]], ...]
    bounded: tuple[bool, ...]  # per spec: the leading \\b was stripped and is checked by hand
    context: re.Pattern[str]
    target: Caseless  # search(sentence): names the target, the war or sanctions
    triggers: ahocorasick.Automaton  # lower-case trigger -> indexes of the specs it wakes up
    # One pass finds both: word -> (specs it wakes or (), trigger word-start length, specs it may start
    # a match of or (), prefix length).
    scan: ahocorasick.Automaton
    anchored: tuple[bool, ...]  # per spec: its matches are tried only where one of its prefixes starts
    fallback: tuple[tuple[CueSpec, re.Pattern[str]], ...]  # case-insensitive twins for odd Unicode


@cache
def compile_cues(topic: Topic) -> CompiledCues:
    """Every cue compiled once per topic (the placeholders depend on the target's names)."""
    t, v = _alt(topic.target_names), _alt(topic.victim_names)
    compiled, fallback, bounded = [], [], []
    for spec in SPECS:
        pattern = spec.pattern.replace("{T}", t).replace("{V}", v).replace("{A}", _A)
        # Case-insensitive matching is ~6x slower in ``re``: match lower-cased patterns on lower-cased text.
        fast, flag = (
            _strip_leading_boundary(_lower_pattern(pattern))
            if spec.name in _FAST_SCAN
            else (_lower_pattern(pattern), False)
        )
        compiled.append((spec, re.compile(fast)))
        bounded.append(flag)
        fallback.append((spec, re.compile(pattern, re.I)))
    wake: dict[str, set[int]] = {}
    for index, spec in enumerate(SPECS):
        for trigger in TRIGGERS.get(spec.name, ()):
            names = {"{T}": topic.target_names, "{V}": topic.victim_names}.get(trigger, (trigger,))
            for name in names:
                wake.setdefault(name.lower(), set()).add(index)
    automaton = ahocorasick.Automaton()
    for word, indexes in wake.items():
        # A trigger wakes its cues only at a word start ("now" not in "know", "lines" not in "headlines"),
        # except the few that patterns allow inside a word ("nonaligned", "cosponsored").
        start_len = 0 if (not word[:1].isalnum() or word in _MIDWORD_TRIGGERS) else len(word)
        automaton.add_word(word, (tuple(sorted(indexes)), start_len))
    automaton.make_automaton()
    starts_of: dict[str, set[int]] = {}
    anchored = []
    for index, (_, rx) in enumerate(compiled):
        prefixes = match_prefixes(rx.pattern)
        anchored.append(prefixes is not None)
        for prefix in prefixes or ():
            starts_of.setdefault(prefix, set()).add(index)
    scan = ahocorasick.Automaton()
    for word in set(wake) | set(starts_of):
        woken, start_len = automaton.get(word, ((), 0))
        scan.add_word(word, (woken, start_len, tuple(sorted(starts_of.get(word, ()))), len(word)))
    scan.make_automaton()
    context = re.compile(r"\b" + _alt(topic.context_words) + r"\b")
    target = Caseless(
        re.compile(r"\b" + t + r"\b|\bwar\b|\binvasion\b|\bsanctions?\b|\bpackages?\b|\bthe bloc\b", re.I)
    )
    return CompiledCues(
        tuple(compiled), tuple(bounded), context, target, automaton, scan, tuple(anchored), tuple(fallback)
    )


def find_cues(text: str, cues: CompiledCues, windows: list[tuple[int, int]]) -> list[CueHit]:
    """Every cue inside the ``windows`` (sentences) of ``text``; a hit overlapping a higher-priority hit
    is dropped. Each regex runs only on the sentences holding one of its trigger words, which keeps a
    5 kB article at well under a millisecond of regex work."""
    lowered = text.lower()
    specs = cues.specs
    bounded = cues.bounded
    candidates: list[list[int]] = [[] for _ in specs]
    anchored: tuple[bool, ...] | None = cues.anchored
    if len(lowered) != len(text):  # a few characters change length when lower-cased: scan everything
        wanted = {i: set(range(len(windows))) for i in range(len(cues.specs))}
        specs, lowered, bounded, anchored = cues.fallback, text, (False,) * len(cues.fallback), None
    else:
        starts = [w[0] for w in windows]
        per_window: dict[int, set[int]] = {}
        for end_index, (indexes, start_len, starting, prefix_len) in cues.scan.iter(lowered):
            if starting:
                at = end_index - prefix_len + 1
                for i in starting:
                    candidates[i].append(at)
            if not indexes:
                continue
            if start_len and end_index >= start_len and lowered[end_index - start_len].isalnum():
                continue
            w = bisect_right(starts, end_index) - 1
            if w >= 0 and end_index < windows[w][1]:
                if w in per_window:
                    per_window[w].update(indexes)
                else:
                    per_window[w] = set(indexes)
        wanted = {}
        for w, indexes in per_window.items():
            for i in indexes:
                wanted.setdefault(i, set()).add(w)
    hits = []
    for i, ws in wanted.items():
        spec, rx = specs[i]
        if anchored is not None and anchored[i]:
            at_list = sorted(set(candidates[i]))
            for w in sorted(ws):
                lo, hi = windows[w]
                hits.extend(
                    _new(CueHit, (a, b, spec)) for a, b in _match_at(rx, lowered, at_list, lo, hi, bounded[i])
                )
            continue
        for w in sorted(ws):
            lo, hi = windows[w]
            hits.extend(
                _new(CueHit, (a, b, spec)) for a, b in _finditer_bounded(rx, lowered, lo, hi, bounded[i])
            )
    stance_hits = sorted(
        (h for h in hits if h.spec.kind == STANCE), key=lambda h: (-h.spec.priority, h.start)
    )
    kept: list[CueHit] = []
    # Sorted by falling priority, so the kept hits of a higher priority are those kept before the current
    # priority began: only they can drop a hit.
    higher: list[CueHit] = []
    level = None
    for hit in stance_hits:
        priority = hit.spec.priority
        if priority != level:
            higher = kept[:]
            level = priority
        start, end = hit.start, hit.end
        for k in higher:
            if start < k.end and k.start < end:
                break
        else:
            kept.append(hit)
    kept.extend(h for h in hits if h.spec.kind != STANCE)
    kept.sort(key=lambda h: (h.start, -h.end))
    return kept


def negation(prefix: str) -> str | None:
    """How the words just before a cue modify it: "neg" (did not ...), "irrealis" (urged to ...), or None."""
    window = prefix[-45:]
    if _IRREALIS.search(window):
        return "irrealis"
    if _NEG.search(window):
        return "neg"
    return None
