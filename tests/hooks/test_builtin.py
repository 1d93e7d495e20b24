"""The built-in stop criteria (stop_regex, max_sentences, max_time), run through a HookChain
the way the engine runs them."""

from __future__ import annotations

import time
from collections.abc import Sequence

import pytest

from openmini.errors import InvalidRequest
from openmini.hooks import HookError, HookToken
from openmini.hooks.builtin import (
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    REGEX_TIMEOUT,
    MaxSentences,
    MaxTime,
    StopRegex,
    compile_patterns,
)
from openmini.hooks.chain import Chunk, HookChain
from openmini.hooks.criteria import stop_criteria
from openmini.types import Usage

USAGE = Usage(1, 1)


def stream(chain: HookChain, pieces: Sequence[str | tuple[bool, str]], elapsed: float = 0.0,
           end: bool = True) -> list[Chunk]:
    """Push pieces (answer text, or (reasoning?, text)) one token each, stopping when a hook
    stops the choice; then flush. Returns every emitted chunk, merged per channel run."""
    out: list[Chunk] = []
    for i, piece in enumerate(pieces):
        reasoning, text = piece if isinstance(piece, tuple) else (False, piece)
        out += chain.push([(reasoning, text)] if text else [], reasoning, 100 + i, USAGE,
                          elapsed)
        if chain.stopped is not None:
            break
    if end:
        out += chain.flush(USAGE, elapsed)
    merged: list[Chunk] = []
    for reasoning, text in out:
        if merged and merged[-1][0] == reasoning:
            merged[-1] = (reasoning, merged[-1][1] + text)
        else:
            merged.append((reasoning, text))
    return merged


def answer_of(chunks: list[Chunk]) -> str:
    return "".join(t for r, t in chunks if not r)


def tok(text: str, held: str = "", index: int = 0, token_id: int = 1, reasoning: bool = False,
        elapsed: float = 0.0) -> HookToken:
    return HookToken(index, text, token_id, reasoning, held, USAGE, elapsed)


# --- stop_regex -------------------------------------------------------------------------------

def test_stop_regex_stops_at_a_match_spanning_several_tokens() -> None:
    chain = HookChain([StopRegex([r"\bEND\b"])], 0)
    out = stream(chain, ["The ", "story", " E", "N", "D", " and more", " text"])
    assert answer_of(out) == "The story "
    assert (chain.stopped.reason, chain.stopped.finish) == (r"\bEND\b", "stop")


def test_stop_regex_emits_nothing_of_the_match_or_after_it_in_the_same_token() -> None:
    chain = HookChain([StopRegex(["STOP"])], 0)
    assert stream(chain, ["Go on", " then STOP right here", " never"]) == [(False, "Go on then ")]


def test_stop_regex_holds_a_possible_start_and_releases_it_when_it_cannot_match() -> None:
    chain = HookChain([StopRegex(["ENDING"])], 0)
    assert chain.push([(False, "The E")], False, 1, USAGE, 0.0) == [(False, "The ")]
    assert chain.push([(False, "ND")], False, 2, USAGE, 0.0) == []  # "END" may become ENDING
    assert chain.push([(False, "s here")], False, 3, USAGE, 0.0) == [(False, "ENDs here")]
    assert chain.stopped is None


def test_stop_regex_releases_a_dangling_partial_match_when_the_choice_ends() -> None:
    chain = HookChain([StopRegex(["ENDING"])], 0)
    assert stream(chain, ["It is the E", "ND"]) == [(False, "It is the END")]
    assert chain.stopped is None


def test_stop_regex_lets_a_partial_match_go_at_the_end() -> None:
    """At the end (token_id -1) StopRegex lets a partial match go instead of holding it."""
    hook = StopRegex(["ENDING"])
    assert hook(tok("The EN", token_id=-1)) is None
    hook = StopRegex(["ENDING"])
    action = hook(tok("The EN"))
    assert action is not None and action.kind == "release" and action.count == 4


