"""BFCL sample data: the cases of one category, with BFCL's schemas mapped to JSON Schema
(dict->object, float->number, tuple->array, any->no type, `optional` dropped) and dots in
function names replaced by "_", as BFCL does for OpenAI-style APIs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA = Path("/work/shared/benchmarks/bfcl")
TYPE_MAP = {"dict": "object", "float": "number", "tuple": "array"}


@dataclass(slots=True)
class Case:
    category: str
    id: str
    messages: list[dict[str, Any]]
    functions: list[dict[str, Any]]  # BFCL's descriptions, names with "_" for "."
    answers: list[dict[str, Any]] | None
    tools: list[dict[str, Any]]  # OpenAI tool JSON


def api_name(name: str) -> str:
    return name.replace(".", "_")


def json_schema(node: Any) -> Any:
    """A BFCL parameter schema as JSON Schema."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "type":
            if value != "any":
                out[key] = TYPE_MAP.get(value, value)
        elif key == "properties":
            out[key] = {name: json_schema(s) for name, s in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = json_schema(value)
        elif not (key == "optional" and isinstance(value, bool)):
            out[key] = value
    return out


def load(category: str, limit: int, offset: int = 0) -> list[Case]:
    """Cases offset .. offset+limit-1 of a category (file order)."""
    cases = []
    for line in (DATA / f"{category}.jsonl").read_text().splitlines()[offset:offset + limit]:
        row = json.loads(line)
        functions = [{**f, "name": api_name(f["name"])} for f in row["function"]]
        answers = [{api_name(k): v for k, v in a.items()} for a in row["ground_truth"] or []]
        tools = [{"type": "function", "function": {
            "name": f["name"], "description": f["description"],
            "parameters": json_schema(f["parameters"])}} for f in functions]
        cases.append(Case(category, row["id"], row["question"][0], functions,
                          answers if row["ground_truth"] is not None else None, tools))
    return cases
