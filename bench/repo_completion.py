"""Repo-aware completion (issue 25): cross-file completion tasks on networkx 3.6.1, exact
match with and without `codebase`.

Tasks: bench/data/repo_completion.json (bench/repo_completion_tasks.py): 100 lines, each
calling a definition that lives in another file of the project, masked. Each is asked for
as a fill-in-the-middle completion, `/v1/completions` `{"prompt": prefix, "suffix":
suffix}`, greedy, `--max-tokens` 48, with the file cut around the cursor to what an editor
plugin sends: the last `--prefix-chars` of the prefix and the first `--suffix-chars` of the
suffix, each cut at a line boundary. Two arms on one `openmini serve` (`--data-dir` holding
the index), one after the other:

- without: the request as above;
- with: the same plus `"codebase": {"index": "nx", "k": 6, "max_tokens": 2048, "path":
  <the task's file>}` (the current file is never retrieved; the model's repository format,
  `<|repo_name|>`/`<|file_sep|>`, carries the snippets).

The index is built first in this process (the catalogue's embedding model, the same code as
`openmini index add`) over the unpacked sdist, into a temporary data directory (or
`--data-dir`, where an index `nx` already made is reused). The server starts after the
model here is closed.

Scored on the middle's first line (the usual single-line scoring, as CrossCodeEval does):
exact when it equals the masked line, both stripped of surrounding whitespace. Also: edit
similarity (difflib's ratio, 0..1) and, for the `with` arm, whether the file defining the
called name was among the snippets placed (`context`): how often retrieval found it.

Goal (issue 25): with `codebase` at least 10 points better, `fast` and `default`.

    .venv/bin/python bench/repo_completion.py --model fast
    .venv/bin/python bench/repo_completion.py --model default
    .venv/bin/python bench/repo_completion.py --model fast --quick   # 5 tasks: a smoke test
"""

from __future__ import annotations

import asyncio
import difflib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from common import median, model_id, openmini_server, parser, post, save, table
from index_corpus import NAME, VERSION, corpus_path, describe
from openmini.index.embedding import open_default_embedder
from openmini.index.manager import IndexManager
from repo_completion_tasks import load_tasks

INDEX = "nx"
ARMS = ("without", "with")
SERVE = ("{python} -m openmini.cli.main serve --model {model} --port {port} --threads "
         "{threads} --parallel {parallel} --data-dir DATA")


def cut_prefix(text: str, chars: int) -> str:
    """The last `chars` characters of `text`, from a line start."""
    if len(text) <= chars:
        return text
    tail = text[-chars:]
    return tail[tail.find("\n") + 1:] if "\n" in tail else tail


def cut_suffix(text: str, chars: int) -> str:
    """The first `chars` characters of `text`, to a line end (never empty: "\\n")."""
    if len(text) > chars:
        head = text[:chars]
        text = head[: head.rfind("\n") + 1] if "\n" in head else head
    return text or "\n"


def first_line(middle: str) -> str:
    return middle.lstrip("\n").partition("\n")[0].strip()


def ensure_index(data: Path, threads: int) -> dict[str, Any]:
    manager = IndexManager(data / "indexes",
                           open_embedder=lambda: open_default_embedder(None, threads))
    try:
        if INDEX in manager.names() and manager.get(INDEX).status == "ready":
            info = manager.get(INDEX)
            return {"reused": True, "files": info.files, "chunks": info.chunks}
        t0 = time.perf_counter()
        info = manager.add(corpus_path(), name=INDEX)
        return {"reused": False, "files": info.files, "chunks": info.chunks,
                "seconds": time.perf_counter() - t0}
    finally:
        manager.close()


def body(model: str, task: dict[str, Any], arm: str, a: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "prompt": cut_prefix(task["prefix"], a.prefix_chars),
                           "suffix": cut_suffix(task["suffix"], a.suffix_chars),
                           "max_tokens": a.max_tokens, "temperature": 0.0}
    if arm == "with":
        out["codebase"] = {"index": INDEX, "k": a.k, "max_tokens": a.context_tokens,
                           "path": task["path"]}
    return out


