"""The in-process Python API over the real `tiny` model."""

from __future__ import annotations

import json

import pytest

from openmini.api import AsyncOpenMini, OpenMini
from openmini.errors import ModelNotFound

pytestmark = pytest.mark.model


def test_sync_chat_stream_and_complete() -> None:
    with OpenMini(model="tiny", threads=2, parallel=2, ctx_size=1024) as om:
        out = om.chat("Name a fruit.", max_tokens=8, temperature=0)
        assert out.text and out.choices[0].finish_reason in {"stop", "length"}
        again = "".join(om.stream("Name a fruit.", max_tokens=8, temperature=0))
        assert again == out.text
        done = om.complete("Once upon a time", max_tokens=4, ignore_eos=True, temperature=0)
        assert done.usage.completion_tokens == 4


async def test_async_priority_and_deadline_reach_the_request() -> None:
    om = AsyncOpenMini("tiny", threads=2, parallel=1, ctx_size=1024)
    try:
        req = om.request("hi", priority=3, deadline=5.0, stop="x", max_tokens=2)
        assert req.priority == 3 and req.deadline is not None and req.sampling.stop == ("x",)
        out = await om.chat([{"role": "user", "content": "hi"}], max_tokens=2, ignore_eos=True)
        assert out.usage.completion_tokens == 2
    finally:
        await om.close()


async def test_structured_output_and_tools_through_the_api() -> None:
    om = AsyncOpenMini("tiny", threads=2, parallel=1, ctx_size=1024)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"],
              "additionalProperties": False}
    tool = {"type": "function", "function": {"name": "pick", "parameters": schema}}
    try:
        out = await om.chat("A number, as JSON.", max_tokens=30, temperature=0,
                            response_format={"type": "json_schema",
                                             "json_schema": {"name": "n", "schema": schema}})
        assert set(json.loads(out.text)) == {"n"}
        called = await om.chat("Pick a number.", tools=[tool], tool_choice="required",
                               parallel_tool_calls=False, max_tokens=40, temperature=0)
        [call] = called.choices[0].tool_calls
        assert call.name == "pick" and set(json.loads(call.arguments)) == {"n"}
        assert called.choices[0].finish_reason == "tool_calls"
    finally:
        await om.close()


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ModelNotFound):
        OpenMini(model="no-such-alias")


def test_request_takes_suffix_fim_check_and_code_check() -> None:
    from openmini.api import AsyncOpenMini
    from openmini.code.check import CodeCheck
    from openmini.code.fim import FimCheck
    from openmini.errors import InvalidRequest
    from server.fake_backend import FakeBackend

    om = AsyncOpenMini(backend=FakeBackend())
    request = om.request(prompt="def f():\n    return ", suffix="\n", fim_check=True,
                         language="py", code_check={"mode": "repair", "languages": ["go"]})
    assert request.suffix == "\n" and request.fim_check == FimCheck("python")
    assert request.code_check == CodeCheck("repair", ("go",), 2)
    assert om.request(prompt="x", suffix="").suffix is None  # "" is no suffix, as OpenAI has it
    for kwargs, param in [({"fim_check": True}, "fim_check"),
                          ({"code_check": {"mode": "repair", "tries": 3}}, "code_check.tries")]:
        with pytest.raises(InvalidRequest) as info:
            om.request(prompt="x", **kwargs)
        assert info.value.param == param
