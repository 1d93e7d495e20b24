"""The Backend protocol: one async stream of Events per Request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, Protocol

from openmini.types import Event, Request


@dataclass(frozen=True, slots=True)
class Capabilities:
    chat: bool = True
    completions: bool = True
    logprobs: bool = True
    max_n: int = 16
    context_length: int = 4096
    reasoning: bool = True  # enforces a thinking budget (reasoning_effort, thinking_budget)
    token_hooks: bool = True  # runs per-token hooks and the stop criteria built on them
    # images: "native" (the model sees them), "perception" (they are described to it as
    # text: vision/), None (an image part is a 400)
    vision: Literal["native", "perception"] | None = None
    # continues a partial assistant message (Request.continue_final): stream recovery
    # (router/recovery.py) may move a broken stream onto this backend
    prefill: bool = False
    # fills in the middle: a completion's `suffix` (a local model whose vocabulary has FIM
    # tokens: engine/fim.py; an OpenAI-compatible upstream passes it on)
    fim: bool = False
    # reads a completion's Request.repo_context in its model's repository format (a local
    # model whose vocabulary has <|repo_name|> and <|file_sep|>: engine/fim.py)
    repo_context: bool = False


@dataclass(frozen=True, slots=True)
class BackendStats:
    """A snapshot for /metrics and /health."""

    queue_depth: int = 0
    running: int = 0
    batch_size: int = 0
    cache_hit_tokens: int = 0
    cache_lookup_tokens: int = 0
    tokens_generated: int = 0


class Backend(Protocol):
    """Serves one or more model ids. `generate` must stop work promptly when the iterator is
    closed (client gone): closing it cancels the request."""

    capabilities: Capabilities

    def model_ids(self) -> list[str]: ...

    def generate(self, request: Request) -> AsyncIterator[Event]: ...

    async def count_tokens(self, request: Request) -> int:
        """The prompt tokens the request would take (images included), as `usage`
        would count them; nothing is generated."""
        ...

    def stats(self) -> BackendStats: ...

    async def close(self) -> None: ...
