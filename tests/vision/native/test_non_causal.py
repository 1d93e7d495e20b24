"""Non-causal images (Gemma 3 style) end to end: the `fast` model with a random `gemma3`
projector (gemma3.py). llama.cpp decodes such an image's rows with causal attention off, so
an image goes into one decode whole (past the step's prefill budget if need be), alone among
its sequence's images; checked against llama.cpp's server with the same two files: the
same greedy text and prompt token count, cold and from the prefix cache."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig, ServerConfig
from openmini.errors import ModelAssemblyError
from openmini.models import resolve_model
from openmini.pipeline import Completion, Pipeline
from openmini.vision.policy import from_config
from openmini.vision.stage import Intake

from .gemma3 import make_gemma3_projector
from .projector import picture
from .test_backend_native import png, run
from .test_mrope import QUESTION, Parts, request, server_answers

pytestmark = pytest.mark.model

ROWS = 16  # 224 / 14 = 16 patches a side, pooled 4x4


@pytest.fixture(scope="module")
def mmproj(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_gemma3_projector(tmp_path_factory.mktemp("gemma3") / "mmproj.gguf")


@pytest.fixture(scope="module")
def backend(mmproj: Path) -> Iterator[LocalBackend]:
    b = LocalBackend(EngineConfig(model="fast", threads=2, parallel=4, ctx_size=2048,
                                  prefix_cache_tokens=4096, mmproj=str(mmproj)))
    yield b
    asyncio.run(b.close())


@pytest.fixture(scope="module")
def pipeline(backend: LocalBackend) -> Pipeline:
    return Pipeline(backend, intake=Intake(*from_config(ServerConfig())))


async def test_greedy_text_equals_llama_cpp_server_cold_and_cached(
        backend: LocalBackend, pipeline: Pipeline, mmproj: Path) -> None:
    # This build and xllamacpp's AVX2 build give logprobs up to ~0.12 apart (measured on the
    # first token, LLaVA and Gemma 3 projectors alike), so a greedy path with a closer tie
    # can part ways: picture 8 at 300x200 (three tokens within 0.03 after "a digital image of
    # a person") and picture 10 (0.05) did; the cases here have no such tie.
    one, wide, three = png(picture(7)), png(picture(13, size=(300, 200))), png(picture(9))
    cases: list[list[Parts]] = [
        [[("image", one), ("text", QUESTION)]],
        [[("image", one), ("text", QUESTION + " Be brief.")]],  # the image from the cache
        [[("image", wide), ("text", QUESTION)]],
        [[("image", wide), ("text", QUESTION)], [("text", "What colour is it?")]],
        [[("text", "Compare the two images."), ("image", one), ("image", three),
          ("text", "Which is brighter?")]],  # two images in a row: a decode each
    ]
    ours: list[tuple[str, int]] = []
    cached: list[int] = []
    for turns in cases:
        out = await run(pipeline, request(backend, turns))
        ours.append((out.text, out.usage.prompt_tokens))
        cached.append(out.usage.cached_tokens)
    assert cached[1] > ROWS and cached[3] > ROWS
    assert all(text for text, _ in ours)
    assert ours == server_answers(resolve_model("fast"), mmproj, cases)


async def test_text_requests_beside_an_image_keep_their_outputs(
        backend: LocalBackend, pipeline: Pipeline) -> None:
    texts = ["Name a colour.", "What is 2+2?", "Say hello in French."]
    image = [[("image", png(picture(12))), ("text", QUESTION)]]
    solo = [(await run(pipeline, request(backend, [[("text", t)]]))).text for t in texts]
    alone = (await run(pipeline, request(backend, image))).text
    together: list[Completion] = await asyncio.gather(
        run(pipeline, request(backend, image)),
        *(run(pipeline, request(backend, [[("text", t)]])) for t in texts))
    assert [c.text for c in together] == [alone, *solo]


def test_an_image_larger_than_a_decode_is_refused_at_load(tmp_path: Path) -> None:
    wide = make_gemma3_projector(tmp_path / "pool2.gguf", pool=2)  # 8x8 = 64 rows an image
    with pytest.raises(ModelAssemblyError, match="batch_size"):
        LocalBackend(EngineConfig(model="fast", threads=2, parallel=1, ctx_size=512,
                                  batch_size=32, prefix_cache_tokens=0, mmproj=str(wide)))
