"""A body past max_body_bytes is a 413 in the error envelope (server/body_limit.py), with or
without a Content-Length, and a body under it goes through."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from openmini.config import ServerConfig

from .test_validation import CHAT, HELLO, error_of


@pytest.fixture
def config() -> ServerConfig:
    return ServerConfig(max_body_bytes=2000)


async def test_a_declared_length_over_the_limit_is_refused_at_once(client, backend) -> None:
    big = {**HELLO, "messages": [{"role": "user", "content": "x" * 5000}]}
    error = error_of(await client.post(CHAT, json=big), status=413)
    assert error["code"] == "request_too_large" and "2000" in error["message"]
    assert backend.requests == []


async def test_a_chunked_body_over_the_limit_is_refused(client, backend) -> None:
    body = json.dumps({**HELLO, "messages": [{"role": "user", "content": "y" * 5000}]}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for k in range(0, len(body), 500):
            yield body[k:k + 500]

    r = await client.post(CHAT, content=chunks(), headers={"content-type": "application/json"})
    error_of(r, status=413)
    assert backend.requests == []


async def test_a_body_under_the_limit_goes_through(client, backend) -> None:
    r = await client.post(CHAT, json=HELLO)
    assert r.status_code == 200, r.text
    body = json.dumps(HELLO).encode()

    async def one() -> AsyncIterator[bytes]:
        yield body

    r = await client.post(CHAT, content=one(), headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    assert len(backend.requests) == 2


def test_the_limit_is_a_setting() -> None:
    from openmini.config import load_config

    assert load_config(env={"OPENMINI_MAX_BODY_BYTES": "1024"}).max_body_bytes == 1024
    assert ServerConfig().max_body_bytes == 64 * 1024 * 1024
    with pytest.raises(ValueError, match="max_body_bytes"):
        ServerConfig(max_body_bytes=0)
