"""The mixed workload of bench/auto_route.py and how each answer is scored.

Four kinds, each taken from a set the project already has and scored by its own bench's code:

- chat: bench/data/easy_chat.jsonl, short questions with one checkable answer (arithmetic,
  units, capitals, opposites, a word backwards, "reply with only ..."), taken round-robin
  over their `type`. Right when reasoning_score.score finds the answer in the reply (its
  "Answer:" line, else last number / word) or the reply's first line matches it
  (reasoning_score.matches: a number after the last "=", else its first or last words),
  both after reasoning_score.normalize.
- tools: BFCL simple and multiple (cases 0.., alternating; bfcl_data.load), `tools` with
  `tool_choice: "auto"`, `parallel_tool_calls` false, as bench/bfcl.py asks them; scored by
  BFCL's AST checker (bfcl_check.check_case) on the returned tool calls.
- schema: JSONSchemaBench (jsonschemabench's prompt and schemas), round-robin over the
  subsets in file order, keeping schemas of at most --max-schema-chars characters that
  openmini compiles (jsonschemabench.compile_one) and python jsonschema can check; asked as
  `response_format` json_schema. Right when the output finished by itself (not cut at
  max_tokens) and jsonschemabench.judge finds it valid.
- reasoning: bench/data/reasoning.jsonl (arithmetic and logic, alternating), asked as
  bench/reasoning.py asks them (its prompt) with `reasoning_effort`; scored by
  reasoning_score.score on the reply (not the reasoning text).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bfcl_data
import jsonschemabench as jsb
import reasoning as rsn
from bfcl_check import check_case
from reasoning_score import matches, normalize, score

KINDS = ("chat", "tools", "schema", "reasoning")
SIZES = {"chat": 20, "tools": 20, "schema": 15, "reasoning": 10}
MAX_TOKENS = {"chat": 48, "tools": 256, "schema": 256, "reasoning": 1024}
CHAT = Path(__file__).resolve().parent / "data" / "easy_chat.jsonl"


@dataclass(slots=True)
class Item:
    kind: str
    id: str
    messages: list[dict[str, Any]]
    request: dict[str, Any]  # AsyncOpenMini.request keywords (tools, response_format, ...)
    expected: Any  # the scorer's reference: an answer, a BFCL case, a schema


def round_robin(groups: Iterable[Iterable[Any]]) -> Iterator[Any]:
    """The first of each group, then the second of each, ..."""
    done = object()
    for row in itertools.zip_longest(*groups, fillvalue=done):
        yield from (x for x in row if x is not done)


def chat(n: int) -> list[Item]:
    rows = [json.loads(line) for line in CHAT.read_text().splitlines() if line.strip()]
    types = list(dict.fromkeys(r["type"] for r in rows))
    picked = round_robin([r for r in rows if r["type"] == t] for t in types)
    return [Item("chat", r["id"], [{"role": "user", "content": r["question"]}], {}, r["answer"])
            for r in itertools.islice(picked, n)]


def tools(n: int) -> list[Item]:
    cases = round_robin([bfcl_data.load("simple", math.ceil(n / 2)),
                         bfcl_data.load("multiple", n // 2)])
    return [Item("tools", c.id, c.messages, {"tools": c.tools, "tool_choice": "auto",
                                             "parallel_tool_calls": False}, c)
            for c in itertools.islice(cases, n)]


def schema(n: int, backend: Any, max_chars: int) -> list[Item]:
    """`backend`: a LocalBackend whose grammar compiler decides what openmini covers."""
    rows = [json.loads(line) for line in jsb.DATA.read_text().splitlines() if line.strip()]
    subsets = list(dict.fromkeys(r["subset"] for r in rows))
    out: list[Item] = []
    shim = SimpleNamespace(backend=backend)  # compile_one reads om.backend only
    for r in round_robin([r for r in rows if r["subset"] == s] for s in subsets):
        if len(out) == n:
            break
        it = jsb.Item(r["subset"], r["name"], r["schema"])
        if len(json.dumps(it.schema)) > max_chars or jsb.compile_one(shim, it) is None:
            continue
        if jsb.judge(it.schema, "null")[0] == "validator_error":  # jsonschema cannot check it
            continue
        fmt = {"type": "json_schema", "json_schema": {"name": "output", "schema": it.schema}}
        out.append(Item("schema", f"{it.subset}/{it.name}", jsb.messages(it),
                        {"response_format": fmt}, it.schema))
    return out


def reasoning(n: int, effort: str) -> list[Item]:
    kinds = [rsn.load([k], None) for k in rsn.KINDS]
    return [Item("reasoning", it.id, rsn.prompt(it), {"reasoning_effort": effort}, it.answer)
            for it in itertools.islice(round_robin(kinds), n)]


# --- scoring ------------------------------------------------------------------------------

def judge(item: Item, completion: Any) -> tuple[bool, str]:
    """(right, what was found or why not) for one completion (openmini.pipeline.Completion)."""
    choice = completion.choices[0]
    text = choice.text
    if item.kind == "chat":
        s = score(text, item.expected)
        first = normalize(next((ln for ln in text.splitlines() if ln.strip()), ""))
        ok = s.correct or (bool(first) and matches(first, normalize(item.expected)))
        return ok, f"{text.strip()[:80]!r}"
    if item.kind == "tools":
        calls, problems = [], []
        for tc in choice.tool_calls:
            try:
                calls.append((tc.name, json.loads(tc.arguments)))
            except ValueError as exc:
                problems.append(f"unreadable arguments of {tc.name}: {exc}")
        case = item.expected
        wrong = "; ".join(problems) or check_case(case.category, case.functions, calls,
                                                  case.answers)
        return not wrong, wrong[:200] or f"{calls!r:.160}"
    if item.kind == "schema":
        if choice.finish_reason != "stop":
            return False, f"finish_reason {choice.finish_reason}"
        status, why = jsb.judge(item.expected, text)
        return status == "valid", f"{status} {why}"[:200]
    s = score(text, item.expected)
    return s.correct, f"extracted {s.extracted!r} via {s.via}, expected {item.expected!r}"


def workload(sizes: dict[str, int], backend: Any, max_schema_chars: int, effort: str
             ) -> dict[str, list[Item]]:
    """Each kind's items (kinds whose size is 0 left out)."""
    load = {"chat": chat, "tools": tools,
            "schema": lambda n: schema(n, backend, max_schema_chars),
            "reasoning": lambda n: reasoning(n, effort)}
    return {k: load[k](n) for k, n in sizes.items() if n > 0}
