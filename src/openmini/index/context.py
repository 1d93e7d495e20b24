"""The context stage: code retrieved from a codebase index for a request's `codebase`
(docs/index.md, "Repo-aware completion"), placed in its prompt within a token budget.

- Query: a chat's last user message; a completion's text around the cursor, most telling
  first: the names used near the cursor (its line, then outwards: the prompt's two lines
  before it, the suffix's next line), the prompt's import lines, then the last
  `PREFIX_LINES` lines of the prompt and the first `SUFFIX_LINES` of the suffix.
- Retrieval: hybrid search (index/search.py), `2k + 4` candidates, best first; left out: the
  current file (`codebase.path`), a chunk the prompt or suffix already holds verbatim, a
  chunk overlapping one already taken.
- Budget: candidates are taken in score order while their cost fits `codebase.max_tokens`
  (one that does not is skipped for the next), then everything inserted is counted whole
  and the last taken dropped until it fits: the budget is never exceeded. Counted with the
  model's own tokenizer where the model is local (`count_text`), else as UTF-8 bytes + 1
  (at least one byte per token: an upper bound for any byte-level tokenizer).
- Placement (index/context_prompt.py): a chat's system message; a completion in the model's
  repository format where it has one (Request.repo_context, engine/fim.py), else as
  comments before the prompt.

What was placed is recorded on `codebase.sources` (the response's `context` field).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from openmini.errors import NotFound
from openmini.index.context_prompt import Form, form_for
from openmini.index.manager import check_name
from openmini.index.search import MAX_K, MAX_QUERY_CHARS, Hit
from openmini.types import Codebase, ContextSource, Request

if TYPE_CHECKING:
    from openmini.index.manager import IndexManager
    from openmini.router import Router

Count = Callable[[str], int]
PREFIX_LINES, SUFFIX_LINES = 30, 10
NEAR_PREFIX, NEAR_SUFFIX = 3, 2  # lines whose names lead the query
MAX_IMPORTS = 20
PARAM = "codebase.index"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{2,}")
_IMPORT = re.compile(r"^\s*(?:from\s+\S+\s+import\s|import[\s({]|#\s*include\s|use\s|"
                     r"using\s|require[\s(]|.*\brequire\(|.*=\s*import\()")
_COMMON = frozenset(str.split(
    "and are as assert async await break case catch class const continue def default del "
    "elif else enum except export extends false final finally fn for from func function "
    "global if impl import in interface is let lambda mut new nil none not null or pass "
    "private protected pub public raise return self static struct super switch this throw "
    "true try type var void while with yield"))


def byte_count(text: str) -> int:
    """An upper bound on any byte-level tokenizer's count: every token is a byte at least
    (+1: a SentencePiece model's leading space)."""
    return len(text.encode()) + 1


def text_counter(router: Router, model: str) -> Count:
    """The model's own plain-text token count where it is one local deployment, else the
    byte bound."""
    deployment = router.deployments.get(model)
    count = getattr(deployment.backend, "count_text", None) if deployment else None
    return count if callable(count) else byte_count


async def with_context(request: Request, indexes: IndexManager, repo_format: bool,
                       count: Count) -> Request:
    """The request with its retrieved code placed (`codebase.sources` filled); the
    blocking work (SQLite, the query's embedding, tokenizing) in a worker thread."""
    assert request.codebase is not None
    return await asyncio.to_thread(_place, request, request.codebase, indexes, repo_format,
                                   count)


def _place(request: Request, spec: Codebase, indexes: IndexManager, repo_format: bool,
           count: Count) -> Request:
    check_name(spec.index, PARAM)
    try:
        info = indexes.get(spec.index)
    except NotFound as exc:
        raise NotFound(exc.message, param=PARAM, code=exc.code or "index_not_found") from None
    query = query_of(request)
    if not query:
        return request
    try:
        hits = indexes.search(spec.index, query, min(MAX_K, 2 * spec.k + 4))
    except NotFound as exc:  # removed this very moment
        raise NotFound(exc.message, param=PARAM, code=exc.code or "index_not_found") from None
    form = form_for(request, spec, PurePosixPath(info.path).name or info.name, repo_format,
                    count, hits)
    chosen = fit(candidates(hits, request, spec), form, spec.max_tokens, spec.k)
    spec.sources[:] = [ContextSource(h.path, h.start_line, h.end_line, h.score)
                       for h in chosen]
    return form.apply(request, chosen) if chosen else request


def fit(hits: list[Hit], form: Form, budget: int, k: int) -> list[Hit]:
    """At most `k` hits, best first, whose placement costs at most `budget` tokens."""
    chosen: list[Hit] = []
    spent = form.overhead()
    for hit in hits:
        if len(chosen) == k:
            break
        cost = form.cost(hit)
        if spent + cost <= budget:
            chosen.append(hit)
            spent += cost
    while chosen and form.total(chosen) > budget:  # counted whole: merges across pieces
        chosen.pop()
    return chosen


def candidates(hits: list[Hit], request: Request, spec: Codebase) -> list[Hit]:
    """The hits worth placing, best first (see the module's docstring)."""
    around = "" if request.messages is not None else (request.prompt or "") + "\0" + (
        request.suffix or "")
    out: list[Hit] = []
    for hit in hits:
        if hit.path == spec.path:
            continue
        if around and hit.text.strip() in around:
            continue
        if any(h.path == hit.path and h.start_line <= hit.end_line
               and hit.start_line <= h.end_line for h in out):
            continue
        out.append(hit)
    return out


def query_of(request: Request) -> str:
    """What to search for: see the module's docstring. Empty: nothing to search for."""
    if request.messages is not None:
        text = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        return text.strip()[:MAX_QUERY_CHARS]
    return cursor_query(request.prompt or "", request.suffix or "")


def cursor_query(prompt: str, suffix: str) -> str:
    before = prompt.splitlines()
    after = suffix.splitlines()[:SUFFIX_LINES]
    if prompt.endswith("\n"):
        before.append("")  # the cursor starts a line
    # the cursor's line (the prompt's last, the suffix's first), then outwards
    near = [line for i in range(max(NEAR_PREFIX, NEAR_SUFFIX))
            for line in (before[-1 - i] if i < min(NEAR_PREFIX, len(before)) else "",
                         after[i] if i < min(NEAR_SUFFIX, len(after)) else "")]
    names = dict.fromkeys(n for line in near for n in _NAME.findall(line)
                          if n.lower() not in _COMMON)
    imports = [line.strip() for line in before if _IMPORT.match(line)][:MAX_IMPORTS]
    window = [line for line in [*before[-PREFIX_LINES:], *after] if line.strip()]
    parts = [" ".join(names), *imports, *window]
    return "\n".join(p for p in parts if p).strip()[:MAX_QUERY_CHARS]

