"""Every wire sampling parameter reaches `SamplingParams` (recorded by the fake backend)."""

from __future__ import annotations

from openmini.types import SamplingParams

CHAT = "/v1/chat/completions"
HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}

ALL_PARAMS = {
    "max_tokens": 12,
    "temperature": 0.3,
    "top_p": 0.9,
    "top_k": 40,
    "min_p": 0.05,
    "seed": 1234,
    "stop": ["\n\n", "END"],
    "frequency_penalty": 0.5,
    "presence_penalty": -0.5,
    "repetition_penalty": 1.1,
    "logit_bias": {"15": -100, "42": 2.5},
    "logprobs": True,
    "top_logprobs": 3,
    "ignore_eos": True,
}


async def test_every_sampling_param(client, backend):
    r = await client.post(CHAT, json={**HELLO, **ALL_PARAMS, "n": 3, "priority": -2,
                                      "user": "u-1"})
    assert r.status_code == 200, r.text
    (request,) = backend.requests
    assert request.sampling == SamplingParams(
        max_tokens=12, temperature=0.3, top_p=0.9, top_k=40, min_p=0.05, seed=1234,
        frequency_penalty=0.5, presence_penalty=-0.5, repetition_penalty=1.1,
        logit_bias=((15, -100.0), (42, 2.5)), stop=("\n\n", "END"), logprobs=True,
        top_logprobs=3, ignore_eos=True,
    )
    assert request.n == 3 and request.priority == -2 and request.model == "fake"


async def test_defaults(client, backend):
    await client.post(CHAT, json=HELLO)
    request = backend.requests[0]
    assert request.sampling == SamplingParams()
    assert request.n == 1 and request.priority == 0


async def test_nulls_mean_defaults(client, backend):
    nulls = dict.fromkeys(("temperature", "top_p", "n", "stop", "seed", "logprobs",
                           "max_tokens", "logit_bias", "user"))
    r = await client.post(CHAT, json={**HELLO, **nulls})
    assert r.status_code == 200, r.text
    assert backend.requests[0].sampling == SamplingParams()


async def test_stop_string(client, backend):
    await client.post(CHAT, json={**HELLO, "stop": "###"})
    assert backend.requests[0].sampling.stop == ("###",)


async def test_completions_sampling(client, backend):
    payload = {"model": "fake", "prompt": "p", "temperature": 0, "top_k": 1, "logprobs": 4,
               "seed": 7, "stop": "x"}
    r = await client.post("/v1/completions", json=payload)
    assert r.status_code == 200, r.text
    s = backend.requests[0].sampling
    assert (s.temperature, s.top_k, s.logprobs, s.top_logprobs, s.seed, s.stop) == (
        0.0, 1, True, 4, 7, ("x",))


def test_codebase_becomes_the_requests_with_its_path_normalised():
    from openmini.backends.base import Capabilities
    from openmini.server.convert import chat_request, completion_request
    from openmini.server.schemas import ChatCompletionRequest, CompletionRequest
    from openmini.types import Codebase

    body = CompletionRequest.model_validate({
        "model": "fake", "prompt": "x = ", "suffix": "\n",
        "codebase": {"index": "demo", "k": 3, "max_tokens": 100, "path": "./src//app.py"}})
    request = completion_request(body, Capabilities(fim=True), "cmpl-1")
    assert request.codebase == Codebase("demo", 3, 100, "src/app.py")
    chat = chat_request(ChatCompletionRequest.model_validate(
        {**HELLO, "codebase": {"index": "demo"}}), Capabilities(), "chatcmpl-1")
    assert chat.codebase == Codebase("demo", 6, 2048, None)
    assert chat_request(ChatCompletionRequest.model_validate(HELLO), Capabilities(),
                        "c").codebase is None
