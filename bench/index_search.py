"""Issue 25's index figures on a real codebase: indexing time, memory, search latency and
retrieval quality (BM25, vectors, hybrid) against ripgrep.

Corpus: networkx 3.6.1's sdist (bench/index_corpus.py), copied to a temporary directory so
that edits do not touch the cache. Everything runs in this process, as `openmini index add`
and the server do: an IndexManager on a fresh data directory with the catalogue's embedding
model (all-MiniLM-L6-v2, f16 GGUF) on `--threads` threads.

- cold: the model's load, then the first update of a new index of the whole tree (walk,
  read, chunk, embed, write); files, chunks and the process's RSS (now and peak, VmHWM:
  Python, the model and the index together) after it.
- re-index after editing one file (`--edits` times, a different file each time): one line
  of a function in a Python file gets a comment appended (a new mtime, size and hash: the
  file is re-read, re-chunked, and the one changed chunk re-embedded), then (a) `update` of
  the whole index (every file's size and mtime looked at, as `openmini index update` does)
  and (b) `update(paths=[file])`, as `--watch` does for a filesystem event. Median and max.
- search latency: every query of the query set (bench/data/index_queries.json, 108 natural-
  language questions), k 10, each mode, `--rounds` rounds after one warm-up search (which
  loads the vectors into memory); hybrid and vector include embedding the query. p50, p99.
- quality: a query is answered at the first result (1-based rank among the k 10 chunks) from
  the answer's file whose symbol is the answer's qualified symbol or whose lines hold the
  answer's def/class line (a long definition's later parts carry its symbol too).
  recall@1/5/10 and MRR@10 per mode; beside them ripgrep on the query's words (bench/
  index_rg_baseline.py, `--type py`), file level and definition level, in the same run.

Goals (issue 25): cold <= 120 s, re-index after one edit <= 2 s, search p50 <= 30 ms and
p99 <= 100 ms, hybrid's recall@5 and MRR above both BM25's and vectors'.

    .venv/bin/python bench/index_search.py
    .venv/bin/python bench/index_search.py --quick   # a slice of the tree: a smoke test
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from common import median, pct, save, table, verdict
from index_corpus import (
    NAME,
    VERSION,
    copy_corpus,
    corpus_path,
    describe,
    load_queries,
    rank_metrics,
)
from index_rg_baseline import definition_span, rg_binary, run_scope
from openmini.index.embedding import TextEmbedder, open_default_embedder
from openmini.index.indexer import IndexSettings
from openmini.index.manager import IndexManager
from openmini.index.search import MODES, Hit

KS = (1, 5, 10)
K = 10
QUICK_DIR = "networkx/algorithms/shortest_paths"  # --quick indexes only this
EDIT_FILES = (
    "networkx/algorithms/shortest_paths/weighted.py",
    "networkx/algorithms/tree/mst.py",
    "networkx/algorithms/flow/maxflow.py",
    "networkx/classes/function.py",
    "networkx/algorithms/clique.py",
    "networkx/algorithms/components/strongly_connected.py",
    "networkx/generators/classic.py",
    "networkx/algorithms/dag.py",
)


def status_kb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return float(line.split()[1])
    return float("nan")


def rss_mb() -> dict[str, float]:
    return {"rss_mb": status_kb("VmRSS") / 1024, "peak_rss_mb": status_kb("VmHWM") / 1024}


def embedder(a: argparse.Namespace) -> TextEmbedder:
    if a.embedder is None:
        return open_default_embedder(None, a.threads)
    from openmini.engine.embed import Embedder, EmbedSettings

    return Embedder(a.embedder, EmbedSettings(threads=a.threads or len(os.sched_getaffinity(0))))


def prepare(tmp: Path, quick: bool) -> Path:
    """The corpus copy to index: the whole sdist, or (quick) one directory of it."""
    root = copy_corpus(tmp / "corpus")
    if not quick:
        return root
    small = tmp / "quick"
    shutil.copytree(root / QUICK_DIR, small / QUICK_DIR)
    shutil.rmtree(root)
    return small


def cold(manager: IndexManager, root: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    manager.embedder()
    load = time.perf_counter() - t0
    t1 = time.perf_counter()
    manager.create(root, name="bench")
    stats = manager.update("bench")
    index = time.perf_counter() - t1
    info = manager.get("bench")
    out = {"model_load_s": load, "index_s": index, "total_s": load + index,
           "status": info.status, "files": info.files, "chunks": info.chunks, **rss_mb(),
           "stats": stats.to_dict()}
    return out


def edit_line(path: Path, n: int) -> int:
    """Append a comment to the first `return` line inside a function; its 1-based line."""
    lines = path.read_text("utf-8").splitlines(keepends=True)
    for i, line in enumerate(lines):
        if re.match(r"\s+return\b", line) and not line.rstrip().endswith("\\"):
            lines[i] = line.rstrip("\n") + f"  # bench edit {n}\n"
            path.write_text("".join(lines), "utf-8")
            return i + 1
    raise RuntimeError(f"{path}: no return line to edit")


def edits(manager: IndexManager, root: Path, count: int) -> dict[str, Any]:
    files = [f for f in EDIT_FILES if (root / f).exists()]
    if not files:  # --quick: any Python file of the slice
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.py"))
    full: list[float] = []
    watched: list[float] = []
    runs: list[dict[str, Any]] = []
    for n in range(count):
        rel = files[n % len(files)]
        for how, times in (("update", full), ("update(paths)", watched)):
            line = edit_line(root / rel, 2 * n + len(times))
            t0 = time.perf_counter()
            stats = manager.update("bench", paths=[rel] if how != "update" else None)
            times.append(time.perf_counter() - t0)
            runs.append({"file": rel, "line": line, "how": how, "seconds": times[-1],
                         **stats.to_dict()})
    return {"update_median_s": median(full), "update_max_s": max(full),
            "paths_median_s": median(watched), "paths_max_s": max(watched), "runs": runs}


def answer_rank(hits: list[Hit], q: dict[str, Any]) -> int | None:
    for rank, h in enumerate(hits, start=1):
        if h.path != q["path"]:
            continue
        if h.symbol == q["symbol"] or h.start_line <= q["start_line"] <= h.end_line:
            return rank
    return None


def searches(manager: IndexManager, queries: list[dict[str, Any]],
             rounds: int, name: str = "bench") -> dict[str, Any]:
    manager.search(name, "warm up", K)  # loads the vectors
    out: dict[str, Any] = {}
    for mode in MODES:
        times: list[float] = []
        ranks: list[int | None] = []
        per_query = []
        for r in range(rounds):
            for q in queries:
                t0 = time.perf_counter()
                hits = manager.search(name, q["query"], K, mode=mode)
                times.append(time.perf_counter() - t0)
                if r == 0:
                    ranks.append(answer_rank(hits, q))
                    per_query.append({"query": q["query"], "rank": ranks[-1],
                                      "top": [f"{h.path}:{h.start_line} {h.symbol}"
                                              for h in hits[:3]]})
        out[mode] = {**rank_metrics(ranks, KS), "p50_ms": 1000 * pct(times, 50),
                     "p99_ms": 1000 * pct(times, 99), "max_ms": 1000 * max(times),
                     "samples": len(times), "queries": per_query}
    return out


def ripgrep(root: Path, queries: list[dict[str, Any]]) -> dict[str, Any]:
    cache: dict[str, ast.Module] = {}
    spans = [definition_span(root, q, cache) for q in queries]
    r = run_scope(rg_binary(), root, queries, ["--type", "py"], spans)
    return {"file": r["file"], "definition": r["definition"],
            "query_ms_median": r["query_ms_median"]}


def report(res: dict[str, Any], quick: bool) -> None:
    c, e = res["cold"], res["edits"]
    table(f"indexing {NAME} {VERSION}{' (quick slice)' if quick else ''}",
          ["measure", "value", "goal"],
          [["files / chunks", f"{c['files']} / {c['chunks']}", ""],
           ["model load s", c["model_load_s"], ""],
           ["cold index s", c["index_s"], ""],
           ["cold total s", c["total_s"], verdict(c["total_s"], 120, False)],
           ["RSS MB after / peak", f"{c['rss_mb']:.0f} / {c['peak_rss_mb']:.0f}", ""],
           ["re-index one edit, update s (median / max)",
            f"{e['update_median_s']:.3f} / {e['update_max_s']:.3f}",
            verdict(e["update_max_s"], 2, False)],
           ["re-index one edit, update(paths) s (median / max)",
            f"{e['paths_median_s']:.3f} / {e['paths_max_s']:.3f}",
            verdict(e["paths_max_s"], 2, False)]])
    search_table(res)


def search_table(res: dict[str, Any]) -> None:
    s = res["search"]
    rows = [[mode, *(s[mode][f"recall@{k}"] for k in KS), s[mode]["mrr@10"],
             s[mode]["p50_ms"], s[mode]["p99_ms"]] for mode in MODES]
    for level in ("definition", "file"):
        m = res["ripgrep"][level]
        rows.append([f"rg --type py ({level})", *(m[f"recall@{k}"] for k in KS), m["mrr@10"],
                     res["ripgrep"]["query_ms_median"], ""])
    table(f"search: {res['queries']} queries, k {K}",
          ["mode", *(f"recall@{k}" for k in KS), "MRR@10", "p50 ms", "p99 ms"], rows)
    h = s["hybrid"]
    print(f"hybrid p50 {h['p50_ms']:.1f} ms: {verdict(h['p50_ms'], 30, False)}; "
          f"p99 {h['p99_ms']:.1f} ms: {verdict(h['p99_ms'], 100, False)}")
    for key in ("recall@5", "mrr@10"):
        best = max(s["bm25"][key], s["vector"][key])
        print(f"hybrid {key} {h[key]:.3f} vs best single {best:.3f}: "
              f"{'PASS' if h[key] > best else 'MISS'} (goal: above both)")


def search_only(a: argparse.Namespace, queries: list[dict[str, Any]]) -> None:
    data, _, name = a.search_only.rpartition(":")
    manager = IndexManager(Path(data) / "indexes", open_embedder=lambda: embedder(a),
                           settings=IndexSettings(embed_tokens=a.embed_tokens))
    try:
        res: dict[str, Any] = {"corpus": describe(), "queries": len(queries),
                               "index": manager.get(name).to_dict()}
        res["search"] = searches(manager, queries, a.rounds, name)
    finally:
        manager.close()
    res["ripgrep"] = ripgrep(corpus_path(), queries)
    search_table(res)
    a.model += "-search"
    save("index_search", a, res)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=0, help="embedding threads (0: every CPU)")
    p.add_argument("--edits", type=int, default=5, help="single-file edits to re-index")
    p.add_argument("--rounds", type=int, default=2, help="passes over the query set per mode")
    p.add_argument("--quick", action="store_true", help="one directory: a smoke test")
    p.add_argument("--show", action="store_true", help="print every query's hybrid rank")
    p.add_argument("--embed-tokens", type=int, default=IndexSettings().embed_tokens,
                   help="tokens of each chunk embedded (IndexSettings.embed_tokens)")
    p.add_argument("--embedder", help="another embedding GGUF than the catalogue's")
    p.add_argument("--search-only", metavar="DATA_DIR:INDEX",
                   help="no indexing: search an index of the corpus made already (e.g. "
                        "bench/repo_completion.py's, `--data-dir D` -> D:nx)")
    a = p.parse_args()
    a.model = f"{NAME}-{VERSION}"
    queries = load_queries()
    if a.search_only:
        search_only(a, queries)
        return
    with tempfile.TemporaryDirectory(prefix="openmini-index-bench-") as tmp_name:
        tmp = Path(tmp_name)
        root = prepare(tmp, a.quick)
        if a.quick:
            queries = [q for q in queries if q["path"].startswith(QUICK_DIR)]
        manager = IndexManager(tmp / "data" / "indexes", open_embedder=lambda: embedder(a),
                               settings=IndexSettings(embed_tokens=a.embed_tokens))
        try:
            res: dict[str, Any] = {"corpus": describe(), "queries": len(queries),
                                   "threads": a.threads or len(os.sched_getaffinity(0)),
                                   "embed_tokens": a.embed_tokens,
                                   "embedder": a.embedder or "all-minilm-l6-v2"}
            res["cold"] = cold(manager, root)
            res["search"] = searches(manager, queries, a.rounds)
            res["ripgrep"] = ripgrep(root, queries)
            res["edits"] = edits(manager, root, a.edits)
        finally:
            manager.close()
    report(res, a.quick)
    if a.show:
        for q in res["search"]["hybrid"]["queries"]:
            print(f"{q['rank']!s:>4}  {q['query']}\n      {q['top']}")
    save("index_search", a, res)


if __name__ == "__main__":
    main()
