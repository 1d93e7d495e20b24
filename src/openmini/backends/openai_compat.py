"""A backend for any OpenAI-compatible server: vLLM, SGLang, llama.cpp's server, another
openmini, OpenAI itself (docs/providers.md, kind "openai").

One pooled aiohttp session (keep-alive) per backend; every request is streamed upstream
(`stream: true`, usage included) whatever the caller asked, so the first token is passed on
as soon as it arrives. The request body is built in openai_wire.py (what cannot be asked of
an upstream is refused by name there), the chunks read in openai_stream.py, failures
normalised into `UpstreamError` in upstream_errors.py. Nothing is retried here: an error
before or after events is raised, and the router above decides.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from openmini.backends.base import Capabilities
from openmini.backends.openai_stream import ChunkReader
from openmini.backends.openai_wire import check_request, messages_json, request_json, tools_json
from openmini.backends.upstream_base import UpstreamBackend
from openmini.backends.upstream_errors import protocol_error
from openmini.backends.upstream_http import open_stream, parse_json, post_json
from openmini.backends.upstream_images import encode_images
from openmini.backends.upstream_sse import sse_events
from openmini.errors import DeadlineExceeded, UnsupportedParameter, UpstreamError
from openmini.types import Event, Request

# what an upstream is assumed to do unless its provider table says more
DEFAULT_CAPABILITIES = Capabilities(logprobs=True, max_n=1, context_length=32768,
                                    reasoning=False, token_hooks=False, vision=None, fim=True)
NOT_FOUND = (404, 405)  # an endpoint the upstream does not have


class OpenAICompatBackend(UpstreamBackend):
    def __init__(self, name: str, base_url: str, models: dict[str, str], *,
                 api_key: str | None = None, timeout_s: float = 60.0,
                 capabilities: Capabilities | None = None, enforces_json_schema: bool = False,
                 session: aiohttp.ClientSession | None = None):
        """`models`: the ids we expose -> the upstream's ids. `base_url` as the OpenAI SDK
        takes it (`http://host:8000/v1`). `timeout_s` bounds connecting and each wait for
        data (a stream may run longer, as long as it keeps sending)."""
        super().__init__(name, base_url, models, capabilities=capabilities or
                         DEFAULT_CAPABILITIES, timeout_s=timeout_s, session=session,
                         headers={"Authorization": f"Bearer {api_key}"} if api_key else {})
        self.enforces_json_schema = enforces_json_schema
        self._tokenizer: str | None = None  # "vllm" or "llama.cpp" once seen to answer

    async def generate(self, request: Request) -> AsyncIterator[Event]:
        upstream = self._upstream_model(request.model)
        check_request(request, self.capabilities, self.enforces_json_schema)
        images = await encode_images(request.messages or ())
        body = request_json(request, upstream, images, self.enforces_json_schema)
        path = "/chat/completions" if request.messages is not None else "/completions"
        reader = ChunkReader(self.name, request.n, chat=request.messages is not None,
                             call_text=_tools_stage_on(request))
        if request.deadline is not None and time.monotonic() > request.deadline:
            raise DeadlineExceeded("The request's deadline passed before it was sent "
                                   "upstream.")
        started = time.monotonic()
        self._running += 1
        try:
            async with open_stream(self._session, self.base_url + path, body,
                                   self._request_headers(request), self.name) as response:
                saw_done = False
                async for sse in sse_events(response.lines()):
                    if saw_done:  # read to the end: the connection goes back to the pool
                        continue
                    if sse.data.strip() == "[DONE]":
                        saw_done = True
                        continue
                    for event in reader.feed(parse_json(self.name, sse.data)):
                        yield event
                yield reader.done(saw_done, time.monotonic() - started)
        finally:
            self._running -= 1

    def _request_headers(self, request: Request) -> dict[str, str]:
        if not request.request_id:
            return self._headers
        return {**self._headers, "X-Request-Id": request.request_id}

    async def count_tokens(self, request: Request) -> int:
        """The prompt's tokens, from the upstream's own tokenizer: vLLM's `POST /tokenize`
        (messages or prompt -> count), or llama.cpp's server (`POST /apply-template`, then
        `POST /tokenize`); which one the upstream is, is seen from its first answer.
        Any other upstream: UnsupportedParameter naming count_tokens."""
        upstream = self._upstream_model(request.model)
        if self._tokenizer in (None, "vllm"):
            count = await self._vllm_count(request, upstream)
            if count is not None:
                return count
        return await self._llama_count(request)

    async def _vllm_count(self, request: Request, upstream: str) -> int | None:
        """vLLM's count; None when the answer is llama.cpp's `/tokenize` (it ignores the
        fields it does not know and tokenizes nothing)."""
        body: dict[str, Any] = {"model": upstream}
        if request.messages is not None:
            images = await encode_images(request.messages)
            body["messages"] = messages_json(request.messages, images)
            body["add_generation_prompt"] = True
            if request.tools:
                body["tools"] = tools_json(request.tools, None, True)["tools"]
        else:
            body["prompt"] = request.prompt or ""
        answer = await self._root_post("/tokenize", body)
        if isinstance(answer, dict) and isinstance(answer.get("count"), int):
            self._tokenizer = "vllm"
            return int(answer["count"])
        if isinstance(answer, dict) and isinstance(answer.get("tokens"), list):
            self._tokenizer = "llama.cpp"
            return None
        raise protocol_error(self.name, "/tokenize answered neither vLLM's nor llama.cpp's "
                             "shape")

    async def _llama_count(self, request: Request) -> int:
        if request.messages is None:
            text = request.prompt or ""
        else:
            if any(m.images for m in request.messages):
                raise UnsupportedParameter("count_tokens", "is not supported with images by "
                                           f"provider '{self.name}' (llama.cpp's server)")
            body: dict[str, Any] = {"messages": messages_json(request.messages, {})}
            if request.tools:
                body["tools"] = tools_json(request.tools, None, True)["tools"]
            answer = await self._root_post("/apply-template", body)
            prompt = answer.get("prompt") if isinstance(answer, dict) else None
            if not isinstance(prompt, str):
                raise protocol_error(self.name, "/apply-template answered no prompt")
            text = prompt
        answer = await self._root_post("/tokenize", {"content": text, "add_special": True})
        tokens = answer.get("tokens") if isinstance(answer, dict) else None
        if not isinstance(tokens, list):
            raise protocol_error(self.name, "/tokenize answered no tokens")
        return len(tokens)

    async def _root_post(self, path: str, body: dict[str, Any]) -> Any:
        """POST to the server's root (vLLM and llama.cpp serve /tokenize beside /v1); an
        upstream without the endpoint cannot count tokens."""
        root = self.base_url.removesuffix("/v1")
        try:
            return await post_json(self._session, root + path, body, self._headers, self.name)
        except UpstreamError as exc:
            if exc.kind == "client" and exc.status in NOT_FOUND:
                raise UnsupportedParameter("count_tokens", "is not supported by provider "
                                           f"'{self.name}' (no {path} endpoint)") from None
            raise


def _tools_stage_on(request: Request) -> bool:
    """Whether the pipeline runs the tools stage on this request (pipeline.py): then calls
    go to it as text it parses and validates (openai_stream.py)."""
    choice = request.tool_choice
    return bool(request.tools) and not (choice is not None and choice.mode == "none")
