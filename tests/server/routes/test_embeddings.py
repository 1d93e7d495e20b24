"""POST /v1/embeddings through the openai SDK against a real server with the real
all-MiniLM-L6-v2 model (and a scripted chat model beside it): shapes, order, usage, base64,
token-id inputs, the 400s that name their parameter, /v1/models, chat to it refused."""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import openai
import pytest

from openmini.config import ServerConfig
from openmini.engine.embed import Embedder, EmbedSettings
from openmini.models import resolve_model

from .serving import serving

pytestmark = pytest.mark.model

MODEL = "all-minilm-l6-v2"


@pytest.fixture(scope="module")
def client() -> Iterator[openai.OpenAI]:
    embedder = Embedder(resolve_model(MODEL), EmbedSettings(threads=1))
    with serving(ServerConfig(), embedders={MODEL: embedder}) as url:  # closes the embedder
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)


def _vectors(response: Any) -> np.ndarray:
    return np.array([item.embedding for item in response.data], dtype=np.float32)


def test_a_list_of_texts_in_order_with_usage(client: openai.OpenAI) -> None:
    texts = ["first text", "a second, longer text", "third"]
    response = client.embeddings.create(model=MODEL, input=texts, encoding_format="float",
                                        user="u-1")
    assert response.object == "list" and response.model == MODEL
    assert [item.index for item in response.data] == [0, 1, 2]
    assert {item.object for item in response.data} == {"embedding"}
    vectors = _vectors(response)
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert response.usage.prompt_tokens == response.usage.total_tokens == 4 + 7 + 3
    alone = client.embeddings.create(model=MODEL, input="third", encoding_format="float")
    np.testing.assert_allclose(vectors[2], _vectors(alone)[0], atol=1e-5)
    assert alone.usage.prompt_tokens == 3


def test_base64_is_the_float32_bytes_of_the_floats(client: openai.OpenAI) -> None:
    texts = ["base64 please", "and another"]
    floats = _vectors(client.embeddings.create(model=MODEL, input=texts,
                                               encoding_format="float"))
    raw = client.embeddings.create(model=MODEL, input=texts, encoding_format="base64")
    decoded = np.array([np.frombuffer(base64.b64decode(item.embedding), dtype="<f4")
                        for item in raw.data])
    np.testing.assert_array_equal(decoded, floats)
    # the SDK's default: asks for base64 and decodes it itself
    np.testing.assert_array_equal(_vectors(client.embeddings.create(model=MODEL, input=texts)),
                                  floats)


def test_token_id_inputs(client: openai.OpenAI) -> None:
    ids = [101, 7592, 2088, 102]  # [CLS] hello world [SEP]
    text = _vectors(client.embeddings.create(model=MODEL, input="hello world",
                                             encoding_format="float"))
    one = client.embeddings.create(model=MODEL, input=ids, encoding_format="float")
    many = client.embeddings.create(model=MODEL, input=[ids, ids[:2] + ids[3:]],
                                    encoding_format="float")
    np.testing.assert_allclose(_vectors(one), text, atol=1e-5)
    assert len(many.data) == 2 and many.usage.prompt_tokens == 7
    np.testing.assert_allclose(_vectors(many)[0], text[0], atol=1e-5)


def test_dimensions_equal_to_the_model_s_are_accepted(client: openai.OpenAI) -> None:
    response = client.embeddings.create(model=MODEL, input="x", dimensions=384,
                                        encoding_format="float")
    assert len(response.data[0].embedding) == 384


@pytest.mark.parametrize(("fields", "param"), [
    ({"input": ""}, "input"),
    ({"input": []}, "input"),
    ({"input": ["fine", ""]}, "input[1]"),
    ({"input": [[101, 102], []]}, "input[1]"),
    ({"input": ["fine", "word " * 600]}, "input[1]"),
    ({"input": "word " * 600}, "input"),
    ({"input": [[101, 99999, 102]]}, "input[0]"),
    ({"input": ["x"] * 2049}, "input"),
    ({"input": "x", "dimensions": 128}, "dimensions"),
    ({"input": "x", "encoding_format": "float16"}, "encoding_format"),
    ({"input": "x", "model": "fake"}, "model"),
])
def test_what_cannot_be_embedded_is_a_400_naming_it(client: openai.OpenAI,
                                                     fields: dict[str, Any], param: str) -> None:
    body = {"model": MODEL, **fields}
    with pytest.raises(openai.BadRequestError) as caught:
        client.embeddings.create(**body)
    assert caught.value.param == param, caught.value.message


def test_an_unknown_model_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.embeddings.create(model="nope", input="x")
    assert caught.value.param == "model"


def test_models_lists_it_as_an_embedding_model(client: openai.OpenAI) -> None:
    models = {m.id: m for m in client.models.list().data}
    assert set(models) == {"fake", MODEL}
    embedding = models[MODEL].model_dump()
    assert embedding["type"] == "embedding" and embedding["dimensions"] == 384
    assert models["fake"].model_dump()["type"] == "chat"
    assert client.models.retrieve(MODEL).id == MODEL


def test_chat_to_the_embedding_model_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL,
                                       messages=[{"role": "user", "content": "hi"}])
    assert caught.value.param == "model" and "/v1/embeddings" in caught.value.message
    with pytest.raises(openai.BadRequestError) as completion:
        client.completions.create(model=MODEL, prompt="hi")
    assert completion.value.param == "model"


def test_a_full_queue_is_a_429_that_the_sdk_retries_until_served(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's loop: past `max_queued` waiting inputs the server answers 429 queue_full
    with Retry-After; an SDK without retries sees RateLimitError, one with retries waits and
    is served once the queue has drained."""
    embedder = Embedder(resolve_model(MODEL),
                        EmbedSettings(threads=1, max_texts=2, max_queued=3))
    entered, release = threading.Event(), threading.Event()
    decode = embedder._decode

    def held(rows: list[Any]) -> None:  # the first decode waits: requests sent meanwhile queue
        entered.set()
        release.wait(30)
        decode(rows)

    monkeypatch.setattr(embedder, "_decode", held)
    with serving(ServerConfig(), embedders={MODEL: embedder}) as url, \
            ThreadPoolExecutor(4) as pool:
        statuses: list[int] = []

        def client(retries: int) -> openai.OpenAI:
            seen = openai.DefaultHttpxClient(event_hooks={"response": [lambda r: statuses.append(
                r.status_code)]}) if retries else None
            return openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=retries,
                                 http_client=seen)

        first = pool.submit(client(0).embeddings.create, model=MODEL, input=["a", "b"])
        assert entered.wait(30)
        queued = pool.submit(client(0).embeddings.create, model=MODEL, input=["c"])
        deadline = time.monotonic() + 30
        while embedder._queued < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(openai.RateLimitError) as refused:
            client(0).embeddings.create(model=MODEL, input=["d"])
        assert refused.value.code == "queue_full"
        assert refused.value.response.headers["retry-after"] == "1"
        retried = pool.submit(client(2).embeddings.create, model=MODEL, input=["d"])
        time.sleep(0.3)  # the retrying client's first try is refused meanwhile
        release.set()
        assert len(first.result(30).data) == 2 and len(queued.result(30).data) == 1
        served = retried.result(30)
        assert len(served.data) == 1 and served.usage.prompt_tokens == 3
        assert statuses == [429, 200]  # refused once, then served on the SDK's retry
