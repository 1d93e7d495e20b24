"""Image spans in the engine (engine/images.py), without a model: placeholders, span checks,
the prefill order (an image's rows never follow text queued in the same step: the embeddings
batch is decoded first), and the prefix cache matching an image only by its digest."""

from __future__ import annotations

import numpy as np
import pytest

from openmini.engine.batch import Batch
from openmini.engine.images import (
    EmbdBatch,
    ImageSpan,
    check_spans,
    fill_prefill,
    kv_position,
    placeholder,
    pos_shift,
    spans_of,
    verified_prefix,
    whole_images,
)
from openmini.engine.prefix_cache import PrefixCache
from openmini.engine.sampling import Sampler
from openmini.engine.sequence import EngineRequest, Seq
from openmini.engine.vision import ImageEmbedding
from openmini.errors import EngineError
from openmini.types import SamplingParams

A = "a" * 64
A2 = "a" * 7 + "b" * 57  # the same placeholder id as A, another image


def emb(digest: str, n: int = 3) -> ImageEmbedding:
    return ImageEmbedding(np.zeros((n, 4), np.float32), n, False, False, digest)


def prompt(digest: str) -> tuple[np.ndarray, tuple[ImageSpan, ...]]:
    p = placeholder(digest)
    return np.array([1, 2, p, p, p, 7, 8], np.int32), (ImageSpan(2, emb(digest)),)


def test_placeholders_are_negative_and_follow_the_digest() -> None:
    assert placeholder(A) < 0 and placeholder(A) == placeholder(A2)
    assert placeholder("0" * 64) == -1 and placeholder("f" * 64) == -(2 ** 28)


def test_same_image_matches_and_a_collision_does_not() -> None:
    c = PrefixCache(100, 4)
    tokens, images = prompt(A)
    assert c.add(5, tokens[:6], spans_of(images, 6)) == []
    assert c.lookup(tokens, images) == (5, 6)
    other, other_images = prompt(A2)
    assert c.lookup(other, other_images) == (5, 2)  # up to the image only
    assert c.lookup(tokens) == (5, 6)  # ids alone would have matched: spans are what decide


def test_add_keeps_entries_with_other_images_apart() -> None:
    c = PrefixCache(100, 4)
    tokens, images = prompt(A)
    other, other_images = prompt(A2)
    assert c.add(5, tokens, spans_of(images, 7)) == []
    assert c.add(6, other, spans_of(other_images, 7)) == []  # not "contained": kept
    assert set(c.entries) == {5, 6}
    assert c.lookup(other, other_images) == (6, 7)


def test_verified_prefix_cuts_at_the_first_unshared_image() -> None:
    _, images = prompt(A)
    assert verified_prefix(7, images, [(2, A)]) == 7
    assert verified_prefix(7, images, [(2, A2)]) == 2
    assert verified_prefix(7, images, [(3, A)]) == 2
    assert verified_prefix(2, images, []) == 2
    assert verified_prefix(7, (), []) == 7


def test_check_spans_refuses_what_the_engine_cannot_decode() -> None:
    tokens, images = prompt(A)
    check_spans(list(tokens), images)
    with pytest.raises(EngineError):  # the prompt must end with text
        check_spans(list(tokens[:5]), images)
    with pytest.raises(EngineError):  # placeholders of another image
        check_spans(list(tokens), (ImageSpan(2, emb("c" * 64)),))
    mrope = ImageEmbedding(np.zeros((3, 4), np.float32), 3, True, False, A)
    with pytest.raises(EngineError):  # M-RoPE without its planes
        check_spans(list(tokens), (ImageSpan(2, mrope),))
    check_spans(*mrope_prompt())
    with pytest.raises(EngineError):  # fewer positions than rows without M-RoPE
        check_spans(list(tokens), (ImageSpan(2, emb(A).__class__(
            np.zeros((3, 4), np.float32), 2, False, False, A)),))
    check_spans(list(tokens), (ImageSpan(2, non_causal_emb(A)),))


def seq_of(tokens: list[int], images: tuple[ImageSpan, ...]) -> Seq:
    req = EngineRequest("r", tokens, SamplingParams(), 4, lambda evs: None, images=images)
    return Seq(req=req, index=0, seq_id=3, tokens=list(tokens), sampler=Sampler(req.params, 16))


def steps(seq: Seq, budget: int) -> list[tuple[list[int], list[int]]]:
    """(token positions, image row positions) queued per step until the prompt is in."""
    batch, embd = Batch(64), EmbdBatch(64, 4)
    out = []
    try:
        while seq.batch_index < 0:
            batch.clear()
            embd.n = 0
            fill_prefill(seq, batch, embd, budget)
            out.append((list(batch.pos[:batch.n]), list(embd.pos[:embd.n])))
        return out
    finally:
        batch.close()
        embd.close()


def test_text_then_image_take_two_steps_image_then_text_one() -> None:
    tokens, images = prompt(A)  # 2 text, 3 image rows, 2 text
    assert steps(seq_of(list(tokens), images), 64) == [([0, 1], []), ([5, 6], [2, 3, 4])]


