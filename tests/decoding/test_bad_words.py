"""The bad_words matcher: validation, case-insensitive matching across token boundaries, text
held back a whole token at a time, and the position a backtrack goes to."""

from __future__ import annotations

import random

import pytest

from openmini.decoding.bad_words import (
    MAX_PHRASE_CHARS,
    MAX_PHRASES,
    MAX_TOTAL_CHARS,
    Automaton,
    Held,
    PhraseGuard,
    check_phrases,
)
from openmini.errors import InvalidRequest


def test_check_phrases_accepts_and_normalises() -> None:
    assert check_phrases(None) == ()
    assert check_phrases([]) == ()
    assert check_phrases("cat") == ("cat",)
    assert check_phrases(["cat", "dog", "cat"]) == ("cat", "dog")
    assert check_phrases(["x"] * 2 + ["y" * MAX_PHRASE_CHARS]) == ("x", "y" * MAX_PHRASE_CHARS)


@pytest.mark.parametrize("phrases", [
    [""], ["ok", ""], [3], ["y" * (MAX_PHRASE_CHARS + 1)],
    [f"w{i}" for i in range(MAX_PHRASES + 1)],
    ["y" * MAX_PHRASE_CHARS + str(i) for i in range(MAX_TOTAL_CHARS // MAX_PHRASE_CHARS)],
])
def test_check_phrases_rejects_naming_the_field(phrases: list[object]) -> None:
    with pytest.raises(InvalidRequest) as err:
        check_phrases(phrases)
    assert err.value.param == "bad_words"


def guard_of(*phrases: str) -> PhraseGuard:
    return PhraseGuard(tuple(phrases))


def push(guard: PhraseGuard, token: int, text: str) -> int | None:
    return guard.push(Held(token, text))


def test_match_across_tokens_case_insensitively() -> None:
    g = guard_of("cat")
    assert push(g, 1, "I like") is None
    assert [h.text for h in g.release()] == ["I like"]
    assert push(g, 2, " C") is None
    assert g.release() == []  # " C" could start "cat": held
    assert push(g, 3, "A") is None
    assert push(g, 4, "ts") == 1  # "CATs" completes "cat": back to the token holding "C"
    assert g.holds(1) and g.holds(3) and not g.holds(0)


def test_match_inside_one_token_and_mid_token_start() -> None:
    g = guard_of("cat")
    assert push(g, 1, "concatenate") == 0
    g = guard_of("cat")
    push(g, 1, "I")
    g.release()
    assert push(g, 2, " xc") is None
    assert push(g, 3, "at") == 1  # the match starts inside " xc": that whole token goes


def test_release_holds_whole_tokens_until_no_match_can_start() -> None:
    g = guard_of("hello world")
    assert push(g, 1, "say hello") is None
    assert g.release() == []  # "hello" could go on to "hello world"
    assert push(g, 2, " wor") is None
    assert g.release() == []
    assert push(g, 3, "m") is None
    assert [h.token for h in g.release()] == [1, 2, 3]
    assert g.base == 3 and g.held == []


def test_truncate_restores_the_matching_state() -> None:
    g = guard_of("cat")
    push(g, 1, "I")
    g.release()
    push(g, 2, " c")
    assert push(g, 3, "at") == 1
    first = g.truncate(1)
    assert first.token == 2 and g.held == [] and g.base == 1
    assert push(g, 4, " dog") is None  # as if " c", "at" had never been there
    assert [h.token for h in g.release()] == [4]
    assert push(g, 5, " ca") is None and push(g, 6, "T") == 2


def test_flush_releases_what_never_became_a_phrase() -> None:
    g = guard_of("cat")
    push(g, 1, "ca")
    assert g.release() == []
    assert [h.token for h in g.flush()] == [1]


def test_unicode_casefold_and_empty_pieces() -> None:
    g = guard_of("Straße")
    assert push(g, 1, "STRAS") is None
    assert push(g, 2, "") is None  # a partial character produces no text yet
    assert push(g, 3, "SE") == 0
    g = guard_of("é")
    push(g, 1, "caf")
    g.release()
    assert g.push(Held(2, "", partial=True)) is None  # the first byte of "É"
    assert g.release() == []  # a split character is held whole
    assert push(g, 3, "É") == 1  # back to the token where the character began


def test_split_character_goes_out_whole_and_backtracks_to_its_first_byte() -> None:
    g = guard_of("éx")
    assert g.push(Held(1, "a", partial=True)) is None  # "a" and the first byte of "é"
    assert g.push(Held(2, "", partial=True)) is None  # a middle byte
    assert g.release() == []
    assert push(g, 3, "é") is None
    assert push(g, 4, "X") == 0  # "é" began inside token 1
    g = guard_of("zz")
    g.push(Held(1, "a", partial=True))
    push(g, 2, "é")
    assert [h.token for h in g.release()] == [1, 2]


def test_match_starting_in_released_text_backs_up_to_the_first_held_token() -> None:
    g = guard_of("bb")
    push(g, 1, "cb")
    push(g, 2, "cb")
    assert [h.token for h in g.release()] == [1]
    assert push(g, 3, "b") == 1  # "cbcbb": "bb" starts in token 2
    g.truncate(1)  # back to "cb", whose "b" is already released
    assert push(g, 4, "b") == 1  # "cbb": the match starts in released text


def test_overlapping_phrases_back_up_to_the_earliest_start() -> None:
    g = guard_of("abcd", "bc")
    assert push(g, 1, "a") is None
    assert push(g, 2, "b") is None
    assert push(g, 3, "c") == 1  # "bc" completes first; it starts in token 2
    g = guard_of("abc", "b")
    push(g, 1, "xa")
    assert push(g, 2, "b") == 1


def _brute_hold_from(text: str, phrases: list[str]) -> int:
    for i in range(len(text)):
        if any(p.startswith(text[i:]) for p in phrases):
            return i
    return len(text)


def test_against_brute_force_random_streams() -> None:
    rng = random.Random(7)
    alphabet = "abAB c"
    for _ in range(300):
        phrases = list({"".join(rng.choice("abc") for _ in range(rng.randint(1, 4)))
                        for _ in range(rng.randint(1, 4))})
        g, live, emitted, rewound = guard_of(*phrases), [], "", False
        for token in range(40):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 3)))
            hit = push(g, token, text)
            folded = "".join(t for t in live).casefold() + text.casefold()
            if hit is not None:
                assert any(p in folded for p in phrases)
                assert g.holds(hit)  # never behind text already released
                g.truncate(hit)
                live, rewound = live[:hit], True
                continue
            live.append(text)
            assert not any(p in folded for p in phrases)
            released = g.release()
            emitted += "".join(h.text for h in released)
            hold_from = _brute_hold_from(folded, phrases)
            held_text = "".join(h.text for h in g.held).casefold()
            if not rewound:  # all that could still start a match is held back
                assert len(folded) - len(held_text) <= hold_from
            if g.held:
                assert g.held[0].end > hold_from  # and no more than that
        emitted += "".join(h.text for h in g.flush())
        assert emitted == "".join(live)
        assert not any(p in emitted.casefold() for p in phrases)


def test_automaton_states() -> None:
    ac = Automaton(("he", "she", "his", "hers"))
    s = 0
    hits = []
    for ch in "ushers":
        s = ac.step(s, ch)
        hits.append(ac.hit[s])
    assert hits == [0, 0, 0, 3, 0, 4]  # "she" (and "he") end at 'e', "hers" at 's'