async def ask(client: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    r = await post(client, url, payload)
    seconds = time.perf_counter() - t0
    if r.status_code != 200:
        return {"error": f"HTTP {r.status_code}: {r.text[:300]}", "seconds": seconds}
    data = r.json()
    usage = data.get("usage") or {}
    return {"text": data["choices"][0].get("text") or "", "seconds": seconds,
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "context": data.get("context") or []}


async def run_arm(client: httpx.AsyncClient, url: str, model: str, arm: str,
                  tasks: list[dict[str, Any]], a: Any) -> list[dict[str, Any]]:
    gate, done = asyncio.Semaphore(a.parallel), 0

    async def one(t: dict[str, Any]) -> dict[str, Any]:
        nonlocal done
        async with gate:
            res = await ask(client, url, body(model, t, arm, a))
        done += 1
        if res.get("error") or done % 20 == 0:
            print(f"{arm} [{done}/{len(tasks)}] {res.get('error', 'ok')}", flush=True)
        return res

    t0 = time.perf_counter()
    out = list(await asyncio.gather(*(one(t) for t in tasks)))
    print(f"{arm}: {time.perf_counter() - t0:.0f} s", flush=True)
    return out


async def run_arms(a: Any, tasks: list[dict[str, Any]], data: Path) -> dict[str, list[Any]]:
    os.environ["OPENMINI_PREFIX_CACHE_TOKENS"] = "0"  # the child's: each prompt afresh
    cmd = SERVE.replace("DATA", str(data))
    with openmini_server(a.model, a.threads, a.parallel, cmd=cmd) as server:
        model, url = model_id(server), server.url + "/v1/completions"
        async with httpx.AsyncClient(timeout=None) as client:
            return {arm: await run_arm(client, url, model, arm, tasks, a) for arm in ARMS}


def score(tasks: list[dict[str, Any]], results: dict[str, list[Any]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for arm, answers in results.items():
        exact, sims, found, prompt = 0, [], 0, []
        for t, r in zip(tasks, answers, strict=True):
            line = first_line(r.get("text", ""))
            r["first_line"] = line
            r["exact"] = line == t["target"].strip()
            exact += r["exact"]
            sims.append(difflib.SequenceMatcher(None, line, t["target"].strip()).ratio())
            r["defining_file_placed"] = any(c["path"] == t["uses"]["defined_in"]
                                            for c in r.get("context", []))
            found += r["defining_file_placed"]
            prompt.append(r.get("prompt_tokens", 0))
        n = len(tasks) or 1
        summary[arm] = {"exact": exact / n, "edit_similarity": sum(sims) / n,
                        "defining_file_placed": found / n,
                        "errors": sum(bool(r.get("error")) for r in answers),
                        "prompt_tokens_median": median(prompt),
                        "seconds_median": median([r["seconds"] for r in answers])}
    return summary


def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--parallel", type=int, default=4, help="requests at once (server slots)")
    p.add_argument("--max-tasks", type=int, default=0, help="first N tasks (0: all)")
    p.add_argument("--max-tokens", type=int, default=48)
    p.add_argument("--prefix-chars", type=int, default=4000)
    p.add_argument("--suffix-chars", type=int, default=1000)
    p.add_argument("--k", type=int, default=6, help="codebase.k")
    p.add_argument("--context-tokens", type=int, default=2048, help="codebase.max_tokens")
    p.add_argument("--data-dir", type=Path, help="a data directory to keep the index in")
    p.add_argument("--show", action="store_true", help="print each task's lines")
    a = p.parse_args()
    tasks = load_tasks()[: 5 if a.quick else (a.max_tasks or None)]
    with tempfile.TemporaryDirectory(prefix="openmini-repo-bench-") as tmp:
        data = a.data_dir or Path(tmp)
        index = ensure_index(data, a.threads)
        print(f"index {INDEX}: {index}", file=sys.stderr)
        results = asyncio.run(run_arms(a, tasks, data))
    summary = score(tasks, results)
    w, wo = summary["with"], summary["without"]
    table(f"cross-file completion, {len(tasks)} tasks of {NAME} {VERSION}, {a.model}",
          ["arm", "exact", "edit sim", "defining file placed", "prompt tok (median)",
           "s (median)", "errors"],
          [[arm, s["exact"], s["edit_similarity"], s["defining_file_placed"],
            s["prompt_tokens_median"], s["seconds_median"], s["errors"]]
           for arm, s in summary.items()])
    gain = 100 * (w["exact"] - wo["exact"])
    print(f"with codebase: {gain:+.1f} points exact: "
          f"{'PASS' if gain >= 10 else 'MISS'} (goal >= +10)")
    if a.show:
        for k, t in enumerate(tasks):
            print(f"\n{t['path']}:{t['line']} ({t['uses']['defined_in']})\n"
                  f"  target  {t['target'].strip()}")
            for arm in ARMS:
                r = results[arm][k]
                print(f"  {arm:<7} {r['first_line']}")
    per_task = [{"path": t["path"], "line": t["line"], "target": t["target"],
                 **{arm: {k: v for k, v in results[arm][i].items() if k != "text"}
                    for arm in ARMS}} for i, t in enumerate(tasks)]
    save("repo_completion", a, {"corpus": describe(), "index": index, "summary": summary,
                                "gain_points": gain, "tasks": per_task})


if __name__ == "__main__":
    main()
