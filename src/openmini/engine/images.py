"""Images in the engine: a prompt's image spans, their placeholder ids, and the prefill of a
sequence that holds them.

A request's prompt holds one placeholder id per image row (a negative int derived from the
image's pixel digest: never a vocabulary id, never equal for different images but by a 28-bit
collision), and `EngineRequest.images` says where each image starts and carries its rows.
A prefilling sequence's text chunk stops at its next image; when `n_past` reaches it, the
image rows go into an embeddings batch that is decoded before the step's token batch (a
decode replaces the logits the sampler reads; the embeddings batch asks for none).

The prefix cache keys an image span by its digest: placeholder ids narrow the match, and the
spans kept on each cache entry (and on running sequences) confirm it (`verified_prefix`), so
a collision of placeholder ids can never reuse the wrong image's cells.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import llama_cpp as ll
import numpy as np

from openmini.errors import EngineError

if TYPE_CHECKING:
    from openmini.engine.batch import Batch
    from openmini.engine.sequence import Seq
    from openmini.engine.vision import ImageEmbedding

Span = tuple[int, str]  # (start in the prompt, digest): what the prefix cache compares


def placeholder(digest: str) -> int:
    """The id an image's rows take in a prompt: negative, from the digest's first 28 bits."""
    return -1 - int(digest[:7], 16)


@dataclass(frozen=True, slots=True)
class ImageSpan:
    """An image in a prompt: its rows replace prompt[start:start + embedding.n_tokens]."""

    start: int
    embedding: ImageEmbedding

    @property
    def end(self) -> int:
        return self.start + self.embedding.n_tokens

    @property
    def key(self) -> Span:
        return (self.start, self.embedding.digest)


def check_spans(prompt: Sequence[int], images: Sequence[ImageSpan]) -> None:
    """The prompt holds each image's placeholders where its span says, in order, and ends
    with text (the last prompt token's logits start the answer). Raises EngineError."""
    end = 0
    for span in images:
        e = span.embedding
        if e.use_mrope and (e.mrope is None or e.mrope.shape != (4, e.n_tokens)):
            raise EngineError("an M-RoPE image comes without its positions")
        if e.n_pos != e.n_tokens and not e.use_mrope:
            raise EngineError("an image that takes fewer positions than rows needs M-RoPE")
        if span.start < end or span.end >= len(prompt):
            raise EngineError("image spans overlap or end the prompt")
        if any(t != placeholder(e.digest) for t in prompt[span.start:span.end]):
            raise EngineError("the prompt does not hold the image's placeholders")
        end = span.end


def pos_shift(images: Sequence[ImageSpan]) -> int:
    """Cells less positions after the prompt's last image: M-RoPE images take fewer positions
    (`n_pos`, the longer side of the grid) than rows. 0 for every other prompt."""
    return sum(s.embedding.n_tokens - s.embedding.n_pos for s in images if s.embedding.use_mrope)


def whole_images(n: int, images: Sequence[ImageSpan]) -> int:
    """A prefix of n cells, cut back to the start of an image it ends inside that cannot be
    kept in part: an M-RoPE image's cells share one position (llama's memory removes and
    copies by position), a non-causal image's rows were computed seeing all of its rows."""
    for span in images:
        e = span.embedding
        if span.start < n < span.end and (e.use_mrope or e.non_causal):
            return span.start
    return n


def kv_position(images: Sequence[ImageSpan], n: int) -> int:
    """The position that follows the first n cells (n not inside an M-RoPE image): the bound
    llama_memory_seq_cp / seq_rm take. n itself unless an M-RoPE image precedes it."""
    return n - pos_shift([s for s in images if s.end <= n])


def spans_of(images: Sequence[ImageSpan], n: int) -> tuple[Span, ...]:
    """The (start, digest) of the images that start within the first n cells."""
    return tuple(s.key for s in images if s.start < n)


def verified_prefix(n: int, mine: Sequence[ImageSpan], theirs: Sequence[Span]) -> int:
    """A matched prefix of n cells, cut before the first of my images that the other side
    does not hold at the same place with the same digest."""
    if not mine:
        return n
    have = set(theirs)
    for span in mine:
        if span.start >= n:
            break
        if span.key not in have:
            return span.start
    return n


class EmbdBatch:
    """A reusable llama_batch of embeddings (`embd` set, `token` NULL), no logits.

    For an M-RoPE model (`mrope`) every row has 4 positions and llama reads them plane after
    plane (all t, then y, x, z, each n_tokens long): rows keep theirs in `planes`, laid out
    into the batch's own position buffer on submit."""

    def __init__(self, capacity: int, n_embd: int, mrope: bool = False):
        self.capacity = capacity
        self.n_embd = n_embd
        self.raw = ll.llama_batch_init(capacity, n_embd, 1)
        self.embd = np.ctypeslib.as_array(self.raw.embd, shape=(capacity, n_embd))
        self.pos = np.ctypeslib.as_array(self.raw.pos, shape=(capacity,))
        self.n_seq_id = np.ctypeslib.as_array(self.raw.n_seq_id, shape=(capacity,))
        self.logits = np.ctypeslib.as_array(self.raw.logits, shape=(capacity,))
        self.logits[:] = 0
        self.n_seq_id[:] = 1
        self._seq_ptrs = [self.raw.seq_id[i] for i in range(capacity)]
        # llama_batch_free frees the batch's own position buffer: its address is put back
        # first (an address, not the field's pointer object, which reads the field itself)
        self._own_pos = int(ctypes.cast(self.raw.pos, ctypes.c_void_p).value or 0)
        self.planes: np.ndarray | None = None
        self.non_causal = False
        if mrope:
            self.planes = np.zeros((capacity, 4), dtype=np.int32)
            self._pos4 = np.zeros(4 * capacity, dtype=np.int32)
            self.raw.pos = self._pos4.ctypes.data_as(type(self.raw.pos))
        self.n = 0

    @property
    def free(self) -> int:
        return self.capacity - self.n

    def add(self, rows: np.ndarray, start_pos: int, seq_id: int,
            planes: np.ndarray | None = None, non_causal: bool = False) -> None:
        """Queue rows at positions start_pos.. or, on an M-RoPE batch, at `planes` (4, k).
        `non_causal` rows (whole images) are decoded with causal attention off, so a batch
        holds only such rows or only others."""
        k, i = rows.shape[0], self.n
        if k == 0 or i + k > self.capacity or rows.shape[1] != self.n_embd:
            raise ValueError("embeddings batch overflow")
        if (planes is None) != (self.planes is None):
            raise ValueError("M-RoPE rows need their planes, other rows none")
        if i and non_causal != self.non_causal:
            raise ValueError("non-causal rows and causal rows in one batch")
        self.non_causal = non_causal
        self.embd[i:i + k] = rows
        if self.planes is not None and planes is not None:
            self.planes[i:i + k] = planes.T
        else:
            self.pos[i:i + k] = np.arange(start_pos, start_pos + k, dtype=np.int32)
        for j in range(i, i + k):
            self._seq_ptrs[j][0] = seq_id
        self.n = i + k

    def submit(self) -> ll.llama_batch:
        self.raw.n_tokens = self.n
        if self.planes is not None:
            self._pos4[:4 * self.n].reshape(4, self.n)[:] = self.planes[:self.n].T
        return self.raw

    def close(self) -> None:
        self.raw.pos = ctypes.cast(self._own_pos, type(self.raw.pos))
        ll.llama_batch_free(self.raw)


def fill_prefill(seq: Seq, batch: Batch, embd: EmbdBatch, budget: int) -> int:
    """Queue the next part of an image-holding sequence's prompt: text up to its next image
    into `batch`, image rows into `embd` (at their positions: `kv_position`) while the
    step's prefill budget lasts. `embd` is decoded before `batch`, so once text is queued
    the step stops at the next image (its rows would attend to text not yet computed). Sets
    seq.batch_index when the prompt's last token is queued. Returns the budget left."""
    seq.batch_index = -1
    total, text_queued, image_queued = len(seq.tokens), False, False
    while budget > 0 and total - seq.n_past > 0 and seq.batch_index < 0:
        span = _next_image(seq.req.images, seq.n_past)
        if span is not None and span.start <= seq.n_past:  # inside an image: its rows
            k = 0 if text_queued else _image_rows(span, seq.n_past, budget, embd, image_queued)
            if k <= 0:
                break
            off, e = seq.n_past - span.start, span.embedding
            planes = None if e.mrope is None else e.planes(
                kv_position(seq.req.images, span.start), off, off + k)
            embd.add(e.embd[off:off + k], seq.n_past, seq.seq_id, planes, e.non_causal)
            image_queued = True
        else:
            stop = span.start if span is not None else total
            k = min(stop - seq.n_past, budget, batch.free)
            if k <= 0:
                break
            done = seq.n_past + k == total
            pos = kv_position(seq.req.images, seq.n_past)
            idx = batch.add(seq.tokens[seq.n_past:seq.n_past + k], pos, seq.seq_id, done)
            if done:
                seq.batch_index = idx
            text_queued = True
        seq.n_past += k
        budget -= k
    return budget


def _image_rows(span: ImageSpan, n_past: int, budget: int, embd: EmbdBatch,
                image_queued: bool) -> int:
    """How many of an image's rows to queue now. A non-causal image goes whole or not at
    all, past the step's budget if need be (it cannot be split: its rows attend to each
    other both ways), and alone among its sequence's images in one decode."""
    left = span.end - n_past
    if span.embedding.non_causal:
        return left if not image_queued and left <= embd.free else 0
    return min(left, budget, embd.free)


def _next_image(images: Sequence[ImageSpan], n_past: int) -> ImageSpan | None:
    """The first image that ends after n_past (the one being or to be prefilled)."""
    for span in images:
        if span.end > n_past:
            return span
    return None
