"""ThinkSplit: a thinking choice's streamed text -> reasoning and answer, exactly at the tag."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations, pairwise

import pytest

from openmini.reasoning.format import CLOSE
from openmini.reasoning.split import ThinkSplit


def run(pieces: Sequence[str], split: ThinkSplit | None = None) -> tuple[str, str, ThinkSplit]:
    """Push every piece, flush; returns (reasoning, answer, split), checking that nothing is
    emitted on the wrong side."""
    split = split or ThinkSplit()
    reasoning = answer = ""
    for piece in pieces:
        r, a = split.push(piece)
        assert not (a and not split.closed), "answer text before the tag"
        reasoning, answer = reasoning + r, answer + a
    reasoning += split.flush()
    return reasoning, answer, split


def test_reasoning_then_answer() -> None:
    split = ThinkSplit()
    assert split.push("Let me think") == ("Let me think", "")
    assert split.push(" about it.") == (" about it.", "")
    assert not split.closed
    assert split.push("</think>") == ("", "")
    assert split.closed
    assert split.push("\n\nThe answer") == ("", "The answer")
    assert split.push(" is 4.") == ("", " is 4.")
    assert split.flush() == ""


TEXT = "I should add them.</think>It is 4."


def test_every_way_of_cutting_the_text_gives_the_same_split() -> None:
    for cuts in [c for k in (1, 2, 3) for c in combinations(range(1, len(TEXT)), k)]:
        bounds = (0, *cuts, len(TEXT))
        pieces = [TEXT[a:b] for a, b in pairwise(bounds)]
        reasoning, answer, split = run(pieces)
        assert (reasoning, answer) == ("I should add them.", "It is 4."), pieces
        assert split.closed


@pytest.mark.parametrize("pieces", [
    ["x</", "thi", "nk>y"],
    ["x<", "/", "t", "h", "i", "n", "k", ">", "y"],
    ["x</think", ">y"],
    ["x", "</think>", "y"],
    ["x</think>y"],
])
def test_the_tag_split_across_pushes(pieces: list[str]) -> None:
    assert run(pieces)[:2] == ("x", "y")


def test_a_partial_tag_is_held_until_it_completes() -> None:
    split = ThinkSplit()
    assert split.push("abc</") == ("abc", "")
    assert split.push("thi") == ("", "")
    assert split.push("nk>Hi") == ("", "Hi")


def test_text_before_and_after_the_tag_in_one_push() -> None:
    split = ThinkSplit()
    assert split.push("so 4.</think>Four.") == ("so 4.", "Four.")
    assert split.closed


def test_a_false_start_is_released_as_reasoning() -> None:
    split = ThinkSplit()
    assert split.push("x</th") == ("x", "")
    assert split.push("e") == ("</the", "")
    assert not split.closed
    assert split.push(" end</think>ok") == (" end", "ok")


@pytest.mark.parametrize("pieces", [["a<", "b"], ["a</", "/"], ["a</t", "</think>b"],
                                    ["a<<", "/think>b"], ["a</thin", "k", ">b"]])
def test_false_starts_keep_every_character(pieces: list[str]) -> None:
    joined = "".join(pieces)
    reasoning, answer, _ = run(pieces)
    if CLOSE in joined:
        head, _, tail = joined.partition(CLOSE)
        assert (reasoning, answer) == (head, tail)
    else:
        assert (reasoning, answer) == (joined, "")


def test_only_the_first_tag_splits() -> None:
    assert run(["a</think>b</think>c"])[:2] == ("a", "b</think>c")
    assert run(["a</think>b", "</think>c"])[:2] == ("a", "b</think>c")


def test_leading_and_trailing_whitespace_is_dropped() -> None:
    assert run(["\n  Let me see.  \n</think>\n\n  Yes.  "])[:2] == ("Let me see.", "Yes.  ")


def test_whitespace_in_separate_pushes_is_dropped_too() -> None:
    split = ThinkSplit()
    assert split.push("\n") == ("", "")
    assert split.push("  ") == ("", "")
    assert split.push("Hmm") == ("Hmm", "")
    assert split.push(" ") == ("", "")  # may be trailing: held
    assert split.push("\n") == ("", "")
    assert split.push("ok") == (" \nok", "")  # it was not: released with what follows
    assert split.push("\n\n") == ("", "")
    assert split.push("</think>") == ("", "")  # it was trailing: dropped
    assert split.push("\n") == ("", "")
    assert split.push(" ") == ("", "")
    assert split.push("Yes") == ("", "Yes")
    assert split.push(" \n") == ("", " \n")  # the answer's own whitespace, once started, stays


def test_whitespace_before_a_partial_tag() -> None:
    split = ThinkSplit()
    assert split.push("abc ") == ("abc", "")
    assert split.push("</") == ("", "")
    assert split.push("x") == (" </x", "")


def test_only_whitespace_in_the_block_gives_no_reasoning() -> None:
    assert run([" \n", "\t", "</think>", " ", "A"])[:2] == ("", "A")
    assert run(["</think>A"])[:2] == ("", "A")


def test_flush_when_cut_inside_the_block() -> None:
    split = ThinkSplit()
    assert split.push("abc</th") == ("abc", "")
    assert split.flush() == "</th"
    assert split.flush() == ""
    assert not split.closed


def test_flush_drops_trailing_whitespace_of_the_reasoning() -> None:
    split = ThinkSplit()
    split.push("abc  ")
    split.push("\n")
    assert split.flush() == ""
    split = ThinkSplit()
    split.push("abc ")
    split.push("</")
    assert split.flush() == " </"


def test_flush_after_the_tag_gives_nothing() -> None:
    split = ThinkSplit()
    split.push("a</think>b")
    assert split.flush() == ""


def test_native_close_token() -> None:
    split = ThinkSplit(close_id=7)
    assert split.push("Thinking", 5) == ("Thinking", "")
    assert split.push(" done ", 6) == (" done", "")
    assert split.push(CLOSE, 7) == ("", "")  # the token's text is the tag
    assert split.closed
    assert split.push("\nAnswer", 8) == ("", "Answer")


def test_native_close_token_with_empty_text() -> None:
    split = ThinkSplit(close_id=7)
    split.push("x", 5)
    assert split.push("", 7) == ("", "")
    assert split.closed


def test_native_close_token_releases_nothing_held_and_holds_no_partial_tag() -> None:
    split = ThinkSplit(close_id=7)
    assert split.push("a </", 5) == ("a </", "")  # no partial tag held: only the token closes
    assert split.push(CLOSE, 7) == ("", "")


def test_native_plain_text_tag_does_not_close_the_block() -> None:
    """With native tags the block ends only at the close token (the budget and the grammar
    count it so); the text "</think>" spelled by ordinary tokens is still reasoning."""
    split = ThinkSplit(close_id=7)
    assert split.push("a</think>b", 5) == ("a</think>b", "")
    assert not split.closed
