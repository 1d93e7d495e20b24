"""`openmini serve` with several local models and a group, through the openai SDK: each
model listed and answering as itself, a group answering through a member, and every
response saying where it went (`model` and x-openmini-route)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from .conftest import serve

pytestmark = pytest.mark.model

CONFIG = """
[[providers]]
name = "ghost"
kind = "openai"
base_url = "http://127.0.0.1:9/v1"
models = { "ghost" = "nobody" }
health_interval_s = 0.1

[[groups]]
name = "chat"
members = ["tiny"]
fallbacks = ["fast"]

[auto]
easy = "tiny"
hard = "fast"
hard_prompt_chars = 200
"""


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    config = tmp_path_factory.mktemp("routing") / "openmini.toml"
    config.write_text(CONFIG)
    with serve("tiny", "--model", "fast", "--config", str(config), "--parallel", "1",
               "--ctx-size", "1024") as url:
        yield url


def test_every_model_and_the_group_are_listed(base_url: str) -> None:
    ids = [m["id"] for m in httpx.get(f"{base_url}/v1/models").json()["data"]]
    assert {"tiny", "fast", "chat", "auto"} <= set(ids)


@pytest.mark.parametrize("model", ["tiny", "fast"])
def test_each_local_model_answers_as_itself(base_url: str, model: str) -> None:
    r = httpx.post(f"{base_url}/v1/chat/completions", timeout=120, json={
        "model": model, "messages": [{"role": "user", "content": "Say hi."}],
        "max_tokens": 4, "temperature": 0})
    assert r.status_code == 200 and r.json()["model"] == model
    assert r.headers["x-openmini-route"] == f"deployment={model}; reason=primary"


def test_a_group_answers_through_its_member_streaming_too(base_url: str) -> None:
    client = openai.OpenAI(base_url=f"{base_url}/v1", api_key="x")
    raw = client.chat.completions.with_raw_response.create(
        model="chat", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4)
    assert raw.headers["x-openmini-route"] == "group=chat; deployment=tiny; reason=primary"
    assert raw.parse().model == "tiny"
    with client.chat.completions.with_streaming_response.create(
            model="chat", messages=[{"role": "user", "content": "Say hi."}], max_tokens=4,
            stream=True) as response:
        assert response.headers["x-openmini-route"].startswith("group=chat; deployment=tiny")
        chunks = list(response.parse())
    assert chunks and all(c.model == "tiny" for c in chunks)


def test_an_unknown_model_is_still_a_404(base_url: str) -> None:
    r = httpx.post(f"{base_url}/v1/chat/completions", json={
        "model": "nope", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404


def test_a_bad_group_config_fails_at_start(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[[groups]]\nname = "g"\nmembers = ["tiny"]\nbogus = 1\n')
    with pytest.raises(RuntimeError, match="bogus"), serve("tiny", "--config", str(config)):
        pass


def test_metrics_count_each_deployment(base_url: str) -> None:
    httpx.post(f"{base_url}/v1/chat/completions", timeout=120, json={
        "model": "chat", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    text = httpx.get(f"{base_url}/metrics").text
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
             if line.startswith("openmini_deployment_")}
    assert lines['openmini_deployment_requests_total{deployment="tiny"}'] >= 1
    assert lines['openmini_deployment_breaker_state{deployment="tiny",state="closed"}'] == 1.0
    assert lines['openmini_deployment_tokens_total{deployment="tiny",type="completion"}'] >= 1
    assert 'openmini_deployment_outstanding{deployment="fast"}' in lines


def test_auto_sends_easy_and_hard_requests_apart(base_url: str) -> None:
    def route(body: dict[str, object], **headers: str) -> httpx.Response:
        return httpx.post(f"{base_url}/v1/chat/completions", headers=headers, timeout=120,
                          json={"model": "auto", "max_tokens": 100, **body})

    easy = route({"messages": [{"role": "user", "content": "hi"}]})
    assert easy.json()["model"] == "tiny"
    assert easy.headers["x-openmini-route"] == "deployment=tiny; reason=auto:easy"
    short = route({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8})
    assert short.headers["x-openmini-route"] == "deployment=fast; reason=auto:short"
    hard = route({"messages": [{"role": "user", "content": "x " * 150}]})
    assert hard.headers["x-openmini-route"] == "deployment=fast; reason=auto:long"
    bad = route({"messages": [{"role": "user", "content": "hi"}]},
                **{"x-openmini-max-latency-ms": "soon"})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "x-openmini-max-latency-ms"


def test_a_dead_upstream_is_taken_out_by_health_checks_alone(base_url: str) -> None:
    """No request has gone to `ghost` (nothing listens on port 9): its health checks open
    its breaker."""
    import time

    state = 'openmini_deployment_breaker_state{deployment="ghost",state="open"} 1.0'
    for _ in range(100):
        if state in httpx.get(f"{base_url}/metrics").text:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the ghost upstream's breaker never opened")
    r = httpx.post(f"{base_url}/v1/chat/completions", json={
        "model": "ghost", "messages": [{"role": "user", "content": "hi"}]}, timeout=30)
    assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"


def test_the_anthropic_edge_says_where_it_went_too(base_url: str) -> None:
    body = {"model": "chat", "max_tokens": 4,
            "messages": [{"role": "user", "content": "Say hi."}]}
    r = httpx.post(f"{base_url}/v1/messages", json=body, timeout=120)
    assert r.status_code == 200 and r.json()["model"] == "tiny"
    assert r.headers["x-openmini-route"] == "group=chat; deployment=tiny; reason=primary"
    with httpx.stream("POST", f"{base_url}/v1/messages", json={**body, "stream": True},
                      timeout=120) as s:
        assert s.headers["x-openmini-route"].startswith("group=chat; deployment=tiny")
        start = next(line for line in s.iter_lines() if line.startswith("data: "))
    assert '"model": "tiny"' in start or '"model":"tiny"' in start
