"""How a prompt asks for and opens a thinking block (reasoning/format.py)."""

from __future__ import annotations

import pytest

from openmini.reasoning.effort import EFFORTS
from openmini.reasoning.format import (
    CLOSE,
    DEFAULT_HOW,
    HOW,
    OPEN,
    ThinkFormat,
    instruction,
    open_block,
    with_instruction,
)
from openmini.types import ChatMessage

USER = ChatMessage("user", "What is 2 + 2?")
TEXT = instruction("low")


def test_the_tags() -> None:
    assert (OPEN, CLOSE) == ("<think>", "</think>")


@pytest.mark.parametrize("effort", [e for e in EFFORTS if e != "none"])
def test_the_instruction_names_both_tags_and_says_how_much_to_think(effort: str) -> None:
    text = instruction(effort)
    assert OPEN in text and CLOSE in text
    assert HOW[effort] in text
    assert "{" not in text  # the template is filled


def test_each_effort_asks_for_something_different() -> None:
    texts = {instruction(e) for e in ("minimal", "low", "medium", "high")}
    assert len(texts) == 4


@pytest.mark.parametrize("effort", ["custom", "none", "anything"])
def test_an_effort_without_its_own_words_gets_the_default(effort: str) -> None:
    assert DEFAULT_HOW in instruction(effort)
    assert instruction(effort) == instruction("medium")


@pytest.mark.parametrize(("fmt", "native"), [(ThinkFormat(), False), (ThinkFormat(5, 6), True),
                                             (ThinkFormat(5, None), False),
                                             (ThinkFormat(None, 6), False),
                                             (ThinkFormat(0, 1), True)])
def test_native_needs_both_ids(fmt: ThinkFormat, native: bool) -> None:
    assert fmt.native is native


def test_native_models_get_no_instruction() -> None:
    messages = [ChatMessage("system", "Be brief."), USER]
    assert with_instruction(messages, ThinkFormat(1, 2), "high") == tuple(messages)


def test_the_instruction_is_appended_to_the_first_system_message() -> None:
    system = ChatMessage("system", "Be brief.", name="ops")
    out = with_instruction([system, USER, ChatMessage("system", "later")], ThinkFormat(), "low")
    assert len(out) == 3
    assert out[0] == ChatMessage("system", f"Be brief.\n\n{TEXT}", name="ops")
    assert out[1:] == (USER, ChatMessage("system", "later"))
    assert system.content == "Be brief."  # the caller's message is left alone


def test_the_instruction_follows_the_effort() -> None:
    out = with_instruction([USER], ThinkFormat(), "high")
    assert out[0].content == instruction("high")
    assert HOW["high"] in out[0].content


def test_a_developer_message_counts_as_the_system_message() -> None:
    out = with_instruction([ChatMessage("developer", "Rules."), USER], ThinkFormat(), "low")
    assert out[0].role == "developer"
    assert out[0].content == f"Rules.\n\n{TEXT}"


def test_an_empty_system_message_gets_the_instruction_alone() -> None:
    out = with_instruction([ChatMessage("system", ""), USER], ThinkFormat(), "low")
    assert out == (ChatMessage("system", TEXT), USER)


@pytest.mark.parametrize("messages", [[USER], [USER, ChatMessage("system", "late")], []])
def test_without_a_leading_system_message_one_is_added_first(messages: list[ChatMessage]
                                                             ) -> None:
    out = with_instruction(messages, ThinkFormat(), "low")
    assert out == (ChatMessage("system", TEXT), *messages)


def test_open_block_appends_the_opening_tag() -> None:
    prompt = "<|im_start|>assistant\n"
    assert open_block(prompt) == f"{prompt}<think>\n"


@pytest.mark.parametrize("prompt", ["<|im_start|>assistant\n<think>\n", "x<think>",
                                    "x<think>  \n\n"])
def test_open_block_leaves_a_prompt_that_already_opens_it(prompt: str) -> None:
    assert open_block(prompt) == prompt


def test_open_block_does_not_mistake_a_closed_block() -> None:
    prompt = "<think>\nold</think>\n"
    assert open_block(prompt) == f"{prompt}<think>\n"
