"""The native vision groundwork on a real text model: a random LLaVA MLP projector made here
(projector.py) loads with mtmd against the `fast` model, encodes images to embeddings of the
model's width, deterministically and pixel-dependently, and those embeddings decode into the
model's KV as a llama_batch of embeddings (the engine's next step)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp as ll
import numpy as np
import pytest

from openmini.engine.batch import Batch
from openmini.engine.model import LlamaModel
from openmini.engine.vision import Projector, pixel_digest
from openmini.errors import ModelAssemblyError

from .projector import fast_model, make_projector, picture

pytestmark = pytest.mark.model

N_EMBD = 896  # the `fast` model's embedding width
N_TOKENS = (224 // 14) ** 2




@pytest.fixture(scope="module")
def model() -> Iterator[LlamaModel]:
    with fast_model() as m:
        yield m


@pytest.fixture(scope="module")
def projector(model: LlamaModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Projector]:
    path = make_projector(tmp_path_factory.mktemp("mmproj") / "mmproj.gguf", n_embd=N_EMBD)
    with Projector(path, model.model, threads=2) as p:
        yield p


def test_projector_file_is_small_fast_and_deterministic(tmp_path: Path) -> None:
    t0 = time.perf_counter()
    a = make_projector(tmp_path / "a.gguf", seed=1)
    assert time.perf_counter() - t0 < 2.0
    assert a.stat().st_size < 20 * 2**20
    assert make_projector(tmp_path / "b.gguf", seed=1).read_bytes() == a.read_bytes()
    assert make_projector(tmp_path / "c.gguf", seed=2).read_bytes() != a.read_bytes()


def test_loads_against_the_text_model(projector: Projector, model: LlamaModel) -> None:
    assert projector.n_embd == N_EMBD == ll.llama_model_n_embd(model.model)
    assert projector.vision and not projector.use_mrope
    marker = projector.marker()
    assert marker.startswith("<__media_") and marker != "<__media__>"  # random: unforgeable


def test_a_width_other_than_the_models_is_refused(model: LlamaModel, tmp_path: Path) -> None:
    path = make_projector(tmp_path / "narrow.gguf", n_embd=512)
    with pytest.raises(ModelAssemblyError):
        Projector(path, model.model, threads=2, warmup=False)


def test_an_image_encodes_to_finite_embeddings_of_the_models_width(projector: Projector) -> None:
    im = picture(0)
    out = projector.encode(im)
    assert out.embd.shape == (N_TOKENS, N_EMBD) and out.embd.dtype == np.float32
    assert out.n_tokens == out.n_pos == N_TOKENS  # what mtmd reported for the chunk
    assert np.isfinite(out.embd).all() and out.embd.std() > 0
    assert not out.use_mrope and not out.non_causal
    assert out.digest == pixel_digest(im)  # the bitmap id came back as the chunk id


def test_same_pixels_same_embeddings_other_pixels_other_ones(projector: Projector) -> None:
    a, b = picture(0), picture(1)
    ea = projector.encode(a)
    assert np.array_equal(projector.encode(a.copy()).embd, ea.embd)
    assert projector.encode(a.convert("RGBA")).digest == ea.digest  # pixels, not the mode
    eb = projector.encode(b)
    assert eb.digest != ea.digest
    assert np.abs(eb.embd - ea.embd).max() > 1e-3


def test_any_size_is_resized_to_the_projectors_grid(projector: Projector) -> None:
    out = projector.encode(picture(2, size=(300, 120)))
    assert out.embd.shape == (N_TOKENS, N_EMBD)


def decode_image_then_text(model: LlamaModel, embd: np.ndarray, text: list[int]) -> np.ndarray:
    """Image rows as a batch of embeddings at positions 0.., then the text after them, the
    way mtmd_helper_decode_image_chunk and the engine's token batch would; the last logits."""
    model.seq_rm(0)
    n = embd.shape[0]
    raw = ll.llama_batch_init(n, embd.shape[1], 1)
    try:
        np.ctypeslib.as_array(raw.embd, shape=(n, embd.shape[1]))[:] = embd
        np.ctypeslib.as_array(raw.pos, shape=(n,))[:] = np.arange(n, dtype=np.int32)
        np.ctypeslib.as_array(raw.n_seq_id, shape=(n,))[:] = 1
        np.ctypeslib.as_array(raw.logits, shape=(n,))[:] = 0
        for i in range(n):
            raw.seq_id[i][0] = 0
        raw.n_tokens = n
        assert ll.llama_decode(model.ctx, raw) == 0
    finally:
        ll.llama_batch_free(raw)
    batch = Batch(len(text))
    try:
        last = batch.add(text, n, 0, True)
        assert ll.llama_decode(model.ctx, batch.submit()) == 0
        return model.logits_row(last).copy()
    finally:
        batch.close()


def test_embeddings_decode_into_the_models_kv(projector: Projector, model: LlamaModel) -> None:
    text = model.tokenize("\nWhat is in the image?")
    la = decode_image_then_text(model, projector.encode(picture(0)).embd, text)
    lb = decode_image_then_text(model, projector.encode(picture(1)).embd, text)
    assert np.isfinite(la).all() and np.isfinite(lb).all()
    assert np.abs(la - lb).max() > 1e-3  # the answer depends on the image
