"""Server-side validation of call arguments against each function's JSON schema.

Errors are short readable strings with the JSON path of the offending value, fit both for an
API error and for feeding back to the model (`retry_feedback`) so it can correct its call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from openmini.tools.calls import ToolCall, new_call_id
from openmini.tools.spec import ToolSpec


def validate_call(spec: ToolSpec, arguments: Any) -> list[str]:
    """Why `arguments` do not match `spec.parameters` (formats checked too); [] if they do."""
    from jsonschema.validators import Draft202012Validator, validator_for

    cls = validator_for(spec.parameters, default=Draft202012Validator)
    validator = cls(spec.parameters, format_checker=cls.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(arguments), key=lambda e: (e.json_path, e.message))
    return [f"{e.json_path}: {e.message}" for e in errors]


def validate_calls(specs: Sequence[ToolSpec],
                   parsed_calls: Iterable[tuple[str, Any]]) -> tuple[list[ToolCall], list[str]]:
    """The valid calls as `ToolCall`s, and an error per problem (unknown functions included).

    Errors name the call: `get_weather (call 1): $.unit: 'kelvin' is not one of ['c', 'f']`.
    """
    by_name = {spec.name: spec for spec in specs}
    calls: list[ToolCall] = []
    errors: list[str] = []
    for number, (name, arguments) in enumerate(parsed_calls, start=1):
        spec = by_name.get(name)
        if spec is None:
            known = ", ".join(by_name) or "none"
            errors.append(f"{name} (call {number}): unknown function (available: {known})")
            continue
        problems = validate_call(spec, arguments)
        errors.extend(f"{name} (call {number}): {problem}" for problem in problems)
        if not problems:
            text = json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))
            calls.append(ToolCall(id=new_call_id(), name=name, arguments=text))
    return calls, errors


def retry_feedback(errors: Sequence[str]) -> str:
    """What to tell the model when its calls were invalid: each error, then what to do."""
    lines = "\n".join(f"- {error}" for error in errors)
    return (f"Your tool call was invalid:\n{lines}\n"
            "Call the function again with arguments that match its parameters schema.")
