"""Runs one choice's tokens through its hooks, in order (see hooks/base.py for the contract).

Each hook keeps its own held text, in one channel (reasoning or answer): when the channel
changes, what it held is emitted in the old one first. A chunk is (reasoning?, text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from openmini.hooks.base import Action, HookError, HookToken, TokenHook, hook_name
from openmini.types import Usage

Chunk = tuple[bool, str]


@dataclass(slots=True)
class _Stage:
    hook: TokenHook
    name: str
    held: str = ""
    reasoning: bool = False


@dataclass(frozen=True, slots=True)
class Stopped:
    """A hook ended the choice."""

    reason: str
    finish: str  # "stop" or "length"
    stage: int  # which hook stopped it


class HookChain:
    def __init__(self, hooks: Sequence[TokenHook], index: int):
        self.stages = [_Stage(h, hook_name(h)) for h in hooks]
        self.index = index
        self.stopped: Stopped | None = None

    def push(self, chunks: list[Chunk], reasoning: bool, token_id: int, usage: Usage,
             elapsed: float) -> list[Chunk]:
        """One token's text through every hook; `reasoning` is the token's channel (for a
        token whose text is all held back upstream). Raises HookError."""
        for position in range(len(self.stages)):
            chunks = self._run(position, chunks or [(reasoning, "")], token_id, usage, elapsed)
        return [c for c in chunks if c[1]]

    def flush(self, usage: Usage, elapsed: float) -> list[Chunk]:
        """The choice ends: each hook sees what the ones before released, then lets go of what
        it still holds. After a stop, what the stopping hook and those before it hold lies
        past the stop point and is dropped; what later hooks hold came before it."""
        chunks: list[Chunk] = []
        for position, stage in enumerate(self.stages):
            if self.stopped is not None and position <= self.stopped.stage:
                stage.held = ""
                continue
            if chunks:
                chunks = self._run(position, chunks, -1, usage, elapsed)
            if stage.held and getattr(stage.hook, "at_end", False):  # its last word on it
                chunks += self._run(position, [(stage.reasoning, "")], -1, usage, elapsed)
            if stage.held:
                chunks.append((stage.reasoning, stage.held))
                stage.held = ""
        return [c for c in chunks if c[1]]

    def _run(self, position: int, chunks: list[Chunk], token_id: int, usage: Usage,
             elapsed: float) -> list[Chunk]:
        stage = self.stages[position]
        out: list[Chunk] = []
        for reasoning, text in chunks:
            if stage.held and stage.reasoning != reasoning:
                out.append((stage.reasoning, stage.held))
                stage.held = ""
            stage.reasoning = reasoning
            token = HookToken(self.index, text, token_id, reasoning, stage.held, usage, elapsed)
            try:
                action = stage.hook(token)
            except Exception as exc:
                raise HookError(stage.name, exc) from exc
            if action is not None and not isinstance(action, Action):
                raise HookError(stage.name, TypeError(
                    f"returned {type(action).__name__}; expected an Action or None"))
            if self._apply(stage, action, text, out) and self.stopped is None:
                assert action is not None
                self.stopped = Stopped(action.reason or stage.name, action.finish, position)
                break
        return out

    @staticmethod
    def _apply(stage: _Stage, action: Action | None, text: str, out: list[Chunk]) -> bool:
        """Apply one answer; True when it stops the choice."""
        pending = stage.held + text
        kind = "pass" if action is None else action.kind
        if kind == "hold":
            stage.held = pending
            return False
        assert action is not None or kind == "pass"
        if kind == "release":
            assert action is not None
            count = max(0, min(action.count, len(pending)))
            emit, stage.held = pending[:count], pending[count:]
        else:
            given = None if action is None else action.text
            emit, stage.held = (pending if given is None else given), ""
            if kind == "replace" and given is None:
                emit = ""
        out.append((stage.reasoning, emit))
        return kind == "stop"
