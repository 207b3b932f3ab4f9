"""The extractor's fast paths give exactly what the plain regular expressions give."""

from __future__ import annotations

import random
import re

from seeds import seed_path
from services.stance import load_topic
from services.stance.actors import _PREV_WORD, _prev_word
from services.stance.caseless import Caseless
from services.stance.cues import _finditer_bounded, _match_at, compile_cues, match_prefixes
from services.stance.segment import lines, sentences, sentences_by_line

TEXTS = [
    seed_path("article-v1.txt").read_text(encoding="utf-8"),
    seed_path("article-v2.txt").read_text(encoding="utf-8"),
    "The U.S. didn't condemn it; Kenya, Ghana and Mexico voted in favour. NON-ALIGNED states co-sponsored nothing.\n"
    "Ministers had not yet said where they stood — neither side. İstanbul; ſanctions; ıt was Moscow’s war.",
]


def test_cue_regexes_tried_at_prefixes_match_like_search() -> None:
    for topic in (load_topic(), load_topic("China")):
        cues = compile_cues(topic)
        assert all(cues.anchored)
        for text in TEXTS:
            low = text.lower()
            windows = [(s.start, s.end) for ln in lines(low) for s in sentences(low, ln.start, ln.end)]
            windows.append((0, len(low)))
            for i, (_, rx) in enumerate(cues.specs):
                prefixes = match_prefixes(rx.pattern)
                assert prefixes
                at = sorted(j for p in prefixes for j in range(len(low)) if low.startswith(p, j))
                for lo, hi in windows:
                    assert _match_at(rx, low, at, lo, hi, cues.bounded[i]) == _finditer_bounded(
                        rx, low, lo, hi, cues.bounded[i]
                    )


def test_sentences_by_line_is_sentences_per_line() -> None:
    for text in [
        *TEXTS,
        "A. B.\nC! D?\n\n“Yes.”\n ‘No.’ Then.\u2028X. Y.\x1cZ. W",
        "end.  \n  Next. U.S. Army. Mr. X.\rNew. \r\nL.",
    ]:
        spans = lines(text)
        assert sentences_by_line(text, spans) == [sentences(text, s.start, s.end) for s in spans]


def test_match_prefixes() -> None:
    assert match_prefixes(r"\b(?:back\w*|stood (?:by|with))\s+x") == {"back", "stood by", "stood with"}
    assert match_prefixes(r"\bco-?sponsor") == {"cosponsor", "co-sponsor"}
    assert match_prefixes(r"\w+ing") is None  # could start anywhere
    assert match_prefixes(r"(?i)sanction") is None  # case-insensitive: "ſanction" matches too
    assert match_prefixes(r"x|(?i:sanction)") is None


def test_prev_word_is_the_regex() -> None:
    rnd = random.Random(4)
    samples = [t[max(0, i - 50) : i] for t in TEXTS for i in range(len(t))]
    samples += ["".join(rnd.choice("ab_1 ’'.,-é\n") for _ in range(rnd.randint(0, 8))) for _ in range(20000)]
    for before in samples:
        m = _PREV_WORD.search(before)
        assert _prev_word(before) == (m.group(1) if m else None), repr(before)


def test_caseless_finds_the_same_spans() -> None:
    rx = re.compile(r"\b(?:its|the country|refus\w*|neither)\b|n't\b|[A-Z]ss", re.I)
    fast = Caseless(rx)
    assert fast.low is not None
    for s in [
        "ITS position",
        "The Country",
        "didn't",
        "REFUSED to",
        "aſſ its",
        "İts",
        "ıts",
        "Kelvin K its",
        "ass",
    ]:
        for got, want in ((fast.search(s), rx.search(s)), (fast.match(s), rx.match(s))):
            assert (got and got.span()) == (want and want.span()), s
