"""Terminal sessions over the in-process API: one-shot and interactive chat."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from openmini.api import AsyncOpenMini
from openmini.types import (
    ChatMessage,
    ChoiceFinished,
    CodeReport,
    Failed,
    ReasoningDelta,
    TextDelta,
)


async def _stream_reply(client: AsyncOpenMini, messages: list[ChatMessage],
                        sampling: dict[str, Any]) -> str:
    """Streams the answer to stdout; reasoning (with --reasoning-effort) goes to stderr, so a
    pipe gets only the answer."""
    parts: list[str] = []
    sampling = {k: v for k, v in sampling.items() if v is not None}
    request = replace(client.request(messages, **sampling), stream=True)
    thought = False
    code_report: CodeReport | None = None
    async for event in client.events(request):
        if isinstance(event, ReasoningDelta) and event.text:
            sys.stderr.write(event.text)
            sys.stderr.flush()
            thought = True
        elif isinstance(event, TextDelta) and event.text:
            if thought:
                sys.stderr.write("\n\n")
                thought = False
            sys.stdout.write(event.text)
            sys.stdout.flush()
            parts.append(event.text)
        elif isinstance(event, ChoiceFinished) and event.code is not None:
            code_report = event.code
        elif isinstance(event, Failed):
            raise event.error
    sys.stdout.write("\n")
    sys.stdout.flush()
    if code_report is not None:
        _say_code(code_report)
    return "".join(parts)


def _say_code(report: CodeReport) -> None:
    """--code-check's findings, on stderr (a pipe gets only the answer)."""
    if report.repairs:
        print(f"code: {report.repairs} repair(s) made", file=sys.stderr)
    for d in report.diagnostics:
        print(f"code: block {d['block'] + 1} ({d['language']}) {d['line']}:{d['column']}: "
              f"{d['message']}", file=sys.stderr)
    if not report.diagnostics:
        print("code: every block parses", file=sys.stderr)


async def one_shot(client: AsyncOpenMini, prompt: str, system: str | None,
                   sampling: dict[str, Any], images: Sequence[Path] = ()) -> None:
    from openmini.cli.commands import Conversation
    from openmini.errors import OpenMiniError

    state = Conversation(system=system, pending=list(images))
    try:
        await _stream_reply(client, [*state.messages(), state.user_turn(prompt)], sampling)
    except OpenMiniError as exc:  # a refused image, a prompt too long: one line, exit 1
        print(f"error: {exc.message}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    finally:
        await client.close()


async def interactive(client: AsyncOpenMini, system: str | None, sampling: dict[str, Any]
                      ) -> None:
    """The REPL: a line is a message, or a slash command (cli/commands.py)."""
    from openmini.cli.commands import Conversation, is_command, run_command
    from openmini.errors import OpenMiniError

    state = Conversation(system=system)
    try:
        while not state.done:
            try:
                line = input(">>> ")
            except EOFError:
                break
            if is_command(line.strip()):
                said = run_command(state, line.strip())
                if said:
                    print(said, flush=True)
                continue
            text = line[1:] if line.startswith("//") else line
            if not text.strip():
                continue
            turn = state.user_turn(text)
            try:
                reply = await _stream_reply(client, [*state.messages(), turn], sampling)
            except OpenMiniError as exc:  # a refused image, a context overflow: say so, go on
                print(f"error: {exc.message}", file=sys.stderr, flush=True)
                continue
            state.history += [turn, ChatMessage("assistant", reply)]
    finally:
        await client.close()
