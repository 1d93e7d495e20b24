"""Embeddings on llama.cpp: a model and context with embeddings on, owned by one thread.

It is never the chat engine's context, so a long embedding job does not stall a chat
stream's next decode step (the two threads share the cores, not a context). Requests
queue their texts; the thread takes them in order, as many at once as one decode holds
(`max_texts` sequences, `max_tokens` tokens: one sequence id per text), reads each text's
pooled embedding (`llama_get_embeddings_seq`, the pooling the GGUF declares) and
L2-normalises it. A request's inputs are tokenised and checked on the thread before any is
decoded, so a bad one fails its request whole. Results go back through `call_soon_threadsafe`
(async callers) or a concurrent future (sync callers).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import logging
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp as ll
import numpy as np

from openmini.config import ServerConfig
from openmini.engine.batch import Batch
from openmini.engine.model import load_model
from openmini.errors import ContextLengthExceeded, EngineError, InvalidRequest, Overloaded

log = logging.getLogger("openmini.embed")

Input = str | Sequence[int]  # a text, or token ids taken as they are (no [CLS]/[SEP] added)
Resolve = Callable[["Embeddings | BaseException"], None]


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: np.ndarray  # (n inputs, dimensions) float32, each row of L2 norm 1
    prompt_tokens: int  # every input's tokens, [CLS] and [SEP] included


@dataclass(frozen=True, slots=True)
class EmbedSettings:
    # 0: half the CPUs this process may run on (at least 1). The chat engine computes on all
    # of them at once: with both at full width, their threads wait on each other's cores
    # (ggml's barriers spin), and a 2-text request took 0.9 s instead of 6 ms here.
    threads: int = 0
    max_texts: int = 32  # sequences in one decode
    max_tokens: int = 2048  # tokens in one decode (raised to the context length if below)
    # inputs waiting or being embedded for `embed` callers (HTTP) at most; past it a request
    # is refused (429) rather than queued behind minutes of work. `embed_sync` callers (the
    # index, in this process, 32 texts at a time) are not counted against it.
    max_queued: int = 8192


@dataclass(slots=True, eq=False)
class _Job:
    inputs: Sequence[Input]
    single: bool  # `input` was one item: errors name `input`, not `input[i]`
    resolve: Resolve
    done: bool = False
    vectors: np.ndarray = field(default_factory=lambda: np.empty((0, 0), np.float32))
    left: int = 0
    tokens: int = 0

    def param(self, i: int) -> str:
        return "input" if self.single else f"input[{i}]"

    def finish(self, result: Embeddings | BaseException) -> None:
        if not self.done:
            self.done = True
            self.resolve(result)


@dataclass(slots=True)
class _Row:
    job: _Job
    index: int
    tokens: list[int]


class Embedder:
    """One embedding model served from its own thread. `embed` (async) and `embed_sync`
    take a list of inputs and return their vectors in order."""

    def __init__(self, path: str | Path, settings: EmbedSettings | None = None):
        self.settings = settings or EmbedSettings()
        self._load(Path(path))
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._queued = 0  # inputs of `embed` jobs not finished (max_queued bounds it)
        self._count_lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="openmini-embed", daemon=True)
        self._thread.start()

    def _load(self, path: Path) -> None:
        self.model = load_model(path)
        self.vocab = ll.llama_model_get_vocab(self.model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)
        self.dimensions = ll.llama_model_n_embd(self.model)
        self.context_length = ll.llama_model_n_ctx_train(self.model)
        self.max_tokens = max(self.settings.max_tokens, self.context_length)
        self.ctx = self._new_context()
        self.batch = Batch(self.max_tokens)

    def _new_context(self) -> ll.llama_context_p:
        s = self.settings
        cparams = ll.llama_context_default_params()
        cparams.n_ctx = cparams.n_batch = cparams.n_ubatch = self.max_tokens
        cparams.n_seq_max = s.max_texts
        threads = s.threads or max(1, len(os.sched_getaffinity(0)) // 2)
        cparams.n_threads = cparams.n_threads_batch = threads
        cparams.embeddings = True
        cparams.kv_unified = True  # a causal model with a KV cache: sequences share its cells
        cparams.no_perf = True
        ctx = ll.llama_init_from_model(self.model, cparams)
        if not ctx:
            ll.llama_model_free(self.model)
            raise RuntimeError("llama.cpp could not create an embeddings context")
        if ll.llama_pooling_type(ctx) == ll.LLAMA_POOLING_TYPE_NONE:
            ll.llama_free(ctx)
            ll.llama_model_free(self.model)
            raise ValueError("the model declares no pooling: it gives no sentence embeddings")
        return ctx

    # --- callers ----------------------------------------------------------------------------

    async def embed(self, inputs: Sequence[Input], *, single: bool = False) -> Embeddings:
        """The inputs' vectors; InvalidRequest (400) naming `input[i]` (`input` when
        `single`) for an input that is too long or holds an id out of the vocabulary."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Embeddings] = loop.create_future()

        n = len(inputs)
        with self._count_lock:
            if self._queued and self._queued + n > self.settings.max_queued:
                raise Overloaded(f"The embedding model has {self._queued} inputs waiting, "
                                 f"its limit is {self.settings.max_queued}: retry shortly.")
            self._queued += n

        released = False

        def release() -> None:  # once, whether the job ends or its caller goes
            nonlocal released
            with self._count_lock:
                if not released:
                    released = True
                    self._queued -= n

        def resolve(result: Embeddings | BaseException) -> None:
            release()
            loop.call_soon_threadsafe(_settle, future, result)

        job = _Job(inputs, single, resolve)
        try:
            self._submit(job)
            return await future
        finally:
            job.done = True  # cancelled: its rows not yet decoded are dropped
            release()

    def embed_sync(self, inputs: Sequence[Input], *, single: bool = False) -> Embeddings:
        future: concurrent.futures.Future[Embeddings] = concurrent.futures.Future()

        def resolve(result: Embeddings | BaseException) -> None:
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

        self._submit(_Job(inputs, single, resolve))
        return future.result()

    def _submit(self, job: _Job) -> None:
        if self._closed:
            raise EngineError("the embedding model is closed")
        self._queue.put(job)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._thread.join()
        while True:  # a job that came in behind the close
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.finish(EngineError("the embedding model was closed"))
        self.batch.close()
        ll.llama_free(self.ctx)
        ll.llama_model_free(self.model)

    # --- the thread -------------------------------------------------------------------------

    def _run(self) -> None:
        work: deque[_Row] = deque()
        while True:
            if not self._admit(work, block=not work):
                break
            rows = self._take(work)
            if rows:
                self._decode_safely(rows)
        for row in work:
            row.job.finish(EngineError("the embedding model was closed"))

    def _admit(self, work: deque[_Row], block: bool) -> bool:
        """Move queued jobs' rows into `work` (waiting for one when `block`); False: close."""
        try:
            job = self._queue.get() if block else self._queue.get_nowait()
            while True:
                if job is None:
                    return False
                self._rows(job, work)
                job = self._queue.get_nowait()
        except queue.Empty:
            return True

    def _rows(self, job: _Job, work: deque[_Row]) -> None:
        if job.done:  # its caller went away while it waited
            return
        try:
            tokens = [self._tokens(item, job, i) for i, item in enumerate(job.inputs)]
        except InvalidRequest as exc:
            job.finish(exc)
            return
        if not tokens:
            job.finish(Embeddings(np.empty((0, self.dimensions), np.float32), 0))
            return
        job.vectors = np.empty((len(tokens), self.dimensions), np.float32)
        job.left, job.tokens = len(tokens), sum(map(len, tokens))
        work.extend(_Row(job, i, t) for i, t in enumerate(tokens))

    def _tokens(self, item: Input, job: _Job, i: int) -> list[int]:
        if isinstance(item, str):
            tokens = self.tokenize(item)
        else:
            tokens = list(item)
            bad = next((t for t in tokens if not 0 <= t < self.n_vocab), None)
            if bad is not None:
                raise InvalidRequest(f"{job.param(i)}: token id {bad} is not in the model's "
                                     f"vocabulary (0..{self.n_vocab - 1}).", param=job.param(i))
        if not tokens:
            raise InvalidRequest(f"{job.param(i)} is empty.", param=job.param(i))
        if len(tokens) > self.context_length:
            raise ContextLengthExceeded(
                f"{job.param(i)} is {len(tokens)} tokens, more than this model's maximum "
                f"context length of {self.context_length} tokens: shorten or split it.",
                param=job.param(i))
        return tokens

    def tokenize(self, text: str) -> list[int]:
        """A text's tokens as the model reads it: [CLS] ... [SEP]; special-token text in it
        ("[SEP]") stays text."""
        data = text.encode("utf-8")
        cap = len(data) + 8
        arr = (ll.llama_token * cap)()
        n = ll.llama_tokenize(self.vocab, data, len(data), arr, cap, True, False)
        if n < 0:
            arr = (ll.llama_token * -n)()
            n = ll.llama_tokenize(self.vocab, data, len(data), arr, -n, True, False)
        return list(arr[:n])

    def _take(self, work: deque[_Row]) -> list[_Row]:
        """The next rows, in order, that fit one decode; rows of finished jobs are dropped."""
        rows: list[_Row] = []
        tokens = 0
        while work and len(rows) < self.settings.max_texts:
            row = work[0]
            if row.job.done:
                work.popleft()
                continue
            if tokens + len(row.tokens) > self.max_tokens:
                break
            rows.append(work.popleft())
            tokens += len(row.tokens)
        return rows

    def _decode_safely(self, rows: list[_Row]) -> None:
        try:
            self._decode(rows)
        except Exception as exc:  # the jobs fail; the thread serves the next ones
            log.exception("embedding decode failed")
            error = exc if isinstance(exc, EngineError) else EngineError(str(exc))
            for row in rows:
                row.job.finish(error)

    def _decode(self, rows: list[_Row]) -> None:
        batch = self.batch
        batch.clear()
        for seq, row in enumerate(rows):
            batch.add(row.tokens, 0, seq, want_last=False)
        batch.logits[:batch.n] = 1
        rc = ll.llama_decode(self.ctx, batch.submit())
        memory = ll.llama_get_memory(self.ctx)
        if memory:  # a model with a KV cache: nothing is kept between decodes
            ll.llama_memory_clear(memory, True)
        if rc != 0:
            raise EngineError(f"llama_decode failed ({rc}) on {len(rows)} embedding inputs")
        for seq, row in enumerate(rows):
            vector = self._pooled(seq)
            job = row.job
            job.vectors[row.index] = vector
            job.left -= 1
            if job.left == 0:
                job.finish(Embeddings(job.vectors, job.tokens))

    def _pooled(self, seq: int) -> np.ndarray:
        ptr = ll.llama_get_embeddings_seq(self.ctx, seq)
        if not ptr:
            raise EngineError(f"no pooled embedding for sequence {seq}")
        vector = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float)),
                                       shape=(self.dimensions,)).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        return vector / norm if norm > 0 else vector


def open_embedders(config: ServerConfig, cache_dir: Path | None = None,
                   progress: Callable[[int, int], None] | None = None) -> dict[str, Embedder]:
    """The embedding models `config` serves, by id (assembled on first use): the catalogue's
    embedding model, unless `embeddings` is off; on half the chat engine's threads."""
    if not config.embeddings:
        return {}
    from openmini.models import resolve_model
    from openmini.models.catalogue import DEFAULT_EMBEDDING_MODEL

    path = resolve_model(DEFAULT_EMBEDDING_MODEL, cache_dir, progress)
    threads = max(1, config.engine.resolved_threads() // 2)
    return {DEFAULT_EMBEDDING_MODEL: Embedder(path, EmbedSettings(threads=threads))}


def _settle(future: asyncio.Future[Embeddings], result: Embeddings | BaseException) -> None:
    if future.done():  # the caller went away
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)
