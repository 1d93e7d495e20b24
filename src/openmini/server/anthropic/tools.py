"""Anthropic `tools` / `tool_choice` -> the internal ToolSpecs and ToolChoice.

| Anthropic                               | internal (as OpenAI's edge makes it)      |
|-----------------------------------------|-------------------------------------------|
| `{name, description, input_schema}`     | `ToolSpec(name, description, parameters)` |
| `tool_choice {"type": "auto"}`          | `ToolChoice("auto")`                      |
| `tool_choice {"type": "any"}`           | `ToolChoice("required")`                  |
| `tool_choice {"type": "tool", name}`    | `ToolChoice("function", name)`            |
| `tool_choice {"type": "none"}`          | `ToolChoice("none")`                      |
| `disable_parallel_tool_use: true`       | `parallel_tool_calls=False`               |
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from openmini.errors import InvalidRequest
from openmini.server.anthropic.schemas import ToolChoiceIn, ToolChoiceNone, ToolChoiceTool, ToolIn
from openmini.tools.spec import NAME_PATTERN, ToolChoice, ToolSpec, check_schema

MODES = {"auto": "auto", "any": "required", "tool": "function", "none": "none"}


@dataclass(frozen=True, slots=True)
class Tools:
    specs: tuple[ToolSpec, ...] = ()
    choice: ToolChoice | None = None
    parallel: bool = True


def tools_of(tools: list[ToolIn] | None, choice: ToolChoiceIn | None) -> Tools:
    specs = tuple(_spec(i, tool) for i, tool in enumerate(tools or ()))
    names = [spec.name for spec in specs]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise InvalidRequest(f"'tools[{i}].name': duplicate tool name '{name}' (tool names "
                                 "must be unique).", param=f"tools[{i}].name")
    if choice is None:
        return Tools(specs, ToolChoice("auto") if specs else None)
    parallel = isinstance(choice, ToolChoiceNone) or not choice.disable_parallel_tool_use
    if choice.type in ("any", "tool") and not specs:
        raise InvalidRequest(f"'tool_choice' of type '{choice.type}' needs 'tools'.",
                             param="tool_choice")
    if not specs:
        return Tools()
    if isinstance(choice, ToolChoiceTool):
        if choice.name not in names:
            raise InvalidRequest(f"'tool_choice.name': no tool named '{choice.name}' in "
                                 "'tools'.", param="tool_choice.name")
        return Tools(specs, ToolChoice("function", choice.name), parallel)
    return Tools(specs, ToolChoice(MODES[choice.type]), parallel)  # type: ignore[arg-type]


def _spec(i: int, tool: ToolIn) -> ToolSpec:
    where = f"tools[{i}]"
    if not NAME_PATTERN.fullmatch(tool.name):
        raise InvalidRequest(f"Invalid '{where}.name': {tool.name!r}. Expected 1 to 64 letters, "
                             "digits, underscores or dashes ('^[a-zA-Z0-9_-]{1,64}$').",
                             param=f"{where}.name")
    schema = tool.input_schema
    if schema.get("type") != "object":
        raise InvalidRequest(f"Invalid '{where}.input_schema' of tool '{tool.name}': it must be "
                             "a JSON Schema of 'type: \"object\"'.", param=f"{where}.input_schema")
    try:
        check_schema(schema, tool.name, f"{where}.input_schema")
    except InvalidRequest as exc:  # its message names the function, not the field
        raise InvalidRequest(f"Invalid '{where}.input_schema': {exc.message}",
                             param=exc.param) from None
    return ToolSpec(name=tool.name, description=tool.description or "",
                    parameters=copy.deepcopy(schema))
