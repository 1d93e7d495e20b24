"""HookChain: one choice's tokens through its hooks, as hooks/base.py states the contract."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeAlias

import pytest

from openmini.hooks import HOLD, PASS, Action, HookError, HookToken, release, replace, stop
from openmini.hooks.chain import Chunk, HookChain
from openmini.types import Usage

USAGE = Usage(prompt_tokens=3, completion_tokens=1)

Answer: TypeAlias = Action | Callable[[HookToken], Action | None] | None


class Scripted:
    """Answers from a script (one per call; the last repeats) and records what it saw."""

    def __init__(self, *answers: Answer, name: str = "scripted"):
        self.answers = list(answers) or [None]
        self.name = name
        self.seen: list[HookToken] = []

    def __call__(self, tok: HookToken) -> Action | None:
        self.seen.append(tok)
        answer = self.answers[min(len(self.seen) - 1, len(self.answers) - 1)]
        return answer(tok) if callable(answer) else answer

    @property
    def texts(self) -> list[str]:
        return [t.text for t in self.seen]


def push(chain: HookChain, text: str, reasoning: bool = False, token_id: int = 7,
         usage: Usage = USAGE, elapsed: float = 0.5) -> list[Chunk]:
    return chain.push([(reasoning, text)] if text else [], reasoning, token_id, usage, elapsed)


def answer(chunks: Iterable[Chunk]) -> str:
    return "".join(text for reasoning, text in chunks if not reasoning)


# --- the five answers -------------------------------------------------------------------------

@pytest.mark.parametrize("verdict", [None, PASS])
def test_pass_emits_the_token_text(verdict: Action | None) -> None:
    chain = HookChain([Scripted(verdict)], 0)
    assert push(chain, "Hello") == [(False, "Hello")]
    assert push(chain, " world") == [(False, " world")]
    assert chain.stopped is None


def test_hold_then_pass_releases_held_and_text_in_order() -> None:
    hook = Scripted(HOLD, HOLD, None)
    chain = HookChain([hook], 0)
    assert push(chain, "a") == []
    assert push(chain, "b") == []
    assert push(chain, "c") == [(False, "abc")]
    assert [t.held for t in hook.seen] == ["", "a", "ab"]
    assert chain.stages[0].held == ""


def test_release_count_emits_a_prefix_and_holds_the_rest() -> None:
    hook = Scripted(HOLD, release(3), None)
    chain = HookChain([hook], 0)
    assert push(chain, "ab") == []
    assert push(chain, "cd") == [(False, "abc")]
    assert hook.seen[-1].held == "ab"
    assert push(chain, "e") == [(False, "de")]
    assert hook.seen[-1].held == "d"


@pytest.mark.parametrize(("count", "emitted", "kept"), [(-5, "", "abcd"), (0, "", "abcd"),
                                                        (4, "abcd", ""), (99, "abcd", "")])
def test_release_count_is_clamped(count: int, emitted: str, kept: str) -> None:
    chain = HookChain([Scripted(HOLD, release(count))], 0)
    push(chain, "ab")
    assert answer(push(chain, "cd")) == emitted
    assert chain.stages[0].held == kept


def test_replace_emits_its_text_instead_of_held_and_this_token() -> None:
    hook = Scripted(HOLD, replace("[redacted]"), None)
    chain = HookChain([hook], 0)
    push(chain, "secret")
    assert push(chain, " key") == [(False, "[redacted]")]
    assert push(chain, " ok") == [(False, " ok")]  # the held text is gone, not re-emitted


def test_replace_with_empty_text_swallows_the_token() -> None:
    chain = HookChain([Scripted(replace(""))], 0)
    assert push(chain, "gone") == []
    assert chain.stopped is None


def test_stop_by_default_emits_held_and_this_token_and_ends() -> None:
    hook = Scripted(HOLD, stop(), name="stopper")
    chain = HookChain([hook], 0)
    push(chain, "The end")
    assert push(chain, ".") == [(False, "The end.")]
    assert (chain.stopped.reason, chain.stopped.finish) == ("stopper", "stop")


def test_stop_with_text_reason_and_length_finish() -> None:
    chain = HookChain([Scripted(HOLD, stop("cut", reason="too_long", finish="length"))], 0)
    push(chain, "abc")
    assert push(chain, "def") == [(False, "cut")]
    assert (chain.stopped.reason, chain.stopped.finish) == ("too_long", "length")


def test_stop_with_empty_text_emits_nothing() -> None:
    chain = HookChain([Scripted(HOLD, stop(""))], 0)
    push(chain, "abc")
    assert push(chain, "def") == []
    assert chain.stopped is not None
    assert chain.flush(USAGE, 1.0) == []  # nothing is left held either


def test_stop_reason_defaults_to_the_hooks_name() -> None:
    def my_function_hook(tok: HookToken) -> Action:
        return stop()

    class NamedHook:
        name = "named"

        def __call__(self, tok: HookToken) -> Action:
            return stop()

    class PlainHook:
        def __call__(self, tok: HookToken) -> Action:
            return stop()

    for hook, expected in [(my_function_hook, "my_function_hook"), (NamedHook(), "named"),
                           (PlainHook(), "PlainHook")]:
        chain = HookChain([hook], 0)
        push(chain, "x")
        assert (chain.stopped.reason, chain.stopped.finish) == (expected, "stop")


def test_stop_ends_the_rest_of_that_push() -> None:
    """A stop on the first chunk of a push drops the chunks after it (the choice ended)."""
    hook = Scripted(stop())
    chain = HookChain([hook], 0)
    out = chain.push([(True, "thinking"), (False, "answer")], True, 7, USAGE, 0.1)
    assert out == [(True, "thinking")]
    assert hook.texts == ["thinking"]


def test_first_stop_wins() -> None:
    first, second = Scripted(stop(reason="first")), Scripted(stop(reason="second"))
    chain = HookChain([first, second], 0)
    assert push(chain, "x") == [(False, "x")]
    assert (chain.stopped.reason, chain.stopped.finish) == ("first", "stop")
    assert second.texts == ["x"]  # later hooks still see what the stopping one emitted


# --- several hooks ----------------------------------------------------------------------------

def test_hooks_run_in_order_each_on_the_previous_output() -> None:
    upper = Scripted(lambda t: replace(t.text.upper()), name="upper")
    bracket = Scripted(lambda t: replace(f"[{t.text}]"), name="bracket")
    chain = HookChain([upper, bracket], 0)
    assert push(chain, "ab") == [(False, "[AB]")]
    assert bracket.texts == ["AB"]
    reverse = HookChain([Scripted(lambda t: replace(f"[{t.text}]")),
                         Scripted(lambda t: replace(t.text.upper()))], 0)
    assert push(reverse, "ab") == [(False, "[AB]")]


def test_a_later_hook_sees_empty_text_while_an_earlier_one_holds() -> None:
    holder = Scripted(HOLD, HOLD, None, name="holder")
    after = Scripted(name="after")
    chain = HookChain([holder, after], 0)
    push(chain, "a")
    push(chain, "b")
    assert push(chain, "c") == [(False, "abc")]
    assert after.texts == ["", "", "abc"]
    assert [t.token_id for t in after.seen] == [7, 7, 7]


def test_a_later_hook_can_hold_what_an_earlier_one_released() -> None:
    first = Scripted(HOLD, None)
    second = Scripted(HOLD, HOLD, None)
    chain = HookChain([first, second], 0)
    assert push(chain, "a") == []
    assert push(chain, "b") == []  # first releases "ab"; second holds it
    assert chain.stages[1].held == "ab"
    assert push(chain, "c") == [(False, "abc")]


def test_every_hook_sees_every_token_with_its_details() -> None:
    a, b = Scripted(name="a"), Scripted(name="b")
    chain = HookChain([a, b], 3)
    u1, u2, u3 = Usage(5, 1), Usage(5, 2, reasoning_tokens=2), Usage(5, 3)
    chain.push([(True, "hm")], True, 11, u1, 0.25)
    chain.push([], True, 12, u2, 0.5)  # a token whose text is all held upstream
    chain.push([(False, "Hi")], False, 13, u3, 0.75)
    for hook in (a, b):
        assert [(t.index, t.text, t.token_id, t.reasoning, t.held, t.usage, t.elapsed)
                for t in hook.seen] == [
            (3, "hm", 11, True, "", u1, 0.25),
            (3, "", 12, True, "", u2, 0.5),
            (3, "Hi", 13, False, "", u3, 0.75),
        ]


def test_each_chunk_of_a_token_is_seen_separately() -> None:
    hook = Scripted()
    chain = HookChain([hook], 0)
    out = chain.push([(True, "end of thought"), (False, "Answer")], True, 9, USAGE, 0.0)
    assert out == [(True, "end of thought"), (False, "Answer")]
    assert [(t.reasoning, t.text, t.token_id) for t in hook.seen] == [
        (True, "end of thought", 9), (False, "Answer", 9)]


def test_empty_chunks_are_not_returned() -> None:
    chain = HookChain([Scripted(replace(""), None)], 0)
    assert chain.push([(True, "x"), (False, "y")], True, 1, USAGE, 0.0) == [(False, "y")]


# --- channels ---------------------------------------------------------------------------------

def test_channel_change_emits_held_reasoning_first_in_its_channel() -> None:
    hook = Scripted(lambda t: HOLD if t.reasoning else None)
    chain = HookChain([hook], 0)
    assert push(chain, "let me", reasoning=True) == []
    assert push(chain, " think", reasoning=True) == []
    assert push(chain, "Answer") == [(True, "let me think"), (False, "Answer")]
    assert hook.seen[-1].held == ""  # the answer token starts with nothing held


def test_channel_change_inside_one_push() -> None:
    hook = Scripted(HOLD)
    chain = HookChain([hook], 0)
    push(chain, "r1", reasoning=True)
    out = chain.push([(True, "r2"), (False, "a1")], True, 5, USAGE, 0.0)
    assert out == [(True, "r1r2")]
    assert [(t.text, t.held, t.reasoning) for t in hook.seen[1:]] == [
        ("r2", "r1", True), ("a1", "", False)]
    assert chain.flush(USAGE, 0.0) == [(False, "a1")]


def test_held_text_keeps_its_channel_when_released() -> None:
    chain = HookChain([Scripted(HOLD, release(2))], 0)
    push(chain, "abc", reasoning=True)
    assert push(chain, "d", reasoning=True) == [(True, "ab")]
    assert chain.flush(USAGE, 0.0) == [(True, "cd")]


# --- flush ------------------------------------------------------------------------------------

def test_flush_releases_held_text() -> None:
    chain = HookChain([Scripted(HOLD)], 0)
    push(chain, "par")
    push(chain, "tial")
    assert chain.flush(USAGE, 1.0) == [(False, "partial")]
    assert chain.flush(USAGE, 1.0) == []  # released once


def test_flush_runs_later_hooks_on_what_earlier_ones_release() -> None:
    holder = Scripted(HOLD, name="holder")
    upper = Scripted(lambda t: replace(t.text.upper()), name="upper")
    chain = HookChain([holder, upper], 2)
    push(chain, "ab")
    push(chain, "cd")
    u = Usage(1, 2)
    assert chain.flush(u, 2.5) == [(False, "ABCD")]
    last = upper.seen[-1]
    assert (last.index, last.text, last.token_id, last.reasoning, last.usage, last.elapsed) == (
        2, "abcd", -1, False, u, 2.5)


@pytest.mark.parametrize("at_flush", [None, HOLD])
def test_flush_keeps_stream_order_across_hooks(at_flush: Action | None) -> None:
    first = Scripted(None, HOLD)  # lets "x" through, holds "y"
    second = Scripted(HOLD, HOLD, at_flush)  # holds "x"; at flush gets "y"
    chain = HookChain([first, second], 0)
    assert push(chain, "x") == []
    assert push(chain, "y") == []
    assert chain.flush(USAGE, 0.0) == [(False, "xy")]
    assert second.seen[-1].text == "y" and second.seen[-1].held == "x"


def test_flush_with_nothing_held_does_not_call_hooks() -> None:
    hook = Scripted()
    chain = HookChain([hook], 0)
    push(chain, "a")
    assert chain.flush(USAGE, 0.0) == []
    assert len(hook.seen) == 1


def test_flush_after_a_stop_emits_what_a_later_hook_holds() -> None:
    stopper = Scripted(stop(), name="stopper")
    holder = Scripted(HOLD, name="holder")
    chain = HookChain([stopper, holder], 0)
    assert push(chain, "last words") == []
    assert (chain.stopped.reason, chain.stopped.finish) == ("stopper", "stop")
    assert chain.flush(USAGE, 0.0) == [(False, "last words")]


def test_flush_after_a_stop_still_runs_later_hooks_on_released_text() -> None:
    """A hook placed after a holding one (a redactor) must see all text that is emitted, also
    when an earlier hook stopped the choice: the contract says hooks run in order, each on
    what the one before emitted, and held text is emitted when the choice ends."""
    stopper = Scripted(None, stop(""), name="stopper")
    holder = Scripted(HOLD, name="holder")
    redact = Scripted(lambda t: replace(t.text.replace("secret", "******")), name="redact")
    chain = HookChain([stopper, holder, redact], 0)
    assert push(chain, "the secret") == []  # the holder keeps it
    assert push(chain, " is out") == []  # the stopper ends the choice here
    assert (chain.stopped.reason, chain.stopped.finish) == ("stopper", "stop")
    assert chain.flush(USAGE, 0.0) == [(False, "the ******")]


def test_flush_after_a_downstream_stop_drops_text_past_the_stop_point() -> None:
    """Text an earlier hook still holds comes, in stream order, after everything a later hook
    has seen. When that later hook stops the choice, the held text is past the stop point and
    must not be emitted."""
    holder = Scripted(HOLD, name="holder")
    stopper = Scripted(stop(), name="stopper")
    chain = HookChain([holder, stopper], 0)
    assert push(chain, "after the stop") == []
    assert (chain.stopped.reason, chain.stopped.finish) == ("stopper", "stop")
    assert chain.flush(USAGE, 0.0) == []


# --- failures ---------------------------------------------------------------------------------

def test_a_raising_hook_becomes_a_hook_error_naming_it() -> None:
    def broken(tok: HookToken) -> Action:
        raise ValueError("boom")

    chain = HookChain([Scripted(), broken], 0)
    with pytest.raises(HookError) as err:
        push(chain, "x")
    assert err.value.hook == "broken"
    assert err.value.code == "hook_error"
    assert err.value.status == 500
    assert "broken" in err.value.message and "ValueError" in err.value.message
    assert "boom" in err.value.message
    assert isinstance(err.value.__cause__, ValueError)


def test_a_hook_raising_at_flush_is_a_hook_error() -> None:
    calls = []

    def fails_at_end(tok: HookToken) -> Action | None:
        calls.append(tok.token_id)
        if tok.token_id < 0:
            raise RuntimeError("at the end")
        return None

    chain = HookChain([Scripted(HOLD), fails_at_end], 0)
    push(chain, "x")
    with pytest.raises(HookError) as err:
        chain.flush(USAGE, 0.0)
    assert err.value.hook == "fails_at_end"
    assert calls == [7, -1]


@pytest.mark.parametrize("bad", ["text", 1, True, {"kind": "pass"}])
def test_a_hook_returning_a_non_action_is_a_hook_error(bad: object) -> None:
    hook = Scripted(name="sloppy")
    hook.answers = [lambda t: bad]
    chain = HookChain([hook], 0)
    with pytest.raises(HookError) as err:
        push(chain, "x")
    assert err.value.hook == "sloppy"
    assert type(bad).__name__ in err.value.message


def test_a_hook_with_at_end_has_the_last_word_on_what_it_holds() -> None:
    class Trims:  # holds everything; at the end keeps only the first word
        name, at_end = "trims", True

        def __call__(self, tok: HookToken) -> Action | None:
            if tok.token_id < 0:
                return stop(tok.held.split(" ")[0], reason="trimmed")
            return HOLD

    after = Scripted(None)
    chain = HookChain([Trims(), after], 0)
    assert push(chain, "keep this") == [] and push(chain, " not") == []
    assert chain.flush(USAGE, 1.0) == [(False, "keep")]
    assert chain.stopped is not None and chain.stopped.reason == "trimmed"
    assert [t for t in after.texts if t] == ["keep"]  # the next hook saw what it let go
    plain = HookChain([Scripted(HOLD)], 0)  # without at_end: held text is emitted as before
    push(plain, "all of it")
    assert plain.flush(USAGE, 1.0) == [(False, "all of it")]
