"""A backend for Anthropic's Messages API: Anthropic itself, or any server that speaks it,
such as another openmini's `/v1/messages` (docs/providers.md, kind "anthropic").

One pooled aiohttp session (keep-alive) per backend; every request is streamed upstream
(`stream: true`) whatever the caller asked, so the first token is passed on as soon as it
arrives. The request body is built in anthropic_wire.py (what the API cannot be asked for is
refused by name there), the events read in anthropic_stream.py, failures normalised into
`UpstreamError` in upstream_errors.py (a 529 `overloaded_error` is a 5xx: kind server).
Nothing is retried here: an error before or after events is raised, and the router above
decides.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp

from openmini.backends.anthropic_stream import EventReader
from openmini.backends.anthropic_wire import (
    check_request,
    count_json,
    request_json,
    tools_stage_on,
)
from openmini.backends.base import Capabilities
from openmini.backends.upstream_base import UpstreamBackend
from openmini.backends.upstream_errors import protocol_error
from openmini.backends.upstream_http import open_stream, parse_json, post_json
from openmini.backends.upstream_images import encode_images
from openmini.backends.upstream_sse import sse_events
from openmini.errors import DeadlineExceeded
from openmini.types import Event, Request

API_VERSION = "2023-06-01"
# what a provider is assumed to do unless its table says more (Claude: 200k context, prefill)
DEFAULT_CAPABILITIES = Capabilities(completions=False, logprobs=False, max_n=1,
                                    context_length=200_000, reasoning=False,
                                    token_hooks=False, vision=None, prefill=True)


class AnthropicBackend(UpstreamBackend):
    health_path = "/v1/models"

    def __init__(self, name: str, base_url: str, models: dict[str, str], *,
                 api_key: str | None = None, timeout_s: float = 60.0,
                 capabilities: Capabilities | None = None,
                 session: aiohttp.ClientSession | None = None):
        """`models`: the ids we expose -> the upstream's ids. `base_url`: the API root as
        the anthropic SDK takes it (`https://api.anthropic.com`, no `/v1`). `timeout_s`
        bounds connecting and each wait for data. Whatever `capabilities` declare, the API
        has no raw completions, logprobs, n or token hooks: those are off."""
        headers = {"anthropic-version": API_VERSION, **({"x-api-key": api_key} if api_key
                                                         else {})}
        super().__init__(name, base_url, models, timeout_s=timeout_s, session=session,
                         headers=headers, capabilities=replace(
                             capabilities or DEFAULT_CAPABILITIES, completions=False,
                             logprobs=False, max_n=1, token_hooks=False))

    async def generate(self, request: Request) -> AsyncIterator[Event]:
        upstream = self._upstream_model(request.model)
        check_request(request, self.capabilities)
        images = await encode_images(request.messages or ())
        body, held = request_json(request, upstream, images, self.capabilities)
        reader = EventReader(self.name, call_text=tools_stage_on(request), skip=len(held))
        if request.deadline is not None and time.monotonic() > request.deadline:
            raise DeadlineExceeded("The request's deadline passed before it was sent "
                                   "upstream.")
        started = time.monotonic()
        self._running += 1
        try:
            async with open_stream(self._session, self.base_url + "/v1/messages", body,
                                   self._request_headers(request), self.name) as response:
                async for sse in sse_events(response.lines()):
                    if reader.stopped:  # read to the end: the connection goes back to the pool
                        continue
                    for event in reader.feed(sse.event, parse_json(self.name, sse.data)):
                        yield event
                yield reader.done(time.monotonic() - started)
        finally:
            self._running -= 1

    def _request_headers(self, request: Request) -> dict[str, str]:
        if not request.request_id:
            return self._headers
        return {**self._headers, "X-Request-Id": request.request_id}

    async def count_tokens(self, request: Request) -> int:
        """The prompt's tokens as the upstream counts them: `POST /v1/messages/count_tokens`
        with the request's prompt fields (system, messages, tools, thinking)."""
        upstream = self._upstream_model(request.model)
        images = await encode_images(request.messages or ())
        body = count_json(request, upstream, images, self.capabilities)
        answer = await post_json(self._session, self.base_url + "/v1/messages/count_tokens",
                                 body, self._headers, self.name)
        tokens = answer.get("input_tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, int) or isinstance(tokens, bool):
            raise protocol_error(self.name, "/v1/messages/count_tokens answered no "
                                 "input_tokens")
        return tokens
