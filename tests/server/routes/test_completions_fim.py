"""Fill-in-the-middle on POST /v1/completions: `suffix`, `fim_check` and `language` over HTTP
(the 400s, what reaches the backend), then the openai SDK against a real server: scripted
(no FIM tokens: 400; fim_check resampling) and on the real `fast` model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from openmini.backends.base import Capabilities
from openmini.code.parse import parse
from openmini.config import ServerConfig

from ..fake_backend import FakeBackend
from .serving import serving

URL = "/v1/completions"
ADD = "def add(a, b):\n    return "
ADD_SUFFIX = "\n\nprint(add(1, 2))\n"


def fim_backend(*answers: tuple[str, ...]) -> FakeBackend:
    return FakeBackend(answers=list(answers), capabilities=Capabilities(max_n=4, fim=True))


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "fake", "prompt": ADD, "suffix": ADD_SUFFIX, **fields}


async def test_a_model_without_fim_tokens_refuses_suffix(client: httpx.AsyncClient,
                                                         backend: FakeBackend) -> None:
    r = await client.post(URL, json=body())
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["param"] == "suffix" and "fill-in-the-middle" in error["message"]
    assert not backend.requests


async def test_an_empty_suffix_is_a_plain_completion(client: httpx.AsyncClient,
                                                     backend: FakeBackend) -> None:
    r = await client.post(URL, json=body(suffix=""))
    assert r.status_code == 200
    assert backend.requests[0].suffix is None and backend.requests[0].prompt == ADD


@pytest.mark.parametrize(("fields", "param"), [
    ({"fim_check": True, "suffix": None}, "fim_check"),
    ({"fim_check": True, "suffix": ""}, "fim_check"),
    ({"language": "python"}, "language"),
    ({"fim_check": True, "language": "klingon"}, "language"),
    ({"fim_check": True, "stream": True}, "fim_check"),
    ({"echo": True}, "echo"),
])
async def test_what_fim_cannot_take_is_a_400_naming_it(fields: dict[str, Any], param: str
                                                       ) -> None:
    backend = fim_backend()
    transport = httpx.ASGITransport(app=_app(backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(URL, json=body(**fields))
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert not backend.requests


def _app(backend: FakeBackend) -> Any:
    from openmini.server.app import create_app

    return create_app(ServerConfig(), backend)


async def test_suffix_and_fim_check_reach_the_request() -> None:
    backend = fim_backend(("a + b",))
    transport = httpx.ASGITransport(app=_app(backend))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.post(URL, json=body(fim_check=True, language="py", n=1))
    assert r.status_code == 200, r.text
    (sent,) = backend.requests
    assert sent.suffix == ADD_SUFFIX and sent.fim_check is not None
    assert sent.fim_check.language == "python"
    choice = r.json()["choices"][0]
    assert choice["text"] == "a + b" and choice["code_diagnostics"] == []
    assert choice["code_repairs"] == 0


# --- the openai SDK against a real server ---------------------------------------------------


def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)


def test_sdk_suffix_on_a_model_without_fim_tokens_is_a_400() -> None:
    with serving(ServerConfig()) as url, pytest.raises(openai.BadRequestError) as info:
        sdk(url).completions.create(model="fake", prompt=ADD, suffix=ADD_SUFFIX)
    assert info.value.body["param"] == "suffix"  # type: ignore[index]


def test_sdk_fim_check_answers_with_the_middle_that_parses() -> None:
    backend = fim_backend(("a", " +"), ("a", " + b"))
    with serving(ServerConfig(), backend) as url:
        done = sdk(url).completions.create(model="fake", prompt=ADD, suffix=ADD_SUFFIX,
                                           temperature=0, seed=3,
                                           extra_body={"fim_check": True})
    choice = done.choices[0]
    assert choice.text == "a + b" and choice.finish_reason == "stop"
    assert choice.model_extra == {"stop_reason": None, "code_diagnostics": [],
                                  "code_repairs": 1}
    assert done.usage is not None and done.usage.completion_tokens == 2 * 2  # both counted
    assert [(r.sampling.seed, r.sampling.temperature) for r in backend.requests] == [
        (3, 0.0), (4, 0.7)]  # the resample: another seed, warmer


@pytest.fixture(scope="module")
def fast_url() -> Iterator[str]:
    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig

    backend = LocalBackend(EngineConfig(model="fast", threads=2, parallel=2, ctx_size=1024))
    with serving(ServerConfig(), backend) as url:  # its lifespan closes the backend
        yield url


@pytest.mark.model
def test_sdk_infill_on_the_real_model(fast_url: str) -> None:
    client = sdk(fast_url)
    model = client.models.list().data[0].id
    done = client.completions.create(model=model, prompt=ADD, suffix=ADD_SUFFIX, max_tokens=40,
                                     temperature=0)
    middle = done.choices[0].text
    assert middle.strip() and "print(add(1, 2))" not in middle
    assert done.choices[0].finish_reason == "stop"
    stream = client.completions.create(model=model, prompt=ADD, suffix=ADD_SUFFIX,
                                       max_tokens=40, temperature=0, stream=True)
    assert "".join(c.choices[0].text for c in stream if c.choices) == middle


@pytest.mark.model
def test_sdk_fim_check_on_the_real_model(fast_url: str) -> None:
    client = sdk(fast_url)
    model = client.models.list().data[0].id
    prompt, suffix = "def fib(n):\n", "\n\nprint(fib(10))\n"
    done = client.completions.create(model=model, prompt=prompt, suffix=suffix, max_tokens=80,
                                     temperature=0, extra_body={"fim_check": True})
    choice = done.choices[0]
    assert parse(prompt + choice.text + suffix, "python").ok
    assert choice.model_extra is not None and choice.model_extra["code_diagnostics"] == []
