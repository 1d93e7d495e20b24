"""IncrementalText (UTF-8-safe detokenisation) and StopMatcher (stop strings across pushes)."""

from __future__ import annotations

import pytest

from openmini.engine.detok import IncrementalText, StopMatcher

# --- IncrementalText ---------------------------------------------------------------------------


def test_ascii_pieces_pass_straight_through() -> None:
    text = IncrementalText()
    assert text.push(b"Hello") == "Hello"
    assert text.push(b", world") == ", world"
    assert text.flush() == ""


def test_two_byte_character_split_over_two_pieces() -> None:
    text = IncrementalText()
    raw = "é".encode()  # b"\xc3\xa9"
    assert text.push(b"caf" + raw[:1]) == "caf"
    assert text.push(raw[1:] + b"!") == "é!"
    assert text.flush() == ""


def test_three_byte_character_split_over_three_pieces() -> None:
    text = IncrementalText()
    raw = "€".encode()  # b"\xe2\x82\xac"
    assert len(raw) == 3
    assert text.push(raw[:1]) == ""
    assert text.push(raw[1:2]) == ""
    assert text.push(raw[2:]) == "€"


def test_four_byte_character_split_over_three_pieces() -> None:
    text = IncrementalText()
    raw = "😀".encode()  # 4 bytes
    assert text.push(b"a" + raw[:1]) == "a"
    assert text.push(raw[1:3]) == ""
    assert text.push(raw[3:] + b"b") == "😀b"
    assert text.flush() == ""


def test_concatenated_output_equals_decoding_the_whole_byte_stream() -> None:
    data = "naïve 日本語 😀 ok".encode()
    text = IncrementalText()
    out = "".join(text.push(data[i:i + 1]) for i in range(len(data))) + text.flush()
    assert out == "naïve 日本語 😀 ok"


def test_truncated_character_becomes_replacement_on_flush() -> None:
    text = IncrementalText()
    assert text.push(b"ab" + "€".encode()[:2]) == "ab"
    assert text.flush() == "\ufffd"
    assert text.flush() == ""  # nothing left after the final flush


def test_invalid_bytes_are_replaced_not_raised() -> None:
    text = IncrementalText()
    out = text.push(b"a\xffb")
    out += text.flush()
    assert out == "a\ufffdb"


def test_invalid_continuation_after_lead_byte() -> None:
    text = IncrementalText()
    assert text.push(b"\xe2\x82") == ""
    # an ASCII byte cannot continue the sequence: the incomplete one is replaced
    assert text.push(b"A") == "\ufffdA"
    assert text.flush() == ""


# --- StopMatcher -------------------------------------------------------------------------------


def run(matcher: StopMatcher, pieces: list[str]) -> tuple[str, str | None]:
    """Feed pieces until a stop matches; returns everything emitted and the stop."""
    out = []
    for piece in pieces:
        text, stop = matcher.push(piece)
        out.append(text)
        if stop is not None:
            return "".join(out), stop
    out.append(matcher.flush())
    return "".join(out), None


def test_no_stops_is_a_pass_through() -> None:
    matcher = StopMatcher(())
    assert matcher.push("abc") == ("abc", None)
    assert matcher.push("") == ("", None)
    assert matcher.flush() == ""


def test_empty_stop_strings_are_ignored() -> None:
    matcher = StopMatcher(("",))
    assert matcher.stops == ()
    assert matcher.push("anything") == ("anything", None)


def test_stop_within_one_push_cuts_text_and_discards_the_rest() -> None:
    matcher = StopMatcher(("END",))
    assert matcher.push("abcENDxyz") == ("abc", "END")


def test_stop_at_the_very_start() -> None:
    matcher = StopMatcher(("###",))
    assert matcher.push("###tail") == ("", "###")


def test_stop_spanning_several_pushes_is_never_emitted() -> None:
    matcher = StopMatcher(("<|end|>",))
    emitted = []
    for piece in ["hi ", "<", "|e", "nd", "|", ">after"]:
        text, stop = matcher.push(piece)
        emitted.append(text)
    assert "".join(emitted) == "hi "
    assert stop == "<|end|>"
    assert "<" not in "".join(emitted)


def test_partial_match_is_held_back() -> None:
    matcher = StopMatcher(("STOP",))
    assert matcher.push("abcST") == ("abc", None)
    assert matcher.push("O") == ("", None)
    assert matcher.push("P!") == ("", "STOP")


def test_held_text_released_when_it_stops_matching() -> None:
    matcher = StopMatcher(("STOP",))
    assert matcher.push("abST") == ("ab", None)
    assert matcher.push("ART") == ("START", None)
    assert matcher.flush() == ""


def test_held_text_released_partly_when_a_shorter_suffix_still_matches() -> None:
    matcher = StopMatcher(("aab",))
    assert matcher.push("aa") == ("", None)
    # "aaa" cannot start with "aab" at 0, but "aa" at the end still can
    assert matcher.push("a") == ("a", None)
    assert matcher.push("b") == ("", "aab")


def test_flush_releases_held_text() -> None:
    matcher = StopMatcher(("STOP",))
    assert matcher.push("the ST") == ("the ", None)
    assert matcher.flush() == "ST"
    assert matcher.flush() == ""


def test_earliest_of_several_stops_wins() -> None:
    matcher = StopMatcher(("zzz", "b", "cd"))
    assert matcher.push("a cd b zzz") == ("a ", "cd")


def test_earliest_stop_wins_even_when_listed_later() -> None:
    matcher = StopMatcher(("world", "hello"))
    assert matcher.push("say hello world") == ("say ", "hello")


def test_several_stops_across_pushes() -> None:
    matcher = StopMatcher(("\n\n", "User:"))
    out, stop = run(matcher, ["Answer.", "\n", "Us", "er", ":", " more"])
    assert (out, stop) == ("Answer.\n", "User:")


def test_hold_uses_the_longest_matching_prefix_over_all_stops() -> None:
    matcher = StopMatcher(("xy", "abcd"))
    # "abc" could begin "abcd"; "c" alone could not begin "xy"
    assert matcher.push("__abc") == ("__", None)
    assert matcher.flush() == "abc"


def test_matcher_can_be_reused_after_a_match() -> None:
    matcher = StopMatcher(("!",))
    assert matcher.push("a!b") == ("a", "!")
    assert matcher.push("cd") == ("cd", None)


@pytest.mark.parametrize("split", range(1, 12))
def test_result_is_independent_of_where_the_text_is_split(split: int) -> None:
    full = "Hello STOP world"
    out, stop = run(StopMatcher(("STOP",)), [full[:split], full[split:]])
    assert (out, stop) == ("Hello ", "STOP")


def test_no_match_emits_everything_after_flush() -> None:
    full = "a<b<|c<|en"
    out, stop = run(StopMatcher(("<|end|>",)), list(full))
    assert (out, stop) == (full, None)


def test_unicode_stop_strings() -> None:
    matcher = StopMatcher(("。",))
    assert matcher.push("日本") == ("日本", None)
    assert matcher.push("語。続き") == ("語", "。")
