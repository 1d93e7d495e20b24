"""Terminal sessions over the in-process API: one-shot and interactive chat."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from openmini.api import AsyncOpenMini
from openmini.types import ChatMessage, Failed, ReasoningDelta, TextDelta


async def _stream_reply(client: AsyncOpenMini, messages: list[ChatMessage],
                        sampling: dict[str, Any]) -> str:
    """Streams the answer to stdout; reasoning (with --reasoning-effort) goes to stderr, so a
    pipe gets only the answer."""
    parts: list[str] = []
    sampling = {k: v for k, v in sampling.items() if v is not None}
    request = replace(client.request(messages, **sampling), stream=True)
    thought = False
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
        elif isinstance(event, Failed):
            raise event.error
    sys.stdout.write("\n")
    sys.stdout.flush()
    return "".join(parts)


async def one_shot(client: AsyncOpenMini, prompt: str, system: str | None,
                   sampling: dict[str, Any]) -> None:
    messages = [ChatMessage("system", system)] if system else []
    messages.append(ChatMessage("user", prompt))
    try:
        await _stream_reply(client, messages, sampling)
    finally:
        await client.close()


async def interactive(client: AsyncOpenMini, system: str | None, sampling: dict[str, Any]
                      ) -> None:
    history = [ChatMessage("system", system)] if system else []
    try:
        while True:
            try:
                line = input(">>> ")
            except EOFError:
                break
            if line.strip() in {"/exit", "/quit"}:
                break
            if not line.strip():
                continue
            history.append(ChatMessage("user", line))
            reply = await _stream_reply(client, history, sampling)
            history.append(ChatMessage("assistant", reply))
    finally:
        await client.close()
