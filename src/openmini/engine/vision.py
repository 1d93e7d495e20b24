"""A vision projector (mmproj GGUF) over llama.cpp's mtmd: an RGB image in, the embeddings the
text model takes in place of the image's tokens out. The native vision path (issue 21):
backends/local_vision.py tokenizes prompts and encodes images with it, engine/images.py
decodes the rows in the engine's step.

Verified here (tests/vision/native, a random LLaVA MLP projector against the `fast` model):
the projector loads with `mtmd_init_from_file` against the text model's `llama_model`; an
image becomes one image chunk of `(image_size / patch)**2` tokens of width
`llama_model_n_embd_inp`, finite and deterministic, different for different pixels; the pixel
digest set as the bitmap id comes back as the chunk id; the rows decode into the model's KV as
a batch of embeddings and the next logits depend on the image. Once, by hand: llama.cpp's
server (xllamacpp, `mmproj.path`) answered the same greedy text as mtmd_helper_eval_chunks
on this build for the same prompt and projector (291 prompt positions, 256 of them the image).

Threads: the local backend loads it with one thread. Two made the whole process slower:
the projector's libgomp team (started from worker threads) plus the engine's put more OpenMP
threads than cores in the process, and libgomp then throttles every team's spin-wait, so each
decode step of the engine took ~14 ms longer (docs/vision.md).

AMX: clip.cpp allocates the projector's weights in the CPU backend's default buffer type,
never in the extra (AMX) buffer types that crash on this CPU (see model.py `_has_amx`), and
mtmd_context_params has no switch for them: nothing to turn off. `use_gpu=False` keeps it on
the CPU backend even where a GPU backend is compiled in.

How the engine decodes them (causal, M-RoPE and non-causal projectors), from llama.cpp's
`mtmd_helper_decode_image_chunk` and its server:
- An image chunk is decoded as a llama_batch of embeddings (`llama_batch_init(n, n_embd, 1)`:
  `embd` set, `token` NULL), positions `n_past + i` (M-RoPE models: 4 planes from
  `mtmd_image_tokens_get_decoder_pos`, (t, y, x, z) one plane after another, and the chunk
  advances the position by `n_pos`, not `n_tokens`: engine/images.py `kv_position`), one
  seq id, no logits; split in slices of at most n_batch. A batch holds tokens
  or embeddings, never both: the engine decodes an image slice as a second `llama_decode`
  in the step, before the token batch (a decode replaces the logits the sampler reads).
- `mtmd_decode_use_non_causal` (Gemma 3): the whole image in one ubatch with
  `llama_set_causal_attn(ctx, False)` around it, a context-wide switch: a decode of whole
  non-causal images only, one per sequence (engine/images.py `_image_rows`).
- The prefix cache keys an image span by this module's pixel digest (llama-server compares
  chunk ids plus token counts in `server_tokens::get_common_prefix`).
"""

from __future__ import annotations

import ctypes
import hashlib
import secrets
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import llama_cpp as ll
import llama_cpp.mtmd_cpp as mtmd
import numpy as np
from PIL import Image

from openmini.errors import EngineError, ImageRefused, ModelAssemblyError, ModelNotFound


