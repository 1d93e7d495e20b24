"""Terminal sessions over the in-process API: one-shot and interactive chat."""

from __future__ import annotations

import sys
from typing import Any

from openmini.api import AsyncOpenMini
from openmini.types import ChatMessage


async def _stream_reply(client: AsyncOpenMini, messages: list[ChatMessage],
                        sampling: dict[str, Any]) -> str:
    parts: list[str] = []
    sampling = {k: v for k, v in sampling.items() if v is not None}
    async for piece in client.stream(messages, **sampling):
        sys.stdout.write(piece)
        sys.stdout.flush()
        parts.append(piece)
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
