"""The tool-call grammar (tools/grammar.py) on a real vocabulary: what it lets through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from openmini.decoding.compiler import GrammarCompiler
from openmini.tools.grammar import CallFormat, tool_constraint
from openmini.tools.spec import ToolChoice, ToolSpec

SPECS = (
    ToolSpec("get_weather", "", {"type": "object", "properties": {"city": {"type": "string"}},
                                 "required": ["city"]}),
    ToolSpec("add", "", {"type": "object", "properties": {"a": {"type": "integer"},
                                                          "b": {"type": "integer"}},
                         "required": ["a", "b"]}),
)
CALL = '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>'
CASES = {
    "text": "Hello there.",
    "call": CALL,
    "text+call": "Sure.\n" + CALL,
    "two": CALL + "\n" + CALL,
    "unknown function": CALL.replace('"add"', '"sub"'),
    "bad arguments": CALL.replace("1", '"one"'),
    "swapped keys": '<tool_call>\n{"arguments": {"a": 1, "b": 2}, "name": "add"}\n</tool_call>',
}


def accepts(compiler: GrammarCompiler, tokenizer: Any, mode: str, parallel: bool,
            fmt: CallFormat, text: str, name: str | None = None) -> bool:
    matcher = compiler.matcher(tool_constraint(SPECS, ToolChoice(mode, name), parallel, fmt))  # type: ignore[arg-type]
    tokens = tokenizer.tokenize_str(text, parse_special=fmt.special)
    return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())


@pytest.mark.parametrize(("mode", "parallel", "allowed"), [
    ("auto", True, {"text", "call", "text+call", "two"}),
    # plain-text tags: after the call the tail is free text, which may spell another call; the
    # stage rejects a second call when parallel_tool_calls is false (special tags cannot)
    ("auto", False, {"text", "call", "text+call", "two"}),
    ("required", False, {"call"}),
    ("required", True, {"call", "two"}),
])
def test_plain_text_tags(compiler: GrammarCompiler, tokenizer: Any, mode: str,
                         parallel: bool, allowed: set[str]) -> None:
    got = {name for name, text in CASES.items()
           if accepts(compiler, tokenizer, mode, parallel, CallFormat(), text)}
    assert got == allowed


def test_named_function_only(compiler: GrammarCompiler, tokenizer: Any) -> None:
    ok = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>'
    assert accepts(compiler, tokenizer, "function", False, CallFormat(), ok, "get_weather")
    assert not accepts(compiler, tokenizer, "function", False, CallFormat(), CALL, "get_weather")


def test_special_token_tags(compiler: GrammarCompiler, tokenizer: Any) -> None:
    # tiny has no <tool_call> token: stand its <|im_start|>/<|im_end|> (ids 1, 2) in for them
    fmt = CallFormat(1, 2)
    call = CALL.replace("<tool_call>", "<|im_start|>").replace("</tool_call>", "<|im_end|>")
    assert accepts(compiler, tokenizer, "required", False, fmt, call)
    assert accepts(compiler, tokenizer, "auto", True, fmt, "Sure.\n" + call)
    assert accepts(compiler, tokenizer, "auto", True, fmt, "Hello there.")
    # auto mode: a call may also open as bare JSON or a json fence, constrained all the same;
    # JSON that is not a valid call, or prose opening with whitespace, cannot get out
    bare = CALL.split("\n")[1]
    assert accepts(compiler, tokenizer, "auto", False, fmt, bare)
    assert accepts(compiler, tokenizer, "auto", False, fmt, f"```json\n{bare}\n```")
    # with parallel calls allowed, JSON-written calls are always a list (of one, or more)
    assert not accepts(compiler, tokenizer, "auto", True, fmt, bare)
    assert accepts(compiler, tokenizer, "auto", True, fmt, f"```json\n[{bare}]\n```")
    # arguments are the declared parameters only: no extra key, though the schema is open
    extra = bare.replace('"b": 2}', '"b": 2, "c": 3}')
    assert not accepts(compiler, tokenizer, "auto", False, fmt, extra)
    assert not accepts(compiler, tokenizer, "auto", True, fmt, '{"name": "add"}')
    assert not accepts(compiler, tokenizer, "auto", True, fmt, "```json\n{}\n```")
    assert not accepts(compiler, tokenizer, "auto", True, fmt, bare.replace("1", '"x"'))
    assert not accepts(compiler, tokenizer, "auto", True, fmt, " {}")
    # several calls as a JSON list, only when parallel calls are allowed; required mode
    # takes the JSON forms too
    listed = f"[{bare}, {bare}]"
    assert accepts(compiler, tokenizer, "auto", True, fmt, listed)
    assert accepts(compiler, tokenizer, "required", True, fmt, f"```json\n{listed}\n```")
    assert not accepts(compiler, tokenizer, "auto", False, fmt, listed)
    assert accepts(compiler, tokenizer, "required", False, fmt, bare)
    assert not accepts(compiler, tokenizer, "required", False, fmt, CALL)  # text tags: no
    # prose that opens a ```json fence goes on with a call in it, and ends with the fence
    for par, calls in ((False, bare), (True, f"[{bare}]")):
        assert accepts(compiler, tokenizer, "auto", par, fmt, f"Call it:\n\n```json\n{calls}\n```")
        assert not accepts(compiler, tokenizer, "auto", par, fmt,
                           f"Call it:\n```json\n{calls}\n```\nDone.")
    assert not accepts(compiler, tokenizer, "auto", False, fmt, 'See:\n```json\n{"a": 1}\n```')
    assert accepts(compiler, tokenizer, "auto", False, fmt, "Run:\n```python\nprint(1)\n```")


@pytest.mark.parametrize("parallel", [False, True])
def test_an_answer_may_open_with_a_code_block(compiler: GrammarCompiler, tokenizer: Any,
                                              parallel: bool) -> None:
    """Asked for code with tools on offer, the model writes ``` first: any fence but ```json
    is prose, and only ```json holds calls."""
    fmt = CallFormat(1, 2)
    for info in ("python", "js", "jsx", "j", "json5", "c++", ""):
        code = f"```{info}\nprint(1)\n```\nThat prints 1."
        assert accepts(compiler, tokenizer, "auto", parallel, fmt, code), info
    call = CALL.replace("<tool_call>", "<|im_start|>").replace("</tool_call>", "<|im_end|>")
    assert accepts(compiler, tokenizer, "auto", parallel, fmt, f"```python\nx = 1\n```\n{call}")
    # a fence that would hold JSON is a call or nothing
    assert not accepts(compiler, tokenizer, "auto", parallel, fmt, '```json\n{"a": 1}\n```')
    for body in ('{"a": 1}', "[1]", "  {}", "\n{}"):
        assert not accepts(compiler, tokenizer, "auto", parallel, fmt, f"```\n{body}\n```")
    assert not accepts(compiler, tokenizer, "required", parallel, fmt, "```python\nx\n```")


def test_json_written_calls_keep_the_models_layout(compiler: GrammarCompiler,
                                                  tokenizer: Any) -> None:
    """A call the model writes as JSON may be indented the way it indents it unasked, but the
    whitespace between two tokens is bounded: it cannot run on."""
    fmt = CallFormat(1, 2)
    call = {"name": "add", "arguments": {"a": 1, "b": 2}}
    for indent in (2, 4):
        laid = json.dumps(call, indent=indent)
        assert accepts(compiler, tokenizer, "auto", False, fmt, f"```json\n{laid}\n```")
        listed = json.dumps([call], indent=indent)
        assert accepts(compiler, tokenizer, "required", True, fmt, listed)
    assert accepts(compiler, tokenizer, "auto", False, fmt, json.dumps(call, separators=(",", ":")))
    assert not accepts(compiler, tokenizer, "auto", False, fmt,
                       '{"name": "add",' + " " * 40 + '"arguments": {"a": 1, "b": 2}}')
    assert not accepts(compiler, tokenizer, "auto", False, fmt,
                       '{"name": "add",\n\n"arguments": {"a": 1, "b": 2}}')
    # the tag form keeps the template's one-line layout
    tagged = CALL.replace("<tool_call>", "<|im_start|>").replace("</tool_call>", "<|im_end|>")
    assert not accepts(compiler, tokenizer, "required", False, fmt,
                       tagged.replace('{"name"', '{\n  "name"'))


def test_choice_none_never_calls(compiler: GrammarCompiler, tokenizer: Any) -> None:
    fmt = CallFormat(1, 2)
    call = CALL.replace("<tool_call>", "<|im_start|>").replace("</tool_call>", "<|im_end|>")
    assert accepts(compiler, tokenizer, "none", True, fmt, "Just text.")
    assert not accepts(compiler, tokenizer, "none", True, fmt, call)


ANSWER = {"type": "object", "properties": {"reply": {"type": "string"}},
          "required": ["reply"], "additionalProperties": False}
FORMATTED = {
    **CASES,
    "json answer": '{"reply": "hi"}',
    "wrong json answer": '{"other": "hi"}',
    "bare call": '{"name": "add", "arguments": {"a": 1, "b": 2}}',
}


def accepts_with_format(compiler: GrammarCompiler, tokenizer: Any, mode: str, fmt: CallFormat,
                        text: str) -> bool:
    from openmini.decoding.constraint import Constraint

    answer = Constraint.json_schema(ANSWER, "response_format")
    matcher = compiler.matcher(tool_constraint(SPECS, ToolChoice(mode), True, fmt, answer))  # type: ignore[arg-type]
    tokens = tokenizer.tokenize_str(text, parse_special=fmt.special)
    return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())


@pytest.mark.parametrize(("fmt", "mode", "allowed"), [
    (CallFormat(), "auto", {"json answer", "call", "two"}),
    (CallFormat(), "required", {"call", "two"}),  # a required call ignores the format
])
def test_response_format_with_tools(compiler: GrammarCompiler, tokenizer: Any,
                                    fmt: CallFormat, mode: str, allowed: set[str]) -> None:
    got = {name for name, text in FORMATTED.items()
           if accepts_with_format(compiler, tokenizer, mode, fmt, text)}
    assert got == allowed


def test_parameters_with_local_refs_and_dependencies(compiler: GrammarCompiler,
                                                     tokenizer: Any) -> None:
    """pydantic writes nested models and enums as `$defs` + `$ref`: the refs point into the
    parameters, not the call schema around them, and are enforced there."""
    params = {"type": "object", "$defs": {"Unit": {"enum": ["c", "f"]}},
              "properties": {"unit": {"$ref": "#/$defs/Unit"}, "city": {"type": "string"},
                             "tree": {"$ref": "#/$defs/Node"}},
              "dependentRequired": {"city": ["unit"]}, "required": ["unit"]}
    params["$defs"]["Node"] = {"type": "object", "properties": {  # type: ignore[index]
        "kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}}}
    specs = (ToolSpec("w", "", params), SPECS[1])

    def ok(arguments: str) -> bool:
        matcher = compiler.matcher(tool_constraint(specs, ToolChoice("required"), False,
                                                   CallFormat()))
        text = f'<tool_call>\n{{"name": "w", "arguments": {arguments}}}\n</tool_call>'
        tokens = tokenizer.tokenize_str(text, parse_special=False)
        return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())

    assert ok('{"unit": "c"}') and ok('{"unit": "f", "city": "Oslo"}')
    assert ok('{"unit": "c", "tree": {"kids": [{"kids": []}]}}')
    assert not ok('{"unit": "k"}') and not ok('{"unit": "c", "tree": {"kids": [1]}}')
    assert not ok('{"city": "Oslo"}')