@ll.llama_log_callback
def _errors_only(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    if level == 4:  # ggml: 1 debug, 2 info, 3 warn, 4 error, 5 continuation
        sys.stderr.write(text.decode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class ImageEmbedding:
    """One image as the text model takes it: `embd` replaces `n_tokens` prompt tokens."""

    embd: np.ndarray  # float32 (n_tokens, n_embd), owned (a copy of mtmd's buffer)
    n_pos: int  # positions the image takes in the sequence: n_tokens, except with M-RoPE
    use_mrope: bool  # positions are (t, y, x, z) planes: see `planes`
    non_causal: bool  # decode the whole image in one ubatch with causal attention off
    digest: str  # sha256 of the size and RGB pixels: the chunk id, the prefix-cache key
    # M-RoPE: int32 (4, n_tokens), each row's position in llama's plane order (t, y, x, z)
    # for an image placed at position 0, and how much each plane moves per position the
    # image is placed later (mtmd_image_tokens_get_decoder_pos is linear in pos_0).
    mrope: np.ndarray | None = None
    mrope_step: tuple[int, int, int, int] = (1, 1, 1, 0)

    @property
    def n_tokens(self) -> int:
        return int(self.embd.shape[0])

    def planes(self, pos_0: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """The M-RoPE positions (4, hi - lo) of rows lo..hi for the image placed at pos_0."""
        if self.mrope is None:
            raise ValueError("this image has no M-RoPE positions")
        step = np.asarray(self.mrope_step, dtype=np.int32)[:, None]
        return self.mrope[:, lo:hi] + step * np.int32(pos_0)


def _mrope_planes(chunk: Any, n_tokens: int) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """An image chunk's decoder positions in llama's plane order (t, y, x, z), as
    mtmd_helper_decode_image_chunk lays them out, for pos_0 = 0, and the per-plane step of
    pos_0 (measured at pos_0 = 1 and checked at a far one: refused if not linear)."""
    tokens = mtmd.mtmd_input_chunk_get_tokens_image(chunk)
    if not tokens:
        raise EngineError("mtmd gave an image chunk without image tokens")

    def at(pos_0: int) -> np.ndarray:
        out = np.empty((4, n_tokens), dtype=np.int32)
        for i in range(n_tokens):
            p = mtmd.mtmd_image_tokens_get_decoder_pos(tokens, pos_0, i)
            out[:, i] = (p.t, p.y, p.x, p.z)
        return out

    base, one, far = at(0), at(1), at(1000)
    step = one[:, 0] - base[:, 0]
    if not np.array_equal(one - base, np.broadcast_to(step[:, None], base.shape)) or \
            not np.array_equal(far, base + 1000 * step[:, None]):
        raise EngineError("this projector's M-RoPE positions do not move with the image's place")
    t, y, x, z = (int(v) for v in step)
    return base, (t, y, x, z)


def pixel_digest(image: Image.Image) -> str:
    """sha256 over the size and RGB bytes: equal for equal pixels, whatever the file was."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    h = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    h.update(rgb.tobytes())
    return h.hexdigest()


class Projector:
    """An mtmd context: a projector GGUF paired with a loaded text model.

    `encode` runs on the caller's thread and holds a lock (an mtmd context encodes one image
    at a time); the text model must outlive the projector."""

    def __init__(self, mmproj: str | Path, text_model: ll.llama_model_p, *, threads: int,
                 warmup: bool = True, flash_attn: int = -1):
        path = Path(mmproj)
        if not path.is_file():
            raise ModelNotFound(str(path))
        mtmd.mtmd_helper_log_set(_errors_only, ctypes.c_void_p(0))
        params = mtmd.mtmd_context_params_default()
        params.use_gpu = False
        params.print_timings = False
        params.n_threads = threads
        params.warmup = warmup  # one encode at load: compute buffers sized before a request
        params.flash_attn_type = flash_attn
        # Random, as llama-server's per request: text that a user wrote cannot be a marker.
        self._marker = f"<__media_{secrets.token_hex(12)}__>".encode()
        params.media_marker = self._marker
        ctx = mtmd.mtmd_init_from_file(str(path).encode(), text_model, params)
        if not ctx:
            raise ModelAssemblyError(
                f"llama.cpp could not load the projector {path.name} for this text model "
                "(a wrong file, or an output width other than the model's embedding width)")
        self.ctx = ctx
        self.path = path
        self.n_embd = int(ll.llama_model_n_embd_inp(text_model))
        self.use_mrope = bool(mtmd.mtmd_decode_use_mrope(ctx))
        self.vision = bool(mtmd.mtmd_support_vision(ctx))
        self._lock = threading.Lock()
        self._closed = False

    def marker(self) -> str:
        """The text that stands for an image in a prompt given to mtmd_tokenize: random per
        projector (`<__media_...__>`), so no text a user sends can stand for an image."""
        raw = mtmd.mtmd_get_marker(self.ctx)
        return raw.decode("utf-8") if raw else self._marker.decode()

    def encode(self, image: Image.Image) -> ImageEmbedding:
        """One image alone: its embeddings (the image chunk of `marker()` tokenized)."""
        (out,) = [p for p in self.prompt(self.marker(), [image]) if isinstance(p, ImageEmbedding)]
        return out

    def prompt(self, text: str, images: Sequence[Image.Image], *, add_special: bool = False,
               known: Callable[[str], ImageEmbedding | None] | None = None
               ) -> list[list[int] | ImageEmbedding]:
        """A prompt holding `marker()` once per image, as mtmd_tokenize splits it (as
        llama.cpp's server does): text pieces as token ids, each image as its embeddings
        (wrapper tokens a model puts around an image come as text pieces). `known(digest)`
        returns embeddings already computed for those pixels: that image is not encoded."""
        if self._closed:
            raise EngineError("the projector is closed")
        if images and not self.vision:
            raise ImageRefused(f"the projector {self.path.name} takes no images")
        rgbs = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        bitmaps = [self._bitmap(im) for im in rgbs]
        chunks = mtmd.mtmd_input_chunks_init()
        try:
            with self._lock:
                if self._closed:
                    raise EngineError("the projector is closed")
                self._tokenize(chunks, text, bitmaps, add_special)
                return self._pieces(chunks, known)
        finally:
            mtmd.mtmd_input_chunks_free(chunks)
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)

    def _bitmap(self, rgb: Image.Image) -> Any:
        data = rgb.tobytes()
        pixels = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        bitmap = mtmd.mtmd_bitmap_init(rgb.width, rgb.height, pixels)
        if not bitmap:
            raise EngineError("mtmd could not take the image")
        mtmd.mtmd_bitmap_set_id(bitmap, pixel_digest(rgb).encode())
        return bitmap

    def _pieces(self, chunks: Any, known: Callable[[str], ImageEmbedding | None] | None
                ) -> list[list[int] | ImageEmbedding]:
        out: list[list[int] | ImageEmbedding] = []
        for i in range(mtmd.mtmd_input_chunks_size(chunks)):
            chunk = mtmd.mtmd_input_chunks_get(chunks, i)
            kind = mtmd.mtmd_input_chunk_get_type(chunk)
            if kind == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                n = ctypes.c_size_t(0)
                ptr = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                out.append([int(t) for t in ptr[:n.value]] if ptr and n.value else [])
            elif kind == mtmd.MTMD_INPUT_CHUNK_TYPE_IMAGE:
                chunk_id = mtmd.mtmd_input_chunk_get_id(chunk)
                digest = chunk_id.decode() if chunk_id else ""
                hit = known(digest) if known is not None and digest else None
                out.append(hit if hit is not None else self._encode_chunk(chunk))
            else:
                raise ImageRefused("the projector made a chunk that is not text or an image")
        return out

    def _tokenize(self, chunks: Any, text: str, bitmaps: list[Any], add_special: bool) -> None:
        prompt = text.encode("utf-8")
        item = mtmd.mtmd_input_text(prompt, len(prompt), add_special, True)
        arr = (mtmd.mtmd_bitmap_p_ctypes * max(1, len(bitmaps)))(*bitmaps)
        rc = mtmd.mtmd_tokenize(self.ctx, chunks, ctypes.byref(item), arr, len(bitmaps))
        if rc == 1:
            raise ImageRefused("the prompt's image markers do not match its images")
        if rc == 2:
            raise ImageRefused("the vision projector could not preprocess the image")
        if rc != 0:
            raise EngineError(f"mtmd_tokenize failed with code {rc}")

    def _encode_chunk(self, chunk: Any) -> ImageEmbedding:
        n_tokens = int(mtmd.mtmd_input_chunk_get_n_tokens(chunk))
        rc = mtmd.mtmd_encode_chunk(self.ctx, chunk)
        if rc != 0:
            raise EngineError(f"mtmd_encode_chunk failed with code {rc}")
        ptr = mtmd.mtmd_get_output_embd(self.ctx)
        if not ptr:
            raise EngineError("mtmd produced no embeddings")
        embd = np.ctypeslib.as_array(ptr, shape=(n_tokens * self.n_embd,))
        chunk_id = mtmd.mtmd_input_chunk_get_id(chunk)
        mrope, step = _mrope_planes(chunk, n_tokens) if self.use_mrope else (None, (1, 1, 1, 0))
        return ImageEmbedding(
            embd=embd.reshape(n_tokens, self.n_embd).copy(),
            n_pos=int(mtmd.mtmd_input_chunk_get_n_pos(chunk)),
            use_mrope=self.use_mrope,
            non_causal=bool(mtmd.mtmd_decode_use_non_causal(self.ctx, chunk)),
            digest=chunk_id.decode() if chunk_id else "",
            mrope=mrope, mrope_step=step)

    def close(self) -> None:
        with self._lock:  # never free the context under a running encode
            if not self._closed:
                self._closed = True
                mtmd.mtmd_free(self.ctx)

    def __enter__(self) -> Projector:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
