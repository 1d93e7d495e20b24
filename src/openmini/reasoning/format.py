"""How a model spells its thinking block, and how a prompt opens one.

Models with native thinking have `<think>` / `</think>` as single tokens in their vocabulary
(Qwen3, DeepSeek-R1 distills): the grammar names them by id. Models without (Qwen2.5, SmolLM2)
get the same tags as plain text, an instruction to think inside them, and the opening tag
written at the start of the answer by the prompt, so generation begins inside the block.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from openmini.types import ChatMessage

OPEN, CLOSE = "<think>", "</think>"

INSTRUCTION = (
    "Before you reply, think. Your thinking starts with the tag <think>. {how} When you are "
    "done, write the tag </think>, then your reply. The user sees only the reply, never the "
    "thinking, so the reply must give the final answer in full, in the form the user asked for."
)
# What each effort asks of a model that has no native thinking (the budget caps it anyway).
HOW = {
    "minimal": "Think very briefly: a line or two.",
    "low": "Think briefly, step by step.",
    "medium": "Think step by step: work the problem out, then check it.",
    "high": "Think carefully step by step: work the problem out, then check every step "
            "again.",
}
DEFAULT_HOW = HOW["medium"]


def instruction(effort: str) -> str:
    return INSTRUCTION.format(how=HOW.get(effort, DEFAULT_HOW))


@dataclass(frozen=True, slots=True)
class ThinkFormat:
    """The tags for one vocabulary: token ids when native, None for plain text."""

    open_id: int | None = None
    close_id: int | None = None

    @property
    def native(self) -> bool:
        return self.open_id is not None and self.close_id is not None


def with_instruction(messages: Sequence[ChatMessage], fmt: ThinkFormat, effort: str
                     ) -> tuple[ChatMessage, ...]:
    """Messages that ask a model without native thinking to think in the block, as much as
    the effort says (appended to the first system message, or a new one first)."""
    if fmt.native:
        return tuple(messages)
    text = instruction(effort)
    if messages and messages[0].role in ("system", "developer"):
        first = messages[0]
        joined = f"{first.content}\n\n{text}" if first.content else text
        return (replace(first, content=joined), *messages[1:])
    return (ChatMessage("system", text), *messages)


def open_block(prompt: str) -> str:
    """The rendered prompt, ending inside an open thinking block (a template that opens the
    block itself, as Qwen3's does, is left as it is)."""
    if prompt.rstrip().endswith(OPEN):
        return prompt
    return f"{prompt}{OPEN}\n"
