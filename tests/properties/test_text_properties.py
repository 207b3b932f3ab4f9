"""Property tests for text normalisation: what decides whether two fetches are the same version."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.text import normalize_text
from services.versions import content_hash

# Text as news pages carry it: letters, digits, punctuation, typographic quotes and dashes, odd
# spaces, line breaks, ligatures, full-width forms and the odd combining mark.
news_chars = st.sampled_from(
    [
        *"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"()-",
        "\n",
        "\r\n",
        "\t",
        "\u00a0",
        "\u2009",
        "\u2018",
        "\u2019",
        "\u201c",
        "\u201d",
        "\u2013",
        "\u2014",
        "\ufb01",
        "\uff21",
        "e\u0301",
        "\u00e9",
        "\u00bd",
        "\u00b2",
        "\u200b",
        "\u2028",
    ]
)
news_text = st.lists(news_chars, max_size=300).map("".join)
any_text = st.text(max_size=300)


@settings(max_examples=300)
@given(any_text)
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


@settings(max_examples=300)
@given(news_text)
def test_normalised_text_has_no_stray_whitespace(text: str) -> None:
    result = normalize_text(text)
    for line in result.split("\n") if result else []:
        assert line == line.strip()
        assert line, "no empty lines survive"
        assert "  " not in line
    assert "\r" not in result


@settings(max_examples=200)
@given(news_text, st.sampled_from([" ", "  ", "\t", "\u00a0", " \u2009 "]))
def test_spacing_does_not_make_a_new_version(text: str, extra: str) -> None:
    # An editor's re-wrap or a CMS that swaps spaces for no-break spaces is not an edit.
    words = text.split()
    assert content_hash(" ".join(words)) == content_hash(extra.join(words))


@settings(max_examples=200)
@given(st.lists(st.text(alphabet="abcdefghij klmnop", min_size=1, max_size=20), min_size=1, max_size=8))
def test_typographic_quotes_do_not_make_a_new_version(parts: list[str]) -> None:
    straight = "'".join(parts) + ' "q" ' + "-".join(parts)
    curly = "\u2019".join(parts) + " \u201cq\u201d " + "\u2013".join(parts)
    assert normalize_text(straight) == normalize_text(curly)


@settings(max_examples=200)
@given(news_text, news_text)
def test_hash_is_a_function_of_the_normalised_text(a: str, b: str) -> None:
    assert (content_hash(a) == content_hash(b)) == (normalize_text(a) == normalize_text(b))


@settings(max_examples=100)
@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=30), news_text)
def test_a_changed_word_is_a_new_version(word: str, context: str) -> None:
    base = f"{context}\nThe minister said {word} today in the capital."
    edited = f"{context}\nThe minister said {word}x today in the capital."
    assert content_hash(base) != content_hash(edited)
