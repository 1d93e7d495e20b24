"""`response_format` and `structured_outputs` become one `Request.constraint` (fake backend)."""

from __future__ import annotations

import json

import pytest

from openmini.decoding.constraint import Constraint

CHAT = "/v1/chat/completions"
TEXT = "/v1/completions"
HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}
SCHEMA = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}


async def constraint_of(client, backend, url: str, body: dict) -> Constraint | None:
    r = await client.post(url, json=body)
    assert r.status_code == 200, r.text
    return backend.requests[-1].constraint


async def test_response_format_kinds(client, backend):
    assert await constraint_of(client, backend, CHAT, HELLO) is None
    text = {**HELLO, "response_format": {"type": "text"}}
    assert await constraint_of(client, backend, CHAT, text) is None
    obj = await constraint_of(client, backend, CHAT,
                              {**HELLO, "response_format": {"type": "json_object"}})
    assert obj == Constraint.json_object("response_format")
    fmt = {"type": "json_schema", "json_schema": {"name": "thing", "schema": SCHEMA,
                                                   "strict": True}}
    c = await constraint_of(client, backend, CHAT, {**HELLO, "response_format": fmt})
    assert c is not None and c.kind == "json_schema" and json.loads(c.spec) == SCHEMA
    assert c.param == "response_format.json_schema.schema"


@pytest.mark.parametrize(("so", "kind"), [
    ({"json": SCHEMA}, "json_schema"), ({"json": json.dumps(SCHEMA)}, "json_schema"),
    ({"regex": "[a-z]+"}, "regex"), ({"choice": ["x", "y"]}, "choice"),
    ({"grammar": 'start: "x"'}, "grammar"),
])
async def test_structured_outputs_kinds(client, backend, so, kind):
    for url, body in ((CHAT, HELLO), (TEXT, {"model": "fake", "prompt": "Hi"})):
        c = await constraint_of(client, backend, url, {**body, "structured_outputs": so})
        assert c is not None and c.kind == kind
        assert c.param == f"structured_outputs.{next(iter(so))}"


@pytest.mark.parametrize(("extra", "param"), [
    ({"structured_outputs": {}}, "structured_outputs"),
    ({"structured_outputs": {"regex": "a", "grammar": "b"}}, "structured_outputs"),
    ({"structured_outputs": {"json": "{not json"}}, "structured_outputs.json"),
    ({"structured_outputs": {"json": {"type": "object", "minProperties": -1}}},
     "structured_outputs.json"),
    ({"structured_outputs": {"choice": []}}, "structured_outputs.choice"),
    ({"structured_outputs": {"regex": "a"}, "response_format": {"type": "json_object"}},
     "structured_outputs"),
    ({"response_format": {"type": "json_schema"}}, "response_format.json_schema.schema"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "bad name!",
                                                                  "schema": SCHEMA}}},
     "response_format.json_schema.name"),
    ({"response_format": {"type": "xml"}}, "response_format.type"),
])
async def test_bad_constraint_params_are_400(client, backend, extra, param):
    r = await client.post(CHAT, json={**HELLO, **extra})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
    assert not backend.requests