def test_the_budget_splits_an_image_and_stops_text() -> None:
    tokens, images = prompt(A)
    seq = seq_of(list(tokens), images)
    got = steps(seq, 2)
    assert got == [([0, 1], []), ([], [2, 3]), ([5], [4]), ([6], [])]
    assert seq.n_past == 7


def mrope_emb(digest: str) -> ImageEmbedding:
    """A 3x2 grid of rows (x fastest), 3 positions: t stays at pos_0, y and x move on."""
    planes = np.array([[0] * 6, [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2], [0] * 6], np.int32)
    return ImageEmbedding(np.zeros((6, 4), np.float32), 3, True, False, digest, planes)


def mrope_prompt() -> tuple[list[int], tuple[ImageSpan, ...]]:
    p = placeholder(A)
    return [1, 2, *[p] * 6, 7, 8], (ImageSpan(2, mrope_emb(A)),)


def test_mrope_positions_after_an_image_move_by_its_positions_not_its_rows() -> None:
    tokens, images = mrope_prompt()
    assert pos_shift(images) == 3  # 6 rows, 3 positions
    assert [kv_position(images, n) for n in (0, 2, 8, 9, 10)] == [0, 2, 5, 6, 7]
    assert [whole_images(n, images) for n in (2, 3, 7, 8, 9)] == [2, 2, 2, 8, 9]
    assert EngineRequest("r", tokens, SamplingParams(), 4, lambda evs: None,
                         images=images).pos_shift == 3
    assert pos_shift(prompt(A)[1]) == 0  # images of other projectors shift nothing


def test_mrope_rows_go_in_plane_after_plane_text_after_them_moves_on() -> None:
    tokens, images = mrope_prompt()
    seq = seq_of(tokens, images)
    batch, embd = Batch(64), EmbdBatch(64, 4, mrope=True)
    try:
        fill_prefill(seq, batch, embd, 64)  # the text before the image
        assert list(batch.pos[:batch.n]) == [0, 1]
        batch.clear()
        fill_prefill(seq, batch, embd, 64)  # the image, then the text after it
        raw = embd.submit()
        laid = np.ctypeslib.as_array(raw.pos, shape=(4 * 6,)).reshape(4, 6)
        assert laid.tolist() == [[2] * 6, [2, 2, 2, 3, 3, 3], [2, 3, 4, 2, 3, 4], [0] * 6]
        assert list(batch.pos[:batch.n]) == [5, 6] and seq.n_past == 10
    finally:
        batch.close()
        embd.close()


def test_mrope_image_split_over_steps_keeps_its_planes() -> None:
    tokens, images = mrope_prompt()
    seq = seq_of(tokens, images)
    batch, embd = Batch(64), EmbdBatch(64, 4, mrope=True)
    got = []
    try:
        while seq.batch_index < 0:
            batch.clear()
            embd.n = 0
            fill_prefill(seq, batch, embd, 4)
            n = embd.n
            planes = np.ctypeslib.as_array(embd.submit().pos, shape=(4 * n,)).reshape(4, n)
            got.append((list(batch.pos[:batch.n]), planes[2].tolist()))
        assert got == [([0, 1], []), ([], [2, 3, 4, 2]), ([5, 6], [3, 4])]
    finally:
        batch.close()
        embd.close()


def non_causal_emb(digest: str, n: int = 3) -> ImageEmbedding:
    return ImageEmbedding(np.zeros((n, 4), np.float32), n, False, True, digest)


def test_a_non_causal_image_goes_whole_past_the_budget_never_split() -> None:
    p = placeholder(A)
    tokens, images = [1, 2, p, p, p, 7, 8], (ImageSpan(2, non_causal_emb(A)),)
    assert steps(seq_of(tokens, images), 2) == [([0, 1], []), ([], [2, 3, 4]), ([5, 6], [])]
    assert whole_images(4, images) == 2  # a cached prefix never keeps part of one


def test_two_non_causal_images_in_a_row_take_a_decode_each() -> None:
    a, b = placeholder(A), placeholder("c" * 64)
    tokens = [1, a, a, a, b, b, b, 7]
    images = (ImageSpan(1, non_causal_emb(A)), ImageSpan(4, non_causal_emb("c" * 64)))
    assert steps(seq_of(tokens, images), 64) == [([0], []), ([], [1, 2, 3]), ([7], [4, 5, 6])]


def test_a_non_causal_image_waits_for_room_in_the_batch() -> None:
    p = placeholder(A)
    seq = seq_of([1, p, p, p, 7], (ImageSpan(1, non_causal_emb(A)),))
    batch, embd = Batch(64), EmbdBatch(4, 4)
    try:
        seq.n_past = 1
        embd.add(np.zeros((2, 4), np.float32), 0, 5, non_causal=True)  # another sequence's
        fill_prefill(seq, batch, embd, 64)
        assert seq.n_past == 1 and embd.n == 2  # 3 rows do not fit in 2: next step
        with pytest.raises(ValueError):  # causal and non-causal rows never share a decode
            embd.add(np.zeros((1, 4), np.float32), 9, 6)
        embd.n = 0
        fill_prefill(seq, batch, embd, 64)
        assert seq.n_past == 5 and embd.n == 3 and embd.non_causal
    finally:
        batch.close()
        embd.close()