def test_stop_regex_leaves_reasoning_untouched() -> None:
    chain = HookChain([StopRegex(["END"])], 0)
    out = stream(chain, [(True, "I will write END"), (True, " here"), "An END", " no"])
    assert out == [(True, "I will write END here"), (False, "An ")]
    assert chain.stopped is not None


def test_stop_regex_reasoning_does_not_count_towards_a_match() -> None:
    chain = HookChain([StopRegex(["AB"])], 0)
    out = stream(chain, [(True, "xA"), "B and on"])
    assert out == [(True, "xA"), (False, "B and on")]
    assert chain.stopped is None


def test_stop_regex_first_pattern_to_match_wins_and_names_the_reason() -> None:
    chain = HookChain([StopRegex(["zzz", r"\d{3}"])], 0)
    assert answer_of(stream(chain, ["call 55", "5-1234"])) == "call "
    assert (chain.stopped.reason, chain.stopped.finish) == (r"\d{3}", "stop")


def test_stop_regex_keeps_state_per_choice() -> None:
    hook = StopRegex(["XY"])
    a, b = HookChain([hook], 0), HookChain([hook], 1)
    assert a.push([(False, "aX")], False, 1, USAGE, 0.0) == [(False, "a")]
    assert b.push([(False, "bY")], False, 1, USAGE, 0.0) == [(False, "bY")]  # not a's "X"
    assert a.push([(False, "Y!")], False, 2, USAGE, 0.0) == []
    assert a.stopped is not None and b.stopped is None


def test_stop_regex_lookbehind_sees_text_already_emitted() -> None:
    chain = HookChain([StopRegex([r"(?<=\.)\n"])], 0)
    assert answer_of(stream(chain, ["One.", "\nTwo"])) == "One."


def test_stop_regex_after_a_holding_hook() -> None:
    """StopRegex receives text late (an earlier hook held it) and still finds the match."""
    from openmini.hooks import HOLD

    held = iter([HOLD, HOLD, None, None])
    chain = HookChain([lambda t: next(held), StopRegex(["cat"])], 0)
    assert answer_of(stream(chain, ["a c", "a", "t!", "..."])) == "a "


def test_stop_regex_finds_a_match_in_text_released_at_the_end() -> None:
    from openmini.hooks import HOLD

    chain = HookChain([lambda t: HOLD, StopRegex(["END"])], 0)
    assert stream(chain, ["a E", "ND b"], end=False) == []
    assert chain.flush(USAGE, 0.0) == [(False, "a ")]
    assert (chain.stopped.reason, chain.stopped.finish) == ("END", "stop")


