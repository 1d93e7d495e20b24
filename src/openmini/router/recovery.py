"""Stream recovery: when a deployment dies mid-stream, the next one continues the answer.

What was streamed so far becomes the assistant's partial message, which the next deployment
continues (`Request.continue_final`: no new turn) for the tokens still allowed; the client
sees one stream. Only where that continuation means the same thing: a chat request with one
choice, no tools, no output constraint, no reasoning and no token hooks, that has streamed
nothing but text; and only onto a deployment that can continue a partial message
(`Capabilities.prefill`). Usage: completion tokens summed over both deployments; prompt
tokens the continuing deployment's (the first one's count died with its stream).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from openmini.types import ChatMessage, Done, Event, Request, TextDelta, Usage


@dataclass(slots=True)
class Progress:
    """What reached the caller from the failed attempt."""

    text: str = ""
    tokens: int = 0
    only_text: bool = True  # nothing but text deltas of choice 0 so far

    def see(self, event: Event) -> None:
        if isinstance(event, TextDelta) and event.index == 0:
            self.text += event.text
            self.tokens += max(1, len(event.token_ids)) if event.text else len(event.token_ids)
        else:
            self.only_text = False


def recoverable(request: Request, progress: Progress) -> bool:
    return (request.messages is not None and request.n == 1 and not request.tools
            and request.constraint is None and request.reasoning is None
            and not request.hooks and not request.continue_final
            and progress.only_text and bool(progress.text))


def continuation(request: Request, progress: Progress) -> Request:
    """The request that continues `progress`: its text as the assistant's open message."""
    assert request.messages is not None
    sampling = request.sampling
    if sampling.max_tokens is not None:
        sampling = replace(sampling, max_tokens=max(1, sampling.max_tokens - progress.tokens))
    return replace(request, sampling=sampling, continue_final=True, messages=(
        *request.messages, ChatMessage("assistant", progress.text)))


def summed(event: Event, before: Progress) -> Event:
    """The continuation's Done with the tokens streamed before the switch added."""
    if not isinstance(event, Done):
        return event
    u = event.usage
    return replace(event, usage=Usage(prompt_tokens=u.prompt_tokens,
                                      completion_tokens=u.completion_tokens + before.tokens,
                                      cached_tokens=u.cached_tokens,
                                      reasoning_tokens=u.reasoning_tokens))
