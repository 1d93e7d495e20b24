"""The embedding runner on the real all-MiniLM-L6-v2 GGUF: concurrent requests batched into
one decode give the vectors they get alone, vectors are unit length, token ids are taken as
they are, and bad inputs fail their request whole, naming the input."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from openmini.engine.embed import Embedder, EmbedSettings
from openmini.errors import ContextLengthExceeded, InvalidRequest, Overloaded
from openmini.models import resolve_model

pytestmark = pytest.mark.model

TEXTS = ["The cat sat on the mat.", "def add(a, b): return a + b", "Café au lait",
         "A quick brown fox jumps over the lazy dog", "SELECT * FROM users WHERE id = 1;",
         "Résumé of a software engineer", "numpy array broadcasting rules"]


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    model = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1, max_texts=4))
    yield model
    model.close()


@pytest.fixture(scope="module")
def alone(embedder: Embedder) -> dict[str, np.ndarray]:
    """Each text embedded on its own, one decode per text."""
    return {text: embedder.embed_sync([text]).vectors[0] for text in TEXTS}


@pytest.fixture
def decodes(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The rows of each decode; the first decode says it has begun (`entered`) and waits for
    `release`, so that the requests sent meanwhile queue up and share the next ones."""
    sizes: list[int] = []
    entered, release = threading.Event(), threading.Event()
    decode = embedder._decode

    def recorded(rows: list[Any]) -> None:
        if not sizes:
            entered.set()
            release.wait(10)
        sizes.append(len(rows))
        decode(rows)

    monkeypatch.setattr(embedder, "_decode", recorded)
    yield sizes, entered, release
    release.set()


async def test_concurrent_requests_share_decodes_and_match_one_by_one(
        embedder: Embedder, alone: dict[str, np.ndarray], decodes: Any) -> None:
    sizes, entered, release = decodes
    first = asyncio.ensure_future(embedder.embed([TEXTS[0]]))
    assert await asyncio.to_thread(entered.wait, 10)  # the thread is in the first decode, held
    groups = [TEXTS[1:3], TEXTS[3:4], TEXTS[4:7]]
    pending = [asyncio.ensure_future(embedder.embed(group)) for group in groups]
    await asyncio.sleep(0.05)
    release.set()
    results = await asyncio.gather(first, *pending)
    assert sizes == [1, 4, 2]  # 2 + 1 + 3 rows in order, at most max_texts=4 per decode
    for group, result in zip([TEXTS[:1], *groups], results, strict=True):
        assert result.vectors.shape == (len(group), 384)
        for text, vector in zip(group, result.vectors, strict=True):
            np.testing.assert_allclose(vector, alone[text], atol=1e-5)


def test_vectors_are_unit_length_and_similar_texts_closer(embedder: Embedder) -> None:
    vectors = embedder.embed_sync(["a cat on a mat", "a kitten on a rug",
                                   "quarterly tax filing deadline"]).vectors
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_usage_counts_cls_and_sep(embedder: Embedder) -> None:
    result = embedder.embed_sync(["hello world", "hi"])
    assert result.prompt_tokens == (2 + 2) + (1 + 2)


def test_token_ids_are_taken_as_they_are(embedder: Embedder,
                                         alone: dict[str, np.ndarray]) -> None:
    ids = embedder.tokenize(TEXTS[2])
    assert ids[0] == 101 and ids[-1] == 102  # [CLS] ... [SEP]
    result = embedder.embed_sync([ids, TEXTS[2]])
    np.testing.assert_allclose(result.vectors[0], alone[TEXTS[2]], atol=1e-5)
    np.testing.assert_allclose(result.vectors[1], alone[TEXTS[2]], atol=1e-5)
    assert result.prompt_tokens == 2 * len(ids)


def test_a_too_long_input_fails_its_request_naming_it(embedder: Embedder) -> None:
    long = "word " * 600
    with pytest.raises(ContextLengthExceeded) as caught:
        embedder.embed_sync(["fine", "also fine", "fine again", long])
    assert caught.value.param == "input[3]" and "512" in caught.value.message
    assert caught.value.status == 400
    with pytest.raises(ContextLengthExceeded) as single:
        embedder.embed_sync([long], single=True)
    assert single.value.param == "input"
    # 512 tokens exactly still fits: [CLS] + 510 words + [SEP]
    assert embedder.embed_sync(["word " * 510]).prompt_tokens == 512


def test_ids_out_of_the_vocabulary_name_the_input(embedder: Embedder) -> None:
    for bad in (30522, -1):
        with pytest.raises(InvalidRequest) as caught:
            embedder.embed_sync([[101, 7592, 102], [101, bad, 102]])
        assert caught.value.param == "input[1]" and str(bad) in caught.value.message
    with pytest.raises(InvalidRequest) as empty:
        embedder.embed_sync([[]])
    assert empty.value.param == "input[0]"


async def test_a_cancelled_request_leaves_the_others_served(embedder: Embedder,
                                                            alone: dict[str, np.ndarray],
                                                            decodes: Any) -> None:
    sizes, entered, release = decodes
    first = asyncio.ensure_future(embedder.embed([TEXTS[0]]))
    assert await asyncio.to_thread(entered.wait, 10)
    gone = asyncio.ensure_future(embedder.embed(TEXTS[1:5]))
    kept = asyncio.ensure_future(embedder.embed(TEXTS[5:7]))
    await asyncio.sleep(0.05)
    gone.cancel()
    release.set()
    await first
    result = await kept
    assert sizes == [1, 2]  # the cancelled request's rows were never decoded
    np.testing.assert_allclose(result.vectors[1], alone[TEXTS[6]], atol=1e-5)


async def test_past_max_queued_a_request_is_refused_then_served_again(
        embedder: Embedder, decodes: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, entered, release = decodes
    monkeypatch.setattr(embedder, "settings",
                        EmbedSettings(threads=1, max_texts=4, max_queued=6))
    first = asyncio.ensure_future(embedder.embed(TEXTS[:4]))
    assert await asyncio.to_thread(entered.wait, 10)
    gone = asyncio.ensure_future(embedder.embed(TEXTS[4:6]))  # 6 waiting: the limit
    await asyncio.sleep(0.05)
    with pytest.raises(Overloaded) as refused:
        await embedder.embed([TEXTS[6]])
    assert refused.value.status == 429 and "6 inputs waiting" in refused.value.message
    index_call = asyncio.ensure_future(asyncio.to_thread(embedder.embed_sync, [TEXTS[6]]))
    gone.cancel()  # a caller that leaves frees its place at once
    await asyncio.sleep(0.05)
    later = asyncio.ensure_future(embedder.embed(TEXTS[4:6]))
    release.set()
    await first
    assert len((await later).vectors) == 2
    assert len((await index_call).vectors) == 1  # the index's calls are not counted
    assert embedder._queued == 0


def test_serve_opens_the_catalogue_embedding_model_unless_off() -> None:
    from openmini.config import EngineConfig, ServerConfig, load_config
    from openmini.engine.embed import open_embedders

    assert open_embedders(ServerConfig(embeddings=False)) == {}
    assert load_config(env={"OPENMINI_EMBEDDINGS": "false"}).embeddings is False
    opened = open_embedders(ServerConfig(engine=EngineConfig(threads=1)))
    try:
        assert list(opened) == ["all-minilm-l6-v2"]
        assert opened["all-minilm-l6-v2"].dimensions == 384
        assert opened["all-minilm-l6-v2"].context_length == 512
    finally:
        for embedder in opened.values():
            embedder.close()
