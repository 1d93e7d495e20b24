"""The embedding model's weight format and input cap against indexing speed (issue 25's cold
index): all-MiniLM-L6-v2 as catalogued (f16) against q8_0 and bf16 copies quantized from it
with llama.cpp's own `llama_model_quantize`, and the tokens of each chunk embedded (256, the
index's default, and 128).

Texts: the chunks of one networkx 3.6.1 package (`--under`, default
networkx/algorithms/shortest_paths), chunked as the index chunks them (the embedded text of
each), the first `--texts` of them. Each format embeds them through engine/embed.py's Embedder
(the index's path: embed_texts, 32 sequences and 2,048 tokens per decode) after a warm-up;
chunks/s and tokens/s are the run's, and the smallest cosine of a row against f16's at the
same cap says how far the format moves the vectors.

    .venv/bin/python bench/embed_formats.py
"""

from __future__ import annotations

import ctypes
import time
from pathlib import Path
from typing import Any

import llama_cpp as ll
import numpy as np

from common import parser, save, table
from index_corpus import corpus_path
from openmini.code.languages import language_for_path
from openmini.engine.embed import Embedder, EmbedSettings
from openmini.index.chunk import ChunkSettings, chunk_file
from openmini.index.embedding import embed_texts
from openmini.index.ignore import IgnoreRules
from openmini.index.walk import decode_text, walk
from openmini.models import resolve_model

FORMATS = {"f16": None, "q8_0": 7, "bf16": 32}  # llama_ftype: MOSTLY_Q8_0, MOSTLY_BF16
CAPS = (256, 128)


def texts_of(under: str, limit: int) -> list[str]:
    root = corpus_path()
    out: list[str] = []
    for f in walk(root, IgnoreRules(root), under=under):
        text = decode_text((root / f.path).read_bytes())
        out += [c.embed_text() for c in chunk_file(f.path, text, language_for_path(f.path),
                                                   ChunkSettings())]
    return out[:limit]


def quantized(src: Path, name: str, ftype: int | None, work: Path) -> Path:
    if ftype is None:
        return src
    dst = work / f"{src.stem}-{name}.gguf"
    if not dst.exists():
        params = ll.llama_model_quantize_default_params()
        params.ftype = ftype
        if ll.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)):
            raise RuntimeError(f"quantizing to {name} failed")
    return dst


def measure(path: Path, texts: list[str], threads: int,
            ref: dict[int, np.ndarray]) -> list[dict[str, Any]]:
    embedder = Embedder(path, EmbedSettings(threads=threads))
    try:
        embed_texts(embedder, texts[:32], CAPS[0])  # warm-up
        rows = []
        for cap in CAPS:
            t0 = time.perf_counter()
            vectors = embed_texts(embedder, texts, cap)
            seconds = time.perf_counter() - t0
            tokens = sum(min(len(embedder.tokenize(t)), cap) for t in texts)
            ref.setdefault(cap, vectors)
            cosine = float(np.min(np.sum(vectors * ref[cap], axis=1)))
            rows.append({"cap": cap, "seconds": seconds, "chunks_per_s": len(texts) / seconds,
                         "tokens_per_s": tokens / seconds, "tokens": tokens,
                         "min_cosine_vs_f16": cosine})
        return rows
    finally:
        embedder.close()


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.set_defaults(model="all-minilm-l6-v2")  # names the results file; the model is fixed
    p.add_argument("--under", default="networkx/algorithms/shortest_paths",
                   help="the corpus folder whose chunks are embedded")
    p.add_argument("--texts", type=int, default=400, help="chunks embedded per measure")
    a = p.parse_args()
    texts = texts_of(a.under, 64 if a.quick else a.texts)
    src = resolve_model("all-minilm-l6-v2")
    work = src.parent / "bench"
    work.mkdir(exist_ok=True)
    ref: dict[int, np.ndarray] = {}
    results = {name: measure(quantized(src, name, ftype, work), texts, a.threads, ref)
               for name, ftype in FORMATS.items()}
    table(f"all-MiniLM-L6-v2, {len(texts)} chunks of {a.under}, {a.threads} threads",
          ["format", "cap", "chunks/s", "tokens/s", "s", "min cosine vs f16"],
          [[name, r["cap"], f"{r['chunks_per_s']:.1f}", f"{r['tokens_per_s']:.0f}",
            f"{r['seconds']:.2f}", f"{r['min_cosine_vs_f16']:.5f}"]
           for name, rows in results.items() for r in rows])
    save("embed_formats", a, {"texts": len(texts), "under": a.under, "results": results})


if __name__ == "__main__":
    main()
