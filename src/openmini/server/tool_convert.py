"""The tool fields of a chat request -> internal specs, choice and message tool calls."""

from __future__ import annotations

from typing import Any

from openmini.errors import InvalidRequest
from openmini.server.schemas import ChatCompletionRequest, MessageIn
from openmini.tools.calls import ToolCall
from openmini.tools.spec import (
    ToolChoice,
    ToolSpec,
    tool_choice_from_openai,
    tool_specs_from_openai,
)


def tools_of(body: ChatCompletionRequest) -> tuple[tuple[ToolSpec, ...], ToolChoice | None]:
    """(specs, choice); ((), None) for a request without tools."""
    specs = tool_specs_from_openai(body.tools) if body.tools is not None else ()
    if body.tool_choice is None and not specs:
        return (), None
    return specs, tool_choice_from_openai(body.tool_choice, specs)


def message_tool_calls(i: int, message: MessageIn) -> tuple[ToolCall, ...]:
    """An assistant message's `tool_calls`, checked; other roles may not carry any."""
    if not message.tool_calls:
        return ()
    if message.role != "assistant":
        raise InvalidRequest(f"'messages[{i}].tool_calls' is only allowed on assistant "
                             "messages.", param=f"messages.{i}.tool_calls")
    return tuple(_call(f"messages.{i}.tool_calls.{j}", item)
                 for j, item in enumerate(message.tool_calls))


def tool_call_id(i: int, message: MessageIn) -> str | None:
    if message.role == "tool" and not message.tool_call_id:
        raise InvalidRequest(f"'messages[{i}].tool_call_id' is required for role 'tool'.",
                             param=f"messages.{i}.tool_call_id")
    if message.role != "tool" and message.tool_call_id is not None:
        raise InvalidRequest(f"'messages[{i}].tool_call_id' is only allowed on tool messages.",
                             param=f"messages.{i}.tool_call_id")
    return message.tool_call_id


def _call(param: str, item: dict[str, Any]) -> ToolCall:
    function = item.get("function")
    if item.get("type", "function") != "function" or not isinstance(function, dict):
        raise InvalidRequest(f"'{param}' must be {{'id', 'type': 'function', 'function': "
                             "{'name', 'arguments'}}.", param=param)
    name, arguments = function.get("name"), function.get("arguments", "{}")
    call_id = item.get("id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(f"'{param}.id' is required.", param=f"{param}.id")
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f"'{param}.function.name' is required.",
                             param=f"{param}.function.name")
    if not isinstance(arguments, str):
        raise InvalidRequest(f"'{param}.function.arguments' must be a JSON string.",
                             param=f"{param}.function.arguments")
    return ToolCall(call_id, name, arguments)
