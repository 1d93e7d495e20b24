"""The loaded GGUF model: llama.cpp model + context, vocabulary, tokenizer, chat template.

Only the engine thread calls into the context; tokenisation is safe from any thread.
"""

from __future__ import annotations

import ctypes
import re
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import llama_cpp as ll
import numpy as np

from openmini.engine.tokenizer import SegmentTokenizer
from openmini.errors import ModelNotFound

_backend_lock = threading.Lock()
_backend_ready = False


def _init_backend() -> None:
    global _backend_ready
    with _backend_lock:
        if not _backend_ready:
            ll.llama_backend_init()
            _silence_llama_logs()
            _backend_ready = True


@ll.llama_log_callback
def _errors_only(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    # ggml levels: 1 debug, 2 info, 3 warn, 4 error, 5 continuation. With a unified KV cache
    # llama.cpp warns that n_ctx_seq exceeds the trained context: expected, per-sequence
    # lengths are bounded by ctx_size instead.
    if level == 4 and b"n_ctx_train" not in text:
        sys.stderr.write(text.decode("utf-8", "replace"))


def _silence_llama_logs() -> None:
    ll.llama_log_set(_errors_only, ctypes.c_void_p(0))


def _has_amx() -> bool:
    """The CPU has Intel AMX. llama.cpp then puts the weights in its AMX buffer type, whose
    matrix multiply crashed with SIGSEGV on every prompt longer than a few tokens here (Xeon
    with amx_tile/amx_int8/amx_bf16, llama-cpp-python 0.3.36, in ggml_backend_amx_mul_mat):
    on such a CPU the extra buffer types are left off and the plain CPU kernels run."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " amx_tile" in line for line in f)
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class ContextSettings:
    n_ctx: int  # total KV cells, shared by all sequences (unified KV cache)
    n_batch: int
    n_seq_max: int
    threads: int
    flash_attn: int = -1  # llama_flash_attn_type: -1 auto, 0 off, 1 on


def load_model(path: Path) -> ll.llama_model_p:
    """A llama model from a GGUF file (ModelNotFound when it is missing or does not load),
    with the backend initialised and the AMX buffers off where they crash (`_has_amx`)."""
    if not path.is_file():
        raise ModelNotFound(str(path))
    _init_backend()
    mparams = ll.llama_model_default_params()
    mparams.use_extra_bufts = not _has_amx()
    model = ll.llama_model_load_from_file(str(path).encode(), mparams)
    if not model:
        raise ModelNotFound(str(path))
    return model


class LlamaModel:
    """Owns a llama_model and one llama_context with a unified KV cache."""

    def __init__(self, path: str | Path, settings: ContextSettings):
        path = Path(path)
        self.model = load_model(path)
        self.path = path
        self.settings = settings
        self.vocab = ll.llama_model_get_vocab(self.model)
        self.n_vocab = ll.llama_vocab_n_tokens(self.vocab)
        self.n_ctx_train = ll.llama_model_n_ctx_train(self.model)
        # Qwen2-VL-style models rope with 4 positions per row (t, y, x, z): images take them
        # from their grid, text all equal (llama expands a token batch's 1-D positions).
        self.mrope = ll.llama_model_rope_type(self.model) in (
            ll.LLAMA_ROPE_TYPE_MROPE, ll.LLAMA_ROPE_TYPE_IMROPE)
        self.ctx = self._new_context(settings)
        self.memory = ll.llama_get_memory(self.ctx)
        self._closed = False
        self._pieces: dict[int, bytes] = {}
        self._by_pattern: dict[bytes, np.ndarray] = {}
        self._pieces_by_pattern: dict[bytes, dict[int, bytes]] = {}
        self._buf = ctypes.create_string_buffer(256)
        self.eog_ids = frozenset(
            t for t in range(self.n_vocab) if ll.llama_vocab_is_eog(self.vocab, t)
        )
        self.prompt_tokenizer = SegmentTokenizer(
            lambda text, add, special: self.tokenize(text, add_special=add,
                                                     parse_special=special),
            self._parsed_specials(), self.bos() if self.add_bos() else None)

    def _new_context(self, s: ContextSettings) -> ll.llama_context_p:
        cparams = ll.llama_context_default_params()
        cparams.n_ctx = s.n_ctx
        cparams.n_batch = s.n_batch
        cparams.n_ubatch = s.n_batch
        cparams.n_seq_max = s.n_seq_max
        cparams.n_threads = s.threads
        cparams.n_threads_batch = s.threads
        cparams.kv_unified = True  # sequences share prefix cells: prefix cache and n>1 forks
        cparams.no_perf = True
        cparams.flash_attn_type = s.flash_attn
        ctx = ll.llama_init_from_model(self.model, cparams)
        if not ctx:
            raise RuntimeError(f"llama.cpp could not create a context ({s})")
        return ctx

    # --- text <-> tokens -------------------------------------------------------------------

    def tokenize(self, text: str, *, add_special: bool = False, parse_special: bool = True
                 ) -> list[int]:
        data = text.encode("utf-8")
        cap = len(data) + 8
        arr = (ll.llama_token * cap)()
        n = ll.llama_tokenize(self.vocab, data, len(data), arr, cap, add_special, parse_special)
        if n < 0:
            cap = -n
            arr = (ll.llama_token * cap)()
            n = ll.llama_tokenize(self.vocab, data, len(data), arr, cap, add_special,
                                  parse_special)
        return list(arr[:n])

    def plain_tokens(self, text: str) -> list[int]:
        """`text` as plain text: no BOS added, no special token parsed."""
        return self.tokenize(text, add_special=False, parse_special=False)

    def tokenize_prompt(self, text: str, *, add_special: bool) -> list[int]:
        """`tokenize(text, add_special, parse_special=True)`, with the plain text between
        special tokens cached (exact: see engine/tokenizer.py)."""
        return self.prompt_tokenizer(text, add_special)

    def _parsed_specials(self) -> dict[str, int]:
        """Tokens llama.cpp splits a text at only when parse_special is on."""
        parsed = ll.LLAMA_TOKEN_ATTR_CONTROL | ll.LLAMA_TOKEN_ATTR_UNKNOWN
        out: dict[str, int] = {}
        for t in range(self.n_vocab):
            if ll.llama_vocab_get_attr(self.vocab, t) & parsed:
                text = self.token_text(t)
                if text:
                    out.setdefault(text, t)
        return out

    def piece(self, token: int) -> bytes:
        """The bytes a token adds to the output (control tokens add nothing)."""
        cached = self._pieces.get(token)
        if cached is None:
            n = ll.llama_token_to_piece(self.vocab, token, self._buf, len(self._buf), 0, False)
            cached = self._buf.raw[:n] if n > 0 else b""
            self._pieces[token] = cached
        return cached

    def tokens_matching(self, pattern: bytes) -> np.ndarray:
        """Ids of the tokens whose whole bytes match `pattern` (a bytes regex; computed once
        per pattern; safe off the engine thread: its own buffer, not `piece()`'s)."""
        hit = self._by_pattern.get(pattern)
        if hit is None:
            ids = list(self.pieces_matching(pattern))
            hit = self._by_pattern[pattern] = np.array(ids, dtype=np.int64)
        return hit

    def pieces_matching(self, pattern: bytes) -> dict[int, bytes]:
        """The tokens whose whole bytes match `pattern`, with their bytes (computed once per
        pattern, off the engine thread as `tokens_matching`)."""
        hit = self._pieces_by_pattern.get(pattern)
        if hit is None:
            regex, buf, hit = re.compile(pattern, re.DOTALL), ctypes.create_string_buffer(256), {}
            for t in range(self.n_vocab):
                n = ll.llama_token_to_piece(self.vocab, t, buf, len(buf), 0, False)
                if n > 0 and regex.fullmatch(buf.raw[:n]):
                    hit[t] = buf.raw[:n]
            self._pieces_by_pattern[pattern] = hit
        return hit

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    def token_text(self, token: int) -> str:
        raw = ll.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", "replace") if raw else ""

    # --- metadata --------------------------------------------------------------------------

    def chat_template(self) -> str | None:
        raw = ll.llama_model_chat_template(self.model, None)
        return raw.decode("utf-8") if raw else None

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(4096)
        n = ll.llama_model_meta_val_str(self.model, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    def special_token_text(self, which: str) -> str:
        fn = {"bos": ll.llama_vocab_bos, "eos": ll.llama_vocab_eos}[which]
        tok = fn(self.vocab)
        return self.token_text(tok) if tok >= 0 else ""

    def add_bos(self) -> bool:
        return bool(ll.llama_vocab_get_add_bos(self.vocab))

    def bos(self) -> int:
        return int(ll.llama_vocab_bos(self.vocab))

    # --- KV memory and decoding (engine thread only) ---------------------------------------

    def logits_row(self, i: int) -> np.ndarray:
        ptr = ll.llama_get_logits_ith(self.ctx, i)
        return np.ctypeslib.as_array(ptr, shape=(self.n_vocab,))

    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool:
        return bool(ll.llama_memory_seq_rm(self.memory, seq_id, p0, p1))

    def seq_cp(self, src: int, dst: int, p0: int, p1: int) -> None:
        ll.llama_memory_seq_cp(self.memory, src, dst, p0, p1)

    def clear(self) -> None:
        ll.llama_memory_clear(self.memory, True)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            ll.llama_free(self.ctx)
            ll.llama_model_free(self.model)
