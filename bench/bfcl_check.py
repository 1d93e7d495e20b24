"""BFCL's AST checker (simple, multiple, parallel, parallel_multiple, irrelevance), as
/work/shared/benchmarks/bfcl/README.md describes it and BFCL's `ast_checker.py` does it.

A call is `(name, arguments)`. `functions` are BFCL's own descriptions (types `dict`, `float`,
`tuple`, `any`), `answers` BFCL's `ground_truth` (`[{name: {param: [acceptable values]}}]`).
Every check returns "" when the output is correct, else why not.

Two deliberate readings of the README: an int is accepted for a float at any depth (BFCL
only converts it at the top level), and parallel calls are matched to the answers by a full
bipartite matching (BFCL matches greedily, answer by answer; the matching never rejects
what greedy accepts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

Call = tuple[str, Any]
# BFCL's PYTHON_TYPE_MAPPING (an `any` value is checked as a string, as BFCL does)
PY_TYPES: dict[str, type] = {"string": str, "integer": int, "float": float, "boolean": bool,
                             "array": list, "tuple": list, "dict": dict, "any": str}
_PUNCT = re.compile(r"[ ,./\-_*^]")


def standardize(text: str) -> str:
    """BFCL's string normalisation: no spaces or ,./-_*^, lower case, ' -> "."""
    return _PUNCT.sub("", text).lower().replace("'", '"')


def same_type(value: Any, expected: type) -> bool:
    """`type(value) == expected`, as BFCL checks it (bool is not int), int accepted for float."""
    return type(value) is expected or (expected is float and type(value) is int)


def matches(value: Any, option: Any) -> bool:
    """Whether `value` equals one acceptable value. Dicts in answers hold, for each key, a
    list of acceptable values again; lists are compared element by element."""
    if isinstance(option, dict):
        return isinstance(value, dict) and dict_matches(value, option)
    if isinstance(option, list):
        return (isinstance(value, list) and len(value) == len(option)
                and all(map(matches, value, option)))
    if isinstance(option, str):
        return isinstance(value, str) and standardize(value) == standardize(option)
    if isinstance(option, bool) or isinstance(value, bool):
        return type(value) is type(option) and value == option
    if isinstance(option, int | float):
        return type(value) in (int, float) and value == option
    return bool(value == option)


def dict_matches(value: dict[str, Any], option: dict[str, Any]) -> bool:
    """Every key given is expected and matches one of its values; a key is left out only
    if "" is acceptable for it."""
    given = all(k in option and any(matches(v, o) for o in option[k]) for k, v in value.items())
    return given and all(k in value or "" in opts for k, opts in option.items())


def type_error(param: str, value: Any, schema: dict[str, Any], options: list[Any]) -> str:
    """BFCL's type check. A value of the answers' own type is taken as a variable (BFCL lists
    e.g. "data['sales']" for an array); array items are checked against `items.type`."""
    expected = PY_TYPES.get(str(schema.get("type")), object)
    if same_type(value, expected):
        item_type = PY_TYPES.get(str((schema.get("items") or {}).get("type")))
        if expected is list and item_type is not None and not all(
                same_type(v, item_type) for v in value):
            return f"{param}: items of {value!r} are not all {item_type.__name__}"
        return ""
    answer_type = next((type(o) for o in options if o != ""), None)
    if answer_type is not None and answer_type is not expected and type(value) is answer_type:
        return ""  # a variable: compared with the answers as it is
    return f"{param}: expected {schema.get('type')}, got {type(value).__name__} {value!r}"


def check_call(function: dict[str, Any], call: Call, answer: dict[str, Any]) -> str:
    """One call against one expected call ({name: {param: [acceptable values]}})."""
    (name, expected), = answer.items()
    if call[0] != name:
        return f"wrong function: {call[0]} instead of {name}"
    args, params = call[1], function["parameters"]
    if not isinstance(args, dict):
        return f"arguments are not an object: {args!r}"
    props = params.get("properties", {})
    for param in params.get("required", []):
        if param not in args:
            return f"missing required parameter {param}"
    for param, value in args.items():
        if param not in props or param not in expected:
            return f"unexpected parameter {param}"
        if err := type_error(param, value, props[param], expected[param]):
            return err
        if not any(matches(value, option) for option in expected[param]):
            return f"{param}: {value!r} is not one of {expected[param]!r}"
    for param, options in expected.items():
        if param not in args and "" not in options:
            return f"missing optional parameter {param} (no default accepted)"
    return ""


def perfect_matching(ok: list[list[bool]]) -> bool:
    """Whether every answer i gets its own call j with ok[i][j] (augmenting paths)."""
    owner: dict[int, int] = {}

    def assign(i: int, seen: set[int]) -> bool:
        for j, good in enumerate(ok[i]):
            if good and j not in seen:
                seen.add(j)
                if j not in owner or assign(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    return all(assign(i, set()) for i in range(len(ok)))


def check_case(category: str, functions: Sequence[dict[str, Any]], calls: Sequence[Call],
               answers: Sequence[dict[str, Any]] | None) -> str:
    """The whole output of one test case: "" if BFCL counts it correct, else why not."""
    if category == "irrelevance":
        return f"called {', '.join(c[0] for c in calls)}" if calls else ""
    answers = answers or []
    if len(calls) != len(answers):
        return f"wrong number of calls: {len(calls)} for {len(answers)} expected"
    by_name = {f["name"]: f for f in functions}
    errors = [[check_call(by_name[next(iter(a))], c, a) for c in calls] for a in answers]
    if perfect_matching([[not e for e in row] for row in errors]):
        return ""
    if len(answers) == 1:
        return errors[0][0]
    unmatched = [f"answer {i}: {min(row, key=len)}" for i, row in enumerate(errors) if all(row)]
    return ("; ".join(unmatched) or "the calls cannot be matched one to one")[:400]
