"""What a hook sees and what it may answer.

A hook is any callable `hook(token: HookToken) -> Action | None`, run on the engine thread
for every token of every choice, after stop strings and before the token's text is emitted.
It answers with one of:

- `None` or `PASS`: emit the text it held back so far and this token's text;
- `HOLD`: emit nothing yet; this token's text joins the held text (`token.held`);
- `release(count)`: emit the first `count` characters of held + this token's text, hold the
  rest (a partial match kept back);
- `replace(text)`: emit `text` instead of the held text and this token's;
- `stop(text=None, reason=None, finish="stop")`: emit `text` (default: held + this token's)
  and end the choice; `reason` becomes the choice's `stop_reason` (default: the hook's name).

Hooks run in order, each on what the one before emitted. Text still held when a choice ends
is emitted; a hook with `at_end = True` is first called once more then (token_id -1, empty
text), and may answer `stop(text)` to drop what it holds past `text` (engine/fim.py). A hook
that raises ends the request with a `HookError` naming it. Hooks run between decode steps:
keep them to microseconds, or every sequence in the batch waits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from openmini.errors import OpenMiniError
from openmini.types import Usage


@dataclass(frozen=True, slots=True)
class HookToken:
    index: int  # the choice
    text: str  # this token's text as it reaches the hook ("" while something holds it back)
    token_id: int  # the token itself (-1 for text released when the choice ends)
    reasoning: bool  # part of the thinking block (reasoning_content), not of the answer
    held: str  # text this hook held back so far (in the same channel)
    usage: Usage  # the request's running usage, this token included
    elapsed: float  # seconds since the choice started generating


@dataclass(frozen=True, slots=True)
class Action:
    kind: Literal["pass", "hold", "release", "replace", "stop"]
    text: str | None = None
    count: int = 0
    reason: str | None = None
    finish: Literal["stop", "length"] = "stop"


PASS = Action("pass")
HOLD = Action("hold")


def release(count: int) -> Action:
    return Action("release", count=count)


def replace(text: str) -> Action:
    return Action("replace", text=text)


def stop(text: str | None = None, reason: str | None = None,
         finish: Literal["stop", "length"] = "stop") -> Action:
    return Action("stop", text=text, reason=reason, finish=finish)


TokenHook = Callable[[HookToken], "Action | None"]


class HookError(OpenMiniError):
    """A hook raised: the request ends with this error (a 500 naming the hook)."""

    def __init__(self, name: str, exc: BaseException):
        super().__init__(f"Hook '{name}' failed: {type(exc).__name__}: {exc}",
                         code="hook_error")
        self.hook = name


def hook_name(hook: object) -> str:
    name = getattr(hook, "name", None) or getattr(hook, "__name__", None)
    return str(name) if name else type(hook).__name__
