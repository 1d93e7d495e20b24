from __future__ import annotations

import dataclasses

import pytest

from openmini.config import ServerConfig

HELLO = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def config() -> ServerConfig:
    return dataclasses.replace(ServerConfig(), api_key="s3cret")


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic s3cret"},
                                     {"Authorization": "s3cret"}])
async def test_rejected_without_key(client, backend, headers):
    for method, path in [("POST", "/v1/chat/completions"), ("GET", "/v1/models"),
                         ("GET", "/metrics")]:
        r = await client.request(method, path, json=HELLO, headers=headers)
        assert r.status_code == 401, path
        error = r.json()["error"]
        assert error["type"] == "authentication_error"
        assert "s3cret" not in r.text
    assert backend.requests == []


async def test_accepted_with_key(client):
    headers = {"Authorization": "Bearer s3cret"}
    r = await client.post("/v1/chat/completions", json=HELLO, headers=headers)
    assert r.status_code == 200
    assert (await client.get("/metrics", headers=headers)).status_code == 200
    r = await client.get("/v1/models", headers={"authorization": "bearer s3cret"})
    assert r.status_code == 200


async def test_health_stays_open(client):
    assert (await client.get("/health")).status_code == 200


async def test_401_before_body_parsing(client):
    r = await client.post("/v1/chat/completions", content=b"{broken")
    assert r.status_code == 401


async def test_401s_are_counted(client):
    await client.get("/v1/models")
    text = (await client.get("/metrics", headers={"Authorization": "Bearer s3cret"})).text
    assert 'openmini_requests_total{endpoint="/v1/models",status="401"} 1.0' in text
