"""The agent-loop scenarios and the scripted client of bench/agent_loop.py: loading and picking
scenarios, the result a call gets, and the checks on a run (facts, outcomes, degenerate text,
placeholder arguments). Pure functions over the scenario data (bench/data/agent_scenarios.json).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).resolve().parent / "data" / "agent_scenarios.json"
KINDS = ("single", "dependent", "parallel", "error", "followup", "no_tool", "answer_result")
ARMS = ("openmini", "llamacpp")
UNKNOWN = {"error": "unknown call"}
NOT_JSON = {"error": "arguments are not valid JSON"}


# --- scenarios and the scripted client ----------------------------------------------------

def load(path: Path) -> list[dict[str, Any]]:
    scenarios = json.loads(path.read_text())["scenarios"]
    for s in scenarios:
        if s["kind"] not in KINDS:
            raise ValueError(f"{s['id']}: unknown kind {s['kind']!r}")
    return list(scenarios)


def pick(scenarios: list[dict[str, Any]], ids: list[str] | None, kinds: list[str] | None,
         limit: int | None) -> list[dict[str, Any]]:
    """--ids / --kinds filter; --limit N takes N, one kind at a time in turn (kinds in KINDS
    order, scenarios in file order), so a small N still covers N kinds."""
    chosen = [s for s in scenarios if (not ids or s["id"] in ids)
              and (not kinds or s["kind"] in kinds)]
    if ids and (missing := set(ids) - {s["id"] for s in chosen}):
        raise SystemExit(f"unknown scenario ids: {sorted(missing)}")
    if limit is None:
        return chosen
    queues = [[s for s in chosen if s["kind"] == k] for k in KINDS]
    out: list[dict[str, Any]] = []
    while len(out) < limit and any(queues):
        out += [q.pop(0) for q in queues if q][: limit - len(out)]
    return out


def canonical(name: str, args: Any) -> str:
    return name + json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def norm(s: str) -> str:
    return " ".join(s.replace("\u2019", "'").replace("\u00a0", " ").split()).casefold()


def matches(expected: Any, actual: Any) -> bool:
    """`actual` holds `expected`: strings without case ("Oslo" also takes "Oslo, Norway"),
    numbers by value, objects by their expected keys, {"one_of": [...]} any of them."""
    if isinstance(expected, dict) and set(expected) == {"one_of"}:
        return any(matches(e, actual) for e in expected["one_of"])
    if isinstance(expected, str):
        return isinstance(actual, str) and (norm(actual) == norm(expected)
                                            or norm(actual).startswith(norm(expected) + ","))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and math.isclose(expected, actual, abs_tol=1e-9)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k])
                                                for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(matches(e, a) for e, a in zip(expected, actual, strict=True)))
    return bool(expected == actual)


def lookup(functions: dict[str, list[dict[str, Any]]], name: str, args: Any) -> Any:
    """The scripted result: exact arguments, else an entry they include, else the wildcard."""
    entries = functions.get(name) or []
    key = canonical(name, args)
    for test in (lambda e: canonical(name, e) == key, lambda e: matches(e, args)):
        for entry in entries:
            if entry["args"] != "*" and test(entry["args"]):
                return entry["result"]
    return next((e["result"] for e in entries if e["args"] == "*"), UNKNOWN)


def answered_calls(messages: list[dict[str, Any]]) -> set[str]:
    """Canonical keys of the calls in the opening messages that have a tool result."""
    results = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    keys = set()
    for m in messages:
        for tc in m.get("tool_calls") or ():
            if tc["id"] in results:
                keys.add(canonical(tc["function"]["name"], parse_args(tc["function"]["arguments"])))
    return keys


def parse_args(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return None


# --- checks -------------------------------------------------------------------------------

def has_fact(text: str, fact: str | list[str]) -> bool:
    alts = [fact] if isinstance(fact, str) else fact
    return any(norm(a) in norm(text) for a in alts)


def outcome_problems(outcome: dict[str, Any], text: str,
                     calls: list[tuple[str, Any]]) -> list[str]:
    problems = [f"missing fact {f!r}" for f in outcome.get("expect", ()) if not has_fact(text, f)]
    for want in outcome.get("calls", ()):
        if not any(n == want["name"] and matches(want.get("args", {}), a) for n, a in calls):
            problems.append(f"no call {want['name']}({json.dumps(want.get('args', {}))})")
    if outcome.get("no_calls") and calls:
        problems.append(f"called {', '.join(n for n, _ in calls)} (no call expected)")
    return problems


def degenerate(text: str, finish: str) -> str:
    """Why the final text is degenerate, or ""."""
    if finish == "length":
        return "finish length"
    if not text.strip():
        return "empty"
    blank = 0
    for line in text.split("\n"):
        blank = blank + 1 if not line.strip() else 0
        if blank >= 3:
            return "3+ blank lines"
    for what, items in (("tokens", text.split()),
                        ("lines", [ln.strip() for ln in text.split("\n") if ln.strip()])):
        for i in range(len(items) - 2):
            if items[i] == items[i + 1] == items[i + 2]:
                if not any(ch.isalnum() for ch in items[i]):
                    return f"repeated non-alphanumeric {what} {items[i][:20]!r} x3+"
                if what == "lines":
                    return f"the same line x3+ {items[i][:40]!r}"
    return ""


def placeholder(tools: list[dict[str, Any]], name: str, args: Any) -> bool:
    """A required string parameter given as "" or blank: what a small model writes when the
    grammar holds it to a call it has no value for."""
    spec = next((t["function"] for t in tools if t["function"]["name"] == name), None)
    if spec is None or not isinstance(args, dict):
        return False
    params = spec.get("parameters") or {}
    props = params.get("properties", {})
    return any(props.get(k, {}).get("type") == "string" and isinstance(args.get(k), str)
               and not args[k].strip() for k in params.get("required", []))
