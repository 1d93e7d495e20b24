"""POST /v1/code/outline over HTTP."""

from __future__ import annotations

import httpx
import pytest


async def test_outline_with_language(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/code/outline", json={
        "code": "class A:\n    def m(self):\n        pass\n", "language": "py"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["language"] == "python" and body["diagnostics"] == []
    assert body["symbols"] == [
        {"kind": "class", "name": "A", "start": {"line": 1, "column": 1},
         "end": {"line": 3, "column": 13}, "parent": None},
        {"kind": "method", "name": "m", "start": {"line": 2, "column": 5},
         "end": {"line": 3, "column": 13}, "parent": "A"}]


async def test_outline_detects_the_language_and_reports_errors(
        client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/code/outline", json={
        "code": "package main\n\nfunc main() {\n\tx := 1\n"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["language"] == "go"
    assert [s["name"] for s in body["symbols"]] == ["main"]
    assert body["diagnostics"][0]["message"] == "missing `}`"


@pytest.mark.parametrize(("body", "param"), [
    ({"code": "x", "language": "klingon"}, "language"),
    ({"code": "x\u0000y"}, "code"),
    ({"code": "x" * ((1 << 20) + 1), "language": "python"}, "code"),
    ({"code": 3}, "code"),
    ({"language": "python"}, "code"),
    ({"code": "x", "languages": ["python"]}, "languages"),
])
async def test_bad_requests_name_the_field(client: httpx.AsyncClient, body: dict[str, object],
                                           param: str) -> None:
    r = await client.post("/v1/code/outline", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param


EQ_A = ("def f(items):\n    total = 0\n    for item in items:\n        total += item\n"
        "    return total\n")
EQ_B = "def f(xs):  # renamed\n    acc = 0\n    for x in xs: acc += x\n    return acc\n"


async def test_equivalent_reformatted_and_renamed(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/code/equivalent", json={"a": EQ_A, "b": EQ_B, "language": "py"})
    assert r.status_code == 200, r.text
    assert r.json() == {"equivalent": True, "difference": None}


async def test_equivalent_reports_the_first_difference(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/code/equivalent", json={
        "a": EQ_A, "b": EQ_B.replace("acc += x", "acc -= x")})  # language detected from a
    assert r.status_code == 200, r.text
    assert r.json() == {"equivalent": False, "difference": {
        "kind": "text",
        "a": {"start": {"line": 4, "column": 15}, "end": {"line": 4, "column": 17}},
        "b": {"start": {"line": 3, "column": 22}, "end": {"line": 3, "column": 24}}}}


async def test_equivalent_syntax_error(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/code/equivalent", json={
        "a": EQ_A, "b": "def f(:\n", "language": "python"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["equivalent"] is False and body["difference"]["kind"] == "syntax"
    assert body["difference"]["a"]["start"] == {"line": 1, "column": 1}


@pytest.mark.parametrize(("body", "param"), [
    ({"a": "x", "b": "x", "language": "klingon"}, "language"),
    ({"a": "x\u0000y", "b": "x"}, "a"),
    ({"a": "x", "b": "x\u0000y", "language": "python"}, "b"),
    ({"a": "x", "b": "x" * ((1 << 20) + 1), "language": "python"}, "b"),
    ({"a": 3, "b": "x"}, "a"),
    ({"a": "x"}, "b"),
    ({"a": "x", "b": "x", "code": "x"}, "code"),
])
async def test_equivalent_bad_requests_name_the_field(client: httpx.AsyncClient,
                                                      body: dict[str, object],
                                                      param: str) -> None:
    r = await client.post("/v1/code/equivalent", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["param"] == param
