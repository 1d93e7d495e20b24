"""Tool specs and tool_choice, converted from OpenAI's wire shapes and checked like OpenAI does.

Every problem is an `InvalidRequest` whose `param` points at the offending field, for example
`tools[2].function.name`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from openmini.errors import InvalidRequest, UnsupportedParameter

NAME_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_TOOL_KEYS = frozenset({"type", "function"})
_FUNCTION_KEYS = frozenset({"name", "description", "parameters", "strict", "response"})


def empty_parameters() -> dict[str, Any]:
    """The schema of a function that takes no arguments."""
    return {"type": "object", "properties": {}}


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One function the model may call. `parameters` is a JSON schema of `type: object`."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=empty_parameters)
    strict: bool = False


ChoiceMode = Literal["auto", "none", "required", "function"]
_STRING_MODES: frozenset[str] = frozenset({"auto", "none", "required"})


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """Whether the model may, must, or must not call a function; `name` when one is forced."""

    mode: ChoiceMode = "auto"
    name: str | None = None

    @property
    def call_required(self) -> bool:
        return self.mode in ("required", "function")

    def allowed(self, specs: Sequence[ToolSpec]) -> tuple[ToolSpec, ...]:
        """The specs the model may call under this choice."""
        if self.mode == "none":
            return ()
        if self.mode == "function":
            return tuple(spec for spec in specs if spec.name == self.name)
        return tuple(specs)


def tool_specs_from_openai(tools: Any) -> tuple[ToolSpec, ...]:
    """OpenAI's `tools` array -> specs, rejecting anything OpenAI would reject."""
    if not isinstance(tools, list):
        raise InvalidRequest("Invalid type for 'tools': expected an array of tool objects.",
                             param="tools")
    if not tools:
        raise InvalidRequest("Invalid 'tools': empty array. Expected an array with minimum "
                             "length 1, but got an empty array instead.", param="tools")
    specs: list[ToolSpec] = []
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        spec = _tool_spec(tool, f"tools[{i}]")
        if spec.name in seen:
            raise InvalidRequest(f"Duplicate function name '{spec.name}' in 'tools': function "
                                 "names must be unique.", param=f"tools[{i}].function.name")
        seen.add(spec.name)
        specs.append(spec)
    return tuple(specs)


def _tool_spec(tool: Any, where: str) -> ToolSpec:
    if not isinstance(tool, dict):
        raise InvalidRequest(f"Invalid type for '{where}': expected an object.", param=where)
    if tool.get("type") != "function":
        raise InvalidRequest(f"Invalid value for '{where}.type': only 'function' tools are "
                             f"supported, got {tool.get('type')!r}.", param=f"{where}.type")
    _reject_unknown(tool, _TOOL_KEYS, where)
    function = tool.get("function")
    where = f"{where}.function"
    if not isinstance(function, dict):
        raise InvalidRequest(f"Missing or invalid '{where}': expected an object.", param=where)
    _reject_unknown(function, _FUNCTION_KEYS, where)
    name = _name(function.get("name"), f"{where}.name")
    _response(function.get("response"), f"{where}.response")
    return ToolSpec(
        name=name,
        description=_description(function.get("description"), f"{where}.description"),
        parameters=_parameters(function.get("parameters"), name, f"{where}.parameters"),
        strict=_strict(function.get("strict"), f"{where}.strict"),
    )


def _reject_unknown(obj: dict[str, Any], known: frozenset[str], where: str) -> None:
    for key in obj:
        if key not in known:
            raise UnsupportedParameter(f"{where}.{key}", "is not a known field")


def _name(value: Any, param: str) -> str:
    if value is None:
        raise InvalidRequest(f"Missing required parameter: '{param}'.", param=param)
    if not isinstance(value, str) or not NAME_PATTERN.fullmatch(value):
        raise InvalidRequest(f"Invalid '{param}': {value!r} does not match pattern. Expected "
                             "a string of 1 to 64 letters, digits, underscores or dashes "
                             "('^[a-zA-Z0-9_-]{1,64}$').", param=param)
    return value


def _response(value: Any, param: str) -> None:
    """A function's `response` (the schema of what it returns, as BFCL's multi-turn tools
    and Gemini-style declarations carry it): OpenAI and vLLM accept and ignore it, and so do
    we, since it says nothing about the call the model writes. Only its type is checked."""
    if value is not None and not isinstance(value, dict):
        raise InvalidRequest(f"Invalid type for '{param}': expected a JSON schema object.",
                             param=param)


def _description(value: Any, param: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{param}': expected a string.", param=param)
    return value


def _strict(value: Any, param: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequest(f"Invalid type for '{param}': expected a boolean.", param=param)
    return value


def _parameters(value: Any, name: str, param: str) -> dict[str, Any]:
    if value is None or value == {}:
        return empty_parameters()
    if not isinstance(value, dict):
        raise InvalidRequest(f"Invalid type for '{param}': expected a JSON schema object.",
                             param=param)
    if value.get("type") != "object":
        raise InvalidRequest(f"Invalid schema for function '{name}': schema must be a JSON "
                             f"Schema of 'type: \"object\"', got 'type: \"{value.get('type')}\"'.",
                             param=param)
    check_schema(value, name, param)
    return copy.deepcopy(value)


def check_schema(schema: dict[str, Any], name: str, param: str) -> None:
    """Check `schema` against its JSON Schema meta-schema (draft 2020-12 unless `$schema` says)."""
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import Draft202012Validator, validator_for

    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as e:
        raise InvalidRequest(f"Invalid schema for function '{name}': {e.message} "
                             f"(at {e.json_path}).", param=param) from None


def tool_choice_from_openai(value: Any, specs: Sequence[ToolSpec]) -> ToolChoice:
    """OpenAI's `tool_choice` -> ToolChoice. Absent means "auto" with tools, "none" without."""
    if value is None:
        return ToolChoice("auto" if specs else "none")
    if value == "none":
        return ToolChoice("none")
    if not specs:
        raise InvalidRequest("Invalid value for 'tool_choice': 'tool_choice' is only allowed "
                             "when 'tools' are specified.", param="tool_choice")
    if isinstance(value, str) and value in _STRING_MODES:
        return ToolChoice(value)  # type: ignore[arg-type]
    if isinstance(value, dict):
        return _named_choice(value, specs)
    raise InvalidRequest(f"Invalid value for 'tool_choice': {value!r}. Expected 'none', 'auto', "
                         "'required' or {'type': 'function', 'function': {'name': ...}}.",
                         param="tool_choice")


def _named_choice(value: dict[str, Any], specs: Sequence[ToolSpec]) -> ToolChoice:
    function = value.get("function")
    name = function.get("name") if isinstance(function, dict) else None
    if value.get("type") != "function" or not isinstance(name, str):
        raise InvalidRequest("Invalid value for 'tool_choice': expected {'type': 'function', "
                             "'function': {'name': ...}}.", param="tool_choice")
    if name not in {spec.name for spec in specs}:
        raise InvalidRequest(f"Invalid value for 'tool_choice': no function named '{name}' "
                             "in 'tools'.", param="tool_choice")
    return ToolChoice("function", name)