@pytest.mark.parametrize(("patterns", "param"), [
    (["ok", "("], "stop_regex[1]"),
    (["[a-"], "stop_regex[0]"),
    (["fine", "a*"], "stop_regex[1]"),
    (["x|"], "stop_regex[0]"),
    (["", "b"], "stop_regex[0]"),
    (["a", 3], "stop_regex[1]"),
    (["a" * (MAX_PATTERN_LENGTH + 1)], "stop_regex[0]"),
    ([f"p{i}" for i in range(MAX_PATTERNS + 1)], "stop_regex"),
    ([], "stop_regex"),
    ("END", "stop_regex"),
    (None, "stop_regex"),
    ({"END": 1}, "stop_regex"),
])
def test_stop_regex_patterns_are_validated(patterns: object, param: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        StopRegex(patterns)
    assert err.value.param == param
    assert err.value.status == 400
    assert param in err.value.message


@pytest.mark.parametrize("pattern", [r"\b", r"(?=\w)"])
def test_a_zero_width_pattern_that_stops_before_any_output_is_refused(pattern: str) -> None:
    """`a*` is refused because it matches the empty string and "would stop before any output";
    a zero-width pattern that matches empty text at the first word does the same thing, but
    passes validation because only the empty string "" is tried."""
    try:
        hook = StopRegex([pattern])
    except InvalidRequest as err:
        assert err.param == "stop_regex[0]"
        return
    chain = HookChain([hook], 0)
    out = stream(chain, ["Hello", " world"])
    pytest.fail(f"accepted; the answer was cut to {answer_of(out)!r} ({chain.stopped})")


def test_stop_regex_limits_are_inclusive() -> None:
    assert len(compile_patterns([f"p{i}" for i in range(MAX_PATTERNS)])) == MAX_PATTERNS
    assert len(compile_patterns(("a" * MAX_PATTERN_LENGTH,))) == 1  # a tuple is fine too


def test_compile_patterns_names_its_own_param() -> None:
    with pytest.raises(InvalidRequest) as err:
        compile_patterns(["ok", "("], param="extra.stop")
    assert err.value.param == "extra.stop[1]"


CATASTROPHIC = r"(a|aa)+b"


def test_a_catastrophic_pattern_times_out_instead_of_hanging() -> None:
    hook = StopRegex([CATASTROPHIC])
    t0 = time.monotonic()
    with pytest.raises(TimeoutError):
        hook(tok("a" * 40 + "!"))
    assert time.monotonic() - t0 < REGEX_TIMEOUT + 1.0


def test_a_catastrophic_pattern_in_a_chain_is_a_hook_error() -> None:
    chain = HookChain([StopRegex([CATASTROPHIC])], 0)
    with pytest.raises(HookError) as err:
        chain.push([(False, "a" * 40 + "!")], False, 1, USAGE, 0.0)
    assert err.value.hook == "stop_regex"
    assert "TimeoutError" in err.value.message


# --- max_sentences ----------------------------------------------------------------------------

def test_max_sentences_counts_sentences_across_tokens() -> None:
    chain = HookChain([MaxSentences(2)], 0)
    out = stream(chain, ["Hi", ".", " How", " are you", "?", " Fine", ". Bye."])
    assert answer_of(out) == "Hi. How are you?"
    assert (chain.stopped.reason, chain.stopped.finish) == ("max_sentences", "stop")


def test_max_sentences_stops_in_the_middle_of_a_token_without_the_whitespace() -> None:
    chain = HookChain([MaxSentences(1)], 0)
    assert answer_of(stream(chain, ["One. Two. Three."])) == "One."


def test_a_decimal_point_is_not_a_sentence_end() -> None:
    chain = HookChain([MaxSentences(1)], 0)
    out = stream(chain, ["Pi is 3", ".", "14 roughly", ". Next"])
    assert answer_of(out) == "Pi is 3.14 roughly."


def test_a_terminator_at_the_very_end_is_not_yet_a_sentence() -> None:
    chain = HookChain([MaxSentences(1)], 0)
    assert answer_of(stream(chain, ["Done", "."])) == "Done."
    assert chain.stopped is None


@pytest.mark.parametrize("closer", ['"', "'", ")", "]", "}", "»", "”", "’", '")'])
def test_closing_quotes_after_a_terminator_belong_to_the_sentence(closer: str) -> None:
    chain = HookChain([MaxSentences(1)], 0)
    out = stream(chain, ["He said ", f"(hi.{closer}", " Then", " left."])
    assert answer_of(out) == f"He said (hi.{closer}"


def test_a_closer_without_a_terminator_does_not_end_a_sentence() -> None:
    chain = HookChain([MaxSentences(1)], 0)
    assert answer_of(stream(chain, ['a "quote" here', ". x"])) == 'a "quote" here.'


@pytest.mark.parametrize("terminator", ["!", "?", "…", "。", "！", "？"])
def test_other_terminators(terminator: str) -> None:
    chain = HookChain([MaxSentences(1)], 0)
    assert answer_of(stream(chain, [f"Wow{terminator}", "\nmore"])) == f"Wow{terminator}"


def test_repeated_terminators_count_once() -> None:
    chain = HookChain([MaxSentences(2)], 0)
    assert answer_of(stream(chain, ["Really?!", "  Yes... ", "no"])) == "Really?!  Yes..."


def test_max_sentences_ignores_reasoning() -> None:
    chain = HookChain([MaxSentences(1)], 0)
    out = stream(chain, [(True, "Think. Think more. "), "Answer.", " Extra."])
    assert out == [(True, "Think. Think more. "), (False, "Answer.")]


def test_max_sentences_keeps_state_per_choice() -> None:
    hook = MaxSentences(1)
    a, b = HookChain([hook], 0), HookChain([hook], 1)
    a.push([(False, "A.")], False, 1, USAGE, 0.0)
    assert b.push([(False, " b")], False, 1, USAGE, 0.0) == [(False, " b")]
    assert b.stopped is None
    assert a.push([(False, " a")], False, 2, USAGE, 0.0) == []
    assert a.stopped is not None


@pytest.mark.parametrize("n", [0, -1, True, False, 1.5, "2", None])
def test_max_sentences_is_validated(n: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        MaxSentences(n)
    assert err.value.param == "max_sentences"


# --- max_time ---------------------------------------------------------------------------------

def test_max_time_stops_with_length_once_elapsed_passes() -> None:
    hook = MaxTime(2.0)
    chain = HookChain([hook], 0)
    assert chain.push([(False, "a")], False, 1, USAGE, 1.0) == [(False, "a")]
    assert chain.push([(False, "b")], False, 2, USAGE, 1.999) == [(False, "b")]
    assert chain.stopped is None
    assert chain.push([(False, "c")], False, 3, USAGE, 2.0) == [(False, "c")]
    assert (chain.stopped.reason, chain.stopped.finish) == ("max_time", "length")


def test_max_time_also_applies_while_reasoning_and_to_held_tokens() -> None:
    chain = HookChain([MaxTime(1)], 0)
    assert chain.push([], True, 1, USAGE, 5.0) == []
    assert (chain.stopped.reason, chain.stopped.finish) == ("max_time", "length")
    assert MaxTime(1)(tok("x", reasoning=True, elapsed=1.5)) is not None


def test_max_time_emits_what_an_earlier_hook_released() -> None:
    chain = HookChain([StopRegex(["ENDING"]), MaxTime(1)], 0)
    chain.push([(False, "so E")], False, 1, USAGE, 0.5)
    out = chain.push([(False, "x")], False, 2, USAGE, 1.5)
    assert out == [(False, "Ex")]
    assert (chain.stopped.reason, chain.stopped.finish) == ("max_time", "length")


@pytest.mark.parametrize("seconds", [0, 0.0, -1, True, 3600.5, 3601, "5", None])
def test_max_time_is_validated(seconds: object) -> None:
    with pytest.raises(InvalidRequest) as err:
        MaxTime(seconds)
    assert err.value.param == "max_time"


@pytest.mark.parametrize("seconds", [0.001, 1, 3600, 3600.0])
def test_max_time_accepts_valid_values(seconds: float) -> None:
    assert MaxTime(seconds).seconds == seconds


# --- together (criteria.py) -------------------------------------------------------------------

def test_stop_criteria_builds_the_hooks_in_order() -> None:
    hooks = stop_criteria(["x"], 2, 3.0)
    assert [type(h) for h in hooks] == [StopRegex, MaxSentences, MaxTime]
    assert stop_criteria(None, None, None) == ()
    assert [type(h) for h in stop_criteria(None, None, 1)] == [MaxTime]
    with pytest.raises(InvalidRequest):
        stop_criteria(None, 0, None)


def test_max_sentences_stop_drops_what_stop_regex_still_holds() -> None:
    """stop_regex holds "E" (it may begin "END") when max_sentences stops at the space before
    it: the held "E" is past the stop point and must not reach the output."""
    chain = HookChain(list(stop_criteria(["END"], 1, None)), 0)
    out = stream(chain, ["Hi.", " E", "h"])
    assert (chain.stopped.reason, chain.stopped.finish) == ("max_sentences", "stop")
    assert answer_of(out) == "Hi."
