"""The engine with image spans, on the `fast` model and a random projector: the image rows go
into the KV as a batch of embeddings at their place in the prompt; greedy output equals a
plain token-by-token reference; a second request with the same image reuses the image's
cells from the prefix cache, another image does not; text-only requests batched with an
image request keep their solo outputs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import llama_cpp as ll
import numpy as np
import pytest

from openmini.engine.batch import Batch
from openmini.engine.engine import Engine, EngineSettings
from openmini.engine.images import ImageSpan, placeholder
from openmini.engine.model import LlamaModel
from openmini.engine.vision import ImageEmbedding, Projector
from openmini.pipeline import collect
from openmini.types import SamplingParams, TextDelta

from .projector import fast_model, make_projector, picture

pytestmark = pytest.mark.model

N_GEN = 8


@pytest.fixture(scope="module")
def model() -> Iterator[LlamaModel]:
    with fast_model(n_ctx=4096, n_seq_max=12) as m:
        yield m


@pytest.fixture(scope="module")
def ref_model() -> Iterator[LlamaModel]:
    with fast_model() as m:
        yield m


@pytest.fixture(scope="module")
def embeddings(model: LlamaModel, tmp_path_factory: pytest.TempPathFactory
               ) -> list[ImageEmbedding]:
    path = make_projector(tmp_path_factory.mktemp("mmproj") / "mmproj.gguf")
    with Projector(path, model.model, threads=2) as p:
        return [p.encode(picture(0)), p.encode(picture(1))]


@pytest.fixture
def engine(model: LlamaModel) -> Iterator[Engine]:
    model.clear()
    e = Engine(model, EngineSettings(parallel=4, batch_size=512, stream_interval=0,
                                     prefix_cache_entries=8))
    yield e
    e.close()


def image_prompt(model: LlamaModel, image: ImageEmbedding, question: str = "What is this?"
                 ) -> tuple[list[int], tuple[ImageSpan, ...]]:
    head = model.tokenize("<|im_start|>user\n")
    tail = model.tokenize(f"\n{question}<|im_end|>\n<|im_start|>assistant\n")
    prompt = [*head, *[placeholder(image.digest)] * image.n_tokens, *tail]
    return prompt, (ImageSpan(len(head), image),)


async def run(engine: Engine, prompt: list[int], images: tuple[ImageSpan, ...] = (),
              max_tokens: int = N_GEN) -> tuple[list[int], Any]:
    fields: dict[str, object] = dict(request_id="r", prompt=prompt, max_tokens=max_tokens,
                                     params=SamplingParams(temperature=0), images=images)
    tokens: list[int] = []

    async def stream() -> Any:
        async for ev in engine.generate(fields):
            if isinstance(ev, TextDelta):
                tokens.extend(ev.token_ids)
            yield ev

    out = await collect(stream())
    return tokens, out.usage


def reference(model: LlamaModel, prompt: list[int], images: tuple[ImageSpan, ...]) -> list[int]:
    """Greedy tokens decoding the prompt in plain pieces (text, image, text) on a model of
    its own, then one token at a time."""
    seq = 0
    n_embd = int(ll.llama_model_n_embd_inp(model.model))
    model.seq_rm(seq)
    (span,) = images
    batch = Batch(512)
    try:
        batch.add(prompt[:span.start], 0, seq, False)
        assert ll.llama_decode(model.ctx, batch.submit()) == 0
        raw = ll.llama_batch_init(span.embedding.n_tokens, n_embd, 1)
        n = span.embedding.n_tokens
        np.ctypeslib.as_array(raw.embd, shape=(n, n_embd))[:] = span.embedding.embd
        np.ctypeslib.as_array(raw.pos, shape=(n,))[:] = np.arange(span.start, span.end)
        np.ctypeslib.as_array(raw.n_seq_id, shape=(n,))[:] = 1
        np.ctypeslib.as_array(raw.logits, shape=(n,))[:] = 0
        for i in range(n):
            raw.seq_id[i][0] = seq
        raw.n_tokens = n
        assert ll.llama_decode(model.ctx, raw) == 0
        ll.llama_batch_free(raw)
        pending, pos = prompt[span.end:], span.end
        out: list[int] = []
        while len(out) < N_GEN:
            batch.clear()
            last = batch.add(pending, pos, seq, True)
            assert ll.llama_decode(model.ctx, batch.submit()) == 0
            pos += len(pending)
            token = int(np.argmax(model.logits_row(last)))
            if token in model.eog_ids:
                break
            out.append(token)
            pending = [token]
        return out
    finally:
        batch.close()
        model.seq_rm(seq)


async def test_image_prompt_matches_a_plain_reference(
        engine: Engine, model: LlamaModel, ref_model: LlamaModel,
        embeddings: list[ImageEmbedding]) -> None:
    prompt, images = image_prompt(model, embeddings[0])
    tokens, usage = await run(engine, prompt, images)
    assert tokens and usage.prompt_tokens == len(prompt)
    assert all(t >= 0 for t in tokens)
    expected = reference(ref_model, prompt, images)
    assert tokens == expected


async def test_same_image_again_reuses_its_cells(engine: Engine, model: LlamaModel,
                                                 embeddings: list[ImageEmbedding]) -> None:
    prompt, images = image_prompt(model, embeddings[0])
    first, u1 = await run(engine, prompt, images)
    second, u2 = await run(engine, prompt, images)
    assert u1.cached_tokens == 0
    assert u2.cached_tokens >= images[0].end and second == first
    other, images2 = image_prompt(model, embeddings[1], "What is this? Answer briefly.")
    _, u3 = await run(engine, other, images2)
    assert u3.cached_tokens == images2[0].start  # the text before it, not the other image


async def test_a_placeholder_collision_never_reuses_the_wrong_image(
        engine: Engine, model: LlamaModel, embeddings: list[ImageEmbedding]) -> None:
    a, b = embeddings
    forged = ImageEmbedding(b.embd, b.n_pos, False, False, a.digest[:7] + "f" * 57)
    prompt, images = image_prompt(model, a)
    await run(engine, prompt, images)
    prompt_b, images_b = image_prompt(model, forged)
    assert prompt_b == prompt  # the same placeholder ids
    _, usage = await run(engine, prompt_b, images_b)
    assert usage.cached_tokens == images_b[0].start


async def test_different_images_answer_differently(
        engine: Engine, model: LlamaModel, ref_model: LlamaModel,
        embeddings: list[ImageEmbedding]) -> None:
    pa, ia = image_prompt(model, embeddings[0])
    pb, ib = image_prompt(model, embeddings[1])
    ra = reference(ref_model, pa, ia)
    rb = reference(ref_model, pb, ib)
    ta, _ = await run(engine, pa, ia)
    tb, _ = await run(engine, pb, ib)
    assert ta == ra and tb == rb
    assert ta != tb


async def test_text_requests_batched_with_an_image_keep_their_outputs(
        engine: Engine, model: LlamaModel, embeddings: list[ImageEmbedding]) -> None:
    texts = [model.tokenize(f"<|im_start|>user\nCount to {k}.<|im_end|>\n<|im_start|>assistant\n")
             for k in (3, 5)]
    alone = Engine(model, EngineSettings(parallel=1, stream_interval=0))
    try:
        solo = [(await run(alone, t, max_tokens=16))[0] for t in texts]
    finally:
        alone.close()
    model.clear()  # `engine` (idle until now) starts cold
    prompt, images = image_prompt(model, embeddings[1])
    together = await asyncio.gather(run(engine, prompt, images),
                                    *(run(engine, t, max_tokens=16) for t in texts))
    assert together[0][0]
    assert [t for t, _ in together[1:]] == solo


async def test_an_image_split_over_many_small_steps(model: LlamaModel, ref_model: LlamaModel,
                                                    embeddings: list[ImageEmbedding]) -> None:
    """Batches of 48 rows: the image is fed in slices, text and image never in one step in
    the wrong order."""
    model.clear()
    small = Engine(model, EngineSettings(parallel=2, batch_size=48, stream_interval=0))
    try:
        prompt, images = image_prompt(model, embeddings[0])
        tokens, _ = await run(small, prompt, images)
    finally:
        small.close()
        model.clear()
    assert tokens == reference(ref_model, prompt, images)
