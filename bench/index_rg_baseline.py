"""The baseline a developer would use for issue 25's query set: ripgrep on the query's words.

For each query of bench/data/index_queries.json: its words (lowercase, `\\w+`, stop words and
one-letter words dropped); one `rg --ignore-case --fixed-strings --line-number` run over the
corpus with every word as a pattern (as typing `rg -i word` once per word would find, in one
process); each matching line is credited to the words it contains (case-insensitive
substring, as rg matched it). Files are ranked by how many of the query's words they contain,
ties by their total matching lines (the sum over words), then by path. Two scopes: every
file rg searches by default (it skips hidden and binary files and honours ignore files; the
sdist has none), and `--type py`.

Scores, against the definition that answers each query:
- file level: the rank of the definition's file in that ranking (what rg can do);
- definition level: the same rank, but counted only when rg's best line in that file (one
  holding the most distinct query words; any of them on a tie) lies inside the definition
  (its `def`/`class` line to its last line, from the syntax tree): the line a developer
  reading rg's output for that file would look at first. Otherwise a miss. (Any matching
  line inside would be too lenient: "graph" or "node" is in nearly every definition.)
recall@k: the share of queries answered within the first k; MRR@10: the mean of 1/rank for
ranks up to 10, 0 beyond. Also split by query style: queries sharing a word with the
identifier's words (`find_negative_cycle`: find, negative, cycle) and those sharing none.

    .venv/bin/python bench/index_rg_baseline.py [--show]
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import median, save, table
from index_corpus import NAME, VERSION, corpus_path, describe, load_queries, rank_metrics
from index_queries_check import resolve, words

STOP_WORDS = frozenset((
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are",
    "as", "at", "be", "because", "been", "before", "being", "below", "between", "both", "but",
    "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "every",
    "few", "for", "from", "further", "had", "has", "have", "having", "he", "her", "here",
    "hers", "how", "i", "if", "in", "into", "is", "it", "its", "itself", "just", "me", "more",
    "most", "my", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "our",
    "ours", "out", "over", "own", "same", "she", "should", "so", "some", "such", "than",
    "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "under", "until", "up", "very", "was", "we", "were",
    "what", "when", "where", "which", "while", "who", "whom", "whose", "why", "will", "with",
    "would", "you", "your", "yours",
))
SCOPES = {"all files": [], "--type py": ["--type", "py"]}
KS = (1, 5, 10)
STYLES = ("shares a word with the identifier", "no word of the identifier")


def query_words(query: str) -> list[str]:
    """The words rg is asked for: lowercase, in order, each once."""
    out: list[str] = []
    for w in re.findall(r"\w+", query.lower()):
        if len(w) > 1 and w not in STOP_WORDS and w not in out:
            out.append(w)
    return out


def rg_binary() -> str:
    here = Path(sys.executable).parent / "rg"  # the ripgrep wheel's binary, in the venv
    found = str(here) if here.exists() else shutil.which("rg")
    if not found:
        sys.exit("rg not found: pip install -e '.[bench]' (the ripgrep wheel)")
    return found


@dataclass(slots=True)
class FileHits:
    words: set[str] = field(default_factory=set)
    lines_matched: int = 0  # summed over words: a line holding two words counts twice
    lines: dict[int, int] = field(default_factory=dict)  # line -> distinct words on it

    def best_lines(self) -> list[int]:
        most = max(self.lines.values(), default=0)
        return [n for n, k in self.lines.items() if k == most]


def search(rg: str, root: Path, words: list[str], scope: list[str]) -> dict[str, FileHits]:
    """Per file (relative path): which words it holds, its matching lines."""
    cmd = [rg, "--ignore-case", "--fixed-strings", "--line-number", "--no-heading",
           "--with-filename", "--no-messages", "--color", "never", *scope]
    for w in words:
        cmd += ["-e", w]
    out = subprocess.run([*cmd, "."], cwd=root, capture_output=True, text=True,
                         errors="replace").stdout
    hits: dict[str, FileHits] = defaultdict(FileHits)
    for line in out.splitlines():
        path, num, text = line.split(":", 2)
        lowered = text.lower()
        h = hits[path.removeprefix("./")]
        found = [w for w in words if w in lowered]
        h.words.update(found)
        h.lines_matched += len(found)
        h.lines[int(num)] = len(found)
    return hits


def style(q: dict[str, Any]) -> str:
    ident = words(q["symbol"].rsplit(".", 1)[-1])
    return STYLES[0] if ident & words(q["query"]) else STYLES[1]


def ranking(hits: dict[str, FileHits]) -> list[str]:
    return sorted(hits, key=lambda p: (-len(hits[p].words), -hits[p].lines_matched, p))


def definition_span(root: Path, q: dict[str, Any], cache: dict[str, ast.Module]) -> range:
    path = q["path"]
    if path not in cache:
        cache[path] = ast.parse((root / path).read_text("utf-8"))
    node = resolve(cache[path], q["symbol"])
    assert node is not None and node.end_lineno is not None, q
    return range(node.lineno, node.end_lineno + 1)


def run_scope(rg: str, root: Path, queries: list[dict[str, Any]], scope: list[str],
              spans: list[range]) -> dict[str, Any]:
    per_query: list[dict[str, Any]] = []
    times: list[float] = []
    for q, span in zip(queries, spans, strict=True):
        words = query_words(q["query"])
        t0 = time.perf_counter()
        hits = search(rg, root, words, scope)
        times.append(time.perf_counter() - t0)
        ranked = ranking(hits)
        file_rank = ranked.index(q["path"]) + 1 if q["path"] in hits else None
        inside = file_rank is not None and any(n in span for n in hits[q["path"]].best_lines())
        per_query.append({"query": q["query"], "words": words, "path": q["path"],
                          "symbol": q["symbol"], "style": style(q), "file_rank": file_rank,
                          "definition_rank": file_rank if inside else None,
                          "files_matched": len(ranked), "top": ranked[:5]})
    by_style = {s: [r for r in per_query if r["style"] == s] for s in STYLES}
    return {"file": rank_metrics([r["file_rank"] for r in per_query], KS),
            "definition": rank_metrics([r["definition_rank"] for r in per_query], KS),
            "by_style": {s: {"n": len(rs),
                             "file": rank_metrics([r["file_rank"] for r in rs], KS),
                             "definition": rank_metrics([r["definition_rank"] for r in rs], KS)}
                         for s, rs in by_style.items()},
            "not_found_file": sum(r["file_rank"] is None for r in per_query),
            "median_files_matched": median([r["files_matched"] for r in per_query]),
            "query_ms_median": 1000 * median(times), "queries": per_query}


def main() -> None:
    p = argparse.ArgumentParser(description="ripgrep baseline on the index query set")
    p.add_argument("--show", action="store_true", help="print every query's ranks and top files")
    p.add_argument("--quick", action="store_true", help="the first 10 queries: a smoke test")
    a = p.parse_args()
    a.model = f"{NAME}-{VERSION}"  # the results file is named after the corpus
    root, rg = corpus_path(), rg_binary()
    version = subprocess.run([rg, "--version"], capture_output=True, text=True).stdout
    queries = load_queries()[: 10 if a.quick else None]
    cache: dict[str, ast.Module] = {}
    spans = [definition_span(root, q, cache) for q in queries]
    results = {name: run_scope(rg, root, queries, scope, spans)
               for name, scope in SCOPES.items()}
    rows = []
    for name, r in results.items():
        for level in ("file", "definition"):
            m = r[level]
            rows.append([f"rg, {name}", level, *(m[f"recall@{k}"] for k in KS), m["mrr@10"]])
    table(f"ripgrep on the query words: {len(queries)} queries, {NAME} {VERSION}",
          ["baseline", "level", *(f"recall@{k}" for k in KS), "MRR@10"], rows)
    rows = [[f"rg, {name}", f"{s} ({r['by_style'][s]['n']})", level,
             r["by_style"][s][level]["recall@5"], r["by_style"][s][level]["mrr@10"]]
            for name, r in results.items() for s in STYLES for level in ("file", "definition")]
    table("by query style", ["baseline", "queries", "level", "recall@5", "MRR@10"], rows)
    for name, r in results.items():
        print(f"rg, {name}: the answer's file not matched at all in {r['not_found_file']}; "
              f"median {r['median_files_matched']:.0f} files matched per query; "
              f"{r['query_ms_median']:.1f} ms per query (median)")
    if a.show:
        for r in results["--type py"]["queries"]:
            print(f"\n{r['query']}\n  words {r['words']}\n  answer {r['path']} {r['symbol']}: "
                  f"file rank {r['file_rank']}, definition rank {r['definition_rank']}")
            for path in r["top"]:
                print(f"    {path}")
    save("index_rg_baseline", a, {"corpus": describe(), "rg": version.splitlines()[0],
                                   "stop_words": sorted(STOP_WORDS), "results": results})


if __name__ == "__main__":
    main()
