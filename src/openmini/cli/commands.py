"""Slash commands of `openmini chat`, as a user of Ollama's REPL expects them.

A line starting with "/" is a command, never sent to the model: `/image PATH` (attach an
image to the next message; several may be attached), `/system TEXT` (set the system
message), `/clear` (a new conversation; the system message stays), `/help`, `/exit` (or
`/quit`, `/bye`). An unknown command is an error message. A line starting with "//" is sent
as text with one "/" removed (to ask about "/etc/hosts", type "//etc/hosts").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openmini.types import ChatMessage, ImagePart


@dataclass(slots=True)
class Conversation:
    """What the REPL keeps between lines."""

    system: str | None = None
    history: list[ChatMessage] = field(default_factory=list)
    pending: list[Path] = field(default_factory=list)  # images for the next message
    done: bool = False

    def messages(self) -> list[ChatMessage]:
        return ([ChatMessage("system", self.system)] if self.system else []) + self.history

    def user_turn(self, text: str) -> ChatMessage:
        """The next user message, with the attached images (read now), which are then
        cleared."""
        from openmini.vision.parts import image_bytes

        images = tuple(ImagePart(data=image_bytes(p), at=0, index=i)
                       for i, p in enumerate(self.pending))
        self.pending.clear()
        return ChatMessage("user", text, images=images)


Handler = Callable[[Conversation, str], str]  # (state, argument) -> what to print


def _image(state: Conversation, arg: str) -> str:
    if not arg:
        return "usage: /image PATH"
    path = Path(arg).expanduser()
    if not path.is_file():
        return f"error: no such file: {path}"
    state.pending.append(path)
    return f"attached {path.name} ({len(state.pending)} image(s) for the next message)"


def _system(state: Conversation, arg: str) -> str:
    state.system = arg or None
    return "system message set" if arg else "system message cleared"


def _clear(state: Conversation, arg: str) -> str:
    state.history.clear()
    state.pending.clear()
    return "new conversation"


def _exit(state: Conversation, arg: str) -> str:
    state.done = True
    return ""


def _help(state: Conversation, arg: str) -> str:
    return "\n".join(f"  /{name:<8} {text}" for name, (_, text) in COMMANDS.items()
                     if name not in ALIASES)


COMMANDS: dict[str, tuple[Handler, str]] = {
    "image": (_image, "PATH  attach an image to the next message"),
    "system": (_system, "TEXT  set the system message (empty: clear it)"),
    "clear": (_clear, "      start a new conversation"),
    "help": (_help, "      this list"),
    "exit": (_exit, "      leave (also Ctrl-D)"),
    "quit": (_exit, ""),
    "bye": (_exit, ""),
}
ALIASES = {"quit", "bye"}


def is_command(line: str) -> bool:
    return line.startswith("/") and not line.startswith("//")


def run_command(state: Conversation, line: str) -> str:
    """Carry out a slash command; what to print (an error for an unknown one)."""
    name, _, arg = line[1:].strip().partition(" ")
    entry = COMMANDS.get(name.lower())
    if entry is None:
        return f"error: unknown command /{name} (try /help)"
    return entry[0](state, arg.strip())
