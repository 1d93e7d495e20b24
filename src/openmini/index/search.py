"""Search over one index: full text (BM25), vectors, or both fused (the default).

- `bm25`: FTS5's bm25() over the chunks' path, symbol, text and split identifiers
  (`BM25_WEIGHTS`, in that order), the query's words and split identifiers OR-combined
  (idents.py: nothing a user types is read as FTS5 syntax). Score: -bm25 (higher better).
- `vector`: the query embedded by the index's model, the chunks' vectors by cosine
  (vectors.py). Score: the cosine.
- `hybrid`: both lists (`candidates(k)` long each) fused by reciprocal rank,
  score = sum over lists of 1 / (RRF_K + rank), rank 1-based; ties go to the better best
  rank, then the older chunk. Score: the fused one.

Filters (filters.py) apply inside each retriever, so `k` results pass them whenever `k`
chunks do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from openmini.errors import InvalidRequest
from openmini.index.filters import Filters
from openmini.index.idents import match_expression
from openmini.index.store import IndexStore, Row
from openmini.index.vectors import VectorSet

MODES = ("hybrid", "bm25", "vector")
RRF_K = 60
BM25_WEIGHTS = (2.0, 4.0, 1.0, 1.0)  # path, symbol, body, idents
MAX_K = 100
MAX_QUERY_CHARS = 8000


def candidates(k: int) -> int:
    """How many results each retriever hands the fusion."""
    return max(50, 4 * k)


@dataclass(frozen=True, slots=True)
class Hit:
    path: str
    start_line: int
    end_line: int
    symbol: str | None
    kind: str
    language: str | None
    score: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "symbol": self.symbol, "kind": self.kind, "language": self.language,
                "score": self.score, "text": self.text}


def check(query: Any, k: Any, mode: Any) -> None:
    """A 400 naming `query`, `k` or `mode` when one is not acceptable."""
    if not isinstance(query, str) or not query.strip():
        raise InvalidRequest("'query' must be a non-empty string.", param="query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidRequest(f"'query' is {len(query)} characters, over the limit of "
                             f"{MAX_QUERY_CHARS}.", param="query")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise InvalidRequest(f"'k' must be an integer from 1 to {MAX_K}.", param="k")
    if mode not in MODES:
        raise InvalidRequest(f"'mode' must be one of {', '.join(MODES)}.", param="mode")


def rrf(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion of ranked id lists: (id, fused score), best first."""
    scores: dict[int, float] = {}
    best: dict[int, int] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
            best[item] = min(best.get(item, rank), rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], best[kv[0]], kv[0]))


def bm25(store: IndexStore, query: str, limit: int, filters: Filters) -> list[tuple[int, float]]:
    match = match_expression(query)
    if match is None:
        return []
    return store.bm25(match, limit, filters, BM25_WEIGHTS)


def search(store: IndexStore, query: str, k: int, mode: str, filters: Filters,
           vectors: Callable[[], VectorSet], embed: Callable[[str], np.ndarray]) -> list[Hit]:
    """The `k` best chunks for `query` (validated by `check` first)."""
    check(query, k, mode)
    if mode == "bm25":
        ranked = bm25(store, query, k, filters)
    elif mode == "vector":
        ranked = vectors().top(embed(query), k, filters)
    else:
        n = candidates(k)
        lexical = [i for i, _ in bm25(store, query, n, filters)]
        semantic = [i for i, _ in vectors().top(embed(query), n, filters)]
        ranked = rrf([lexical, semantic])[:k]
    rows = store.rows([i for i, _ in ranked])
    return [_hit(rows[i], score) for i, score in ranked if i in rows]


def _hit(row: Row, score: float) -> Hit:
    return Hit(row.path, row.start_line, row.end_line, row.symbol, row.kind, row.language,
               score, row.text)
