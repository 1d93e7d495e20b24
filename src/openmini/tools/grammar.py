"""The grammar a local model's tool calls are generated under (hermes format, llguidance lark).

A call can only name a declared function, and its arguments can only be JSON that fits that
function's schema; `tool_choice` decides whether text may come first (`auto`), whether a call
is required, and `parallel_tool_calls` whether more than one may follow.

When `<tool_call>`/`</tool_call>` are single special tokens in the vocabulary (Qwen2.5) they are
named by id, and free text can never produce them by accident. Otherwise the tags are plain
text and the call is found with a lazy head (`TEXT "<tool_call>"`): the grammar lets anything
through until the tag is written, then enforces the call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from openmini.decoding.constraint import JSON_STYLE, Constraint, compose
from openmini.decoding.schema_rewrite import map_subschemas, rewrite
from openmini.tools.answered import Call, excluding
from openmini.tools.closing import closed
from openmini.tools.spec import ToolChoice, ToolSpec

OPEN, CLOSE = "<tool_call>", "</tool_call>"


@dataclass(frozen=True, slots=True)
class CallFormat:
    """How the tags are spelled for one vocabulary: token ids, or None for plain text."""

    open_id: int | None = None
    close_id: int | None = None

    @property
    def special(self) -> bool:
        return self.open_id is not None and self.close_id is not None


def call_schema(specs: Sequence[ToolSpec], answered: Sequence[Call] = ()
                ) -> dict[str, Any] | None:
    """`{"name": <one of the tools>, "arguments": <that tool's schema, closed>}`. A schema
    with local `$ref`s (pydantic's `$defs`) moves to `$defs/argsN` of the call schema, its
    refs re-pointed there: `#/$defs/Unit` would otherwise point at the call schema's root.
    `answered`: calls that may not be made again (tools/answered.py); None when no call is
    left.

    Cached on the tools' names and schemas (rewriting and closing ten pydantic tools takes
    about 3 ms, and a client sends the same tools with every request); the result is shared,
    read it only."""
    return _call_schema(tuple((spec.name, json.dumps(spec.parameters)) for spec in specs),
                        tuple(answered))


@lru_cache(maxsize=128)
def _call_schema(tools: tuple[tuple[str, str], ...], answered: tuple[Call, ...]
                 ) -> dict[str, Any] | None:
    defs: dict[str, Any] = {}
    options = []
    for i, (name, parameters) in enumerate(tools):
        arguments = closed(rewrite(json.loads(parameters)))
        made = [arguments for called, arguments in answered if called == name]
        if made:
            arguments = excluding(arguments, made)
            if arguments is False:  # every call it could make was made
                continue
        moved = _relocated(arguments, f"#/$defs/args{i}")
        if moved != arguments:  # it has local refs (a "$ref" in const/enum data is not one)
            defs[f"args{i}"] = moved
            arguments = {"$ref": f"#/$defs/args{i}"}
        options.append({
            "type": "object",
            "properties": {"name": {"const": name}, "arguments": arguments},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        })
    if not options:
        return None
    schema = options[0] if len(options) == 1 else {"anyOf": options}
    return {**schema, **({"$defs": defs} if defs else {}), "x-guidance": JSON_STYLE}


def _relocated(schema: Any, base: str) -> Any:
    """`schema` with each local `$ref` (`#...`) made relative to `base` instead of the root."""
    if not isinstance(schema, dict):
        return schema
    out = map_subschemas(schema, lambda _key, sub: _relocated(sub, base))
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#"):
        out["$ref"] = base + ref[1:]
    return out


def tool_constraint(specs: Sequence[ToolSpec], choice: ToolChoice, parallel: bool,
                    fmt: CallFormat, text: Constraint | None = None,
                    answered: Sequence[Call] = ()) -> Constraint:
    """The constraint for a request with tools; `choice.mode == "none"` allows text only.
    `text` (a response_format): what an answer that calls nothing must be. `answered`: calls
    already answered in this turn, which `auto` does not make again (tools/answered.py)."""
    allowed = choice.allowed(specs)
    again = answered if choice.mode == "auto" else ()
    spec = {
        "schema": call_schema(allowed, again) if allowed else None,
        "text_first": not choice.call_required,
        "parallel": parallel,
        "open": fmt.open_id,
        "close": fmt.close_id,
        "text": [text.kind, text.spec, text.param]
        if text is not None and not choice.call_required else None,
    }
    return Constraint("tool_calls", json.dumps(spec), "tools")  # keep key order


def build(spec_text: str) -> str:
    """Lark for a `tool_calls` constraint (registered in decoding.constraint.GRAMMARS)."""
    spec = json.loads(spec_text)
    if spec["schema"] is None:  # none, or no call left: text, and never a call tag
        if spec.get("text"):
            kind, text_spec, param = spec["text"]
            return compose("%llguidance {}\nstart: @text\n",
                           {"text": Constraint(kind, text_spec, param)})
        return "%llguidance {}\nstart: TEXT\nTEXT: /[^\\x00]*/\n"
    body = f"json_body: %json {json.dumps(spec['schema'])}\n"
    if spec.get("text"):
        return _formatted(spec, body)
    if spec["open"] is not None:
        return _special_tags(spec, body)
    return _text_tags(spec, body)


def _formatted(spec: dict[str, Any], body: str) -> str:
    """Calls, or an answer in the response format (no prose, no JSON-written calls: a JSON
    answer would be read as one)."""
    if spec["open"] is not None:
        call = f'tool_call: <[{spec["open"]}]> "\\n" json_body "\\n" <[{spec["close"]}]>\n'
    else:
        call = f'tool_call: "{OPEN}\\n" json_body "\\n{CLOSE}"\n'
    many = 'tool_call ("\\n" tool_call)*' if spec["parallel"] else "tool_call"
    top = f'%llguidance {{}}\nstart: @text | calls\ncalls: {many} "\\n"?\n{call}{body}'
    kind, text_spec, param = spec["text"]
    return compose(top, {"text": Constraint(kind, text_spec, param)})


# Small models that mean to call often open with a bare `{` or a ```json fence instead of the
# tag (Qwen2.5-Coder-0.5B: ``` at 68% as the first token on BFCL prompts). Those openings are
# calls too, constrained the same way: a bare call object (a list of them when parallel), or
# the same in a json fence. In auto mode prose may therefore not start with `{`, `[`,
# whitespace or a ```json fence (any other fence may open it: _CODE).
JSON_OPENERS = "{[`"  # the first characters of a call written as JSON (PROSE excludes them)


def _class_escape(chars: str) -> str:
    """`chars` written inside a lark regex character class: the class's own metacharacters
    escaped (a bare `[` or `]` would end or nest it)."""
    return "".join("\\" + c if c in "\\[]^-/" else c for c in chars)


# A code block may still open the answer (a coding model asked for code with tools on offer
# writes ``` first): a fence whose info string is anything but `json` (```python), or a bare
# fence whose first line does not open JSON, is prose. Only ```json holds calls.
_NOT_JSON = (r"[^j`\s][^`\n]*|j([^s`\n][^`\n]*)?|js([^o`\n][^`\n]*)?"
             r"|jso([^n`\n][^`\n]*)?|json[^`\n]+")  # an info string other than `json`
_CODE = f"```({_NOT_JSON})\\n|```\\n[^{{\\[\\x00 \\t\\r\\n]"
PROSE = f"/([^{_class_escape(JSON_OPENERS)}\\x00 \\t\\r\\n]|{_CODE})[^\\x00]*/"


# A call written as JSON is laid out the way the model lays it out (indented, one key per
# line, as in a ```json fence it writes unasked), not forced onto one line: the forced layout
# is off the model's path and moves the values it picks. The whitespace between tokens is
# bounded (a newline and 32 spaces at most), so it cannot loop.
GAP = r"\n {0,32}| {1,32}"
JSON_LAYOUT: dict[str, Any] = {"whitespace_flexible": True, "whitespace_pattern": GAP,
                               "item_separator": ",", "key_separator": ":"}


def _json_call(schema: dict[str, Any], parallel: bool) -> str:
    """A call written as JSON, in the model's layout: bare or in a json fence. When parallel
    calls are allowed, always a list: once a list is open the model goes on to a second call
    where one is due (BFCL parallel on fast: 0 -> 35%), where a lone object ends at its
    closing brace."""
    calls = '"[" WS? json_laid ("," WS? json_laid)* WS? "]"' if parallel else "json_laid"
    laid = {**schema, "x-guidance": JSON_LAYOUT}
    return (f"json_calls: {calls}\n"
            'json_call: json_calls | "```json\\n" json_calls "\\n```"\n'
            f"json_laid: %json {json.dumps(laid)}\n"
            f"WS: /{GAP}/\n")


# Prose that ends by opening a ```json fence goes on with a call in it: small models explain
# first, then call ("Here's how you can call this function:\n\n```json\n{..."); the
# splitter's twin is tools/stream.py FENCE.
def _special_tags(spec: dict[str, Any], body: str) -> str:
    many = 'tool_call ("\\n" tool_call)*' if spec["parallel"] else "tool_call"
    head = ("start: TEXT | TEXT? calls | json_call | fence_hd json_calls \"\\n```\"\n"
            'fence_hd[lazy]: TEXT "```json\\n"\n' if spec["text_first"]
            else "start: calls | json_call\n")
    return (f"%llguidance {{}}\n{head}{_json_call(spec['schema'], spec['parallel'])}"
            f'calls: {many} "\\n"?\n'
            f'tool_call: <[{spec["open"]}]> "\\n" json_body "\\n" <[{spec["close"]}]>\n'
            f"{body}TEXT: {PROSE}\n")


def _text_tags(spec: dict[str, Any], body: str) -> str:
    if spec["text_first"]:
        count = "call*" if spec["parallel"] else "call?"
        return ("%llguidance {}\n"
                f"start: {count} tail\ntail: TEXT\nTEXT: /(.|\\n)*/\n"
                f'call_hd[lazy]: TEXT "{OPEN}"\n'
                f'call: call_hd "\\n" json_body "\\n{CLOSE}"\n{body}')
    many = 'call ("\\n" call)*' if spec["parallel"] else "call"
    return ("%llguidance {}\n"
            f'start: {many} "\\n"?\n'
            f'call: "{OPEN}\\n" json_body "\\n{CLOSE}"\n{body}')
