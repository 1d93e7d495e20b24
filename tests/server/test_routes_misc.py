"""/v1/models, /health, /metrics, /openapi.json."""

from __future__ import annotations


async def test_list_models(client):
    body = (await client.get("/v1/models")).json()
    assert body["object"] == "list"
    (model,) = body["data"]
    assert model["id"] == "fake" and model["object"] == "model"
    assert isinstance(model["created"], int) and model["owned_by"] == "openmini"


async def test_retrieve_model(client):
    r = await client.get("/v1/models/fake")
    assert r.status_code == 200 and r.json()["id"] == "fake"
    r = await client.get("/v1/models/org/other")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "model_not_found"


async def test_health(client):
    body = (await client.get("/health")).json()
    assert body["status"] == "ok" and body["models"] == ["fake"]


async def test_metrics_after_requests(client):
    hello = {"model": "fake", "messages": [{"role": "user", "content": "Hi"}]}
    await client.post("/v1/chat/completions", json=hello)
    await client.post("/v1/chat/completions", json={**hello, "stream": True})
    await client.post("/v1/chat/completions", json={**hello, "temperature": 9})
    await client.get("/v1/models/fake")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    chat = 'endpoint="/v1/chat/completions"'
    assert f'openmini_requests_total{{{chat},status="200"}} 2.0' in text
    assert f'openmini_requests_total{{{chat},status="400"}} 1.0' in text
    assert 'openmini_requests_total{endpoint="/v1/models/{model_id:path}",status="200"} 1.0' \
        in text
    assert "openmini_prompt_tokens_total 14.0" in text
    assert "openmini_completion_tokens_total 4.0" in text
    assert "openmini_time_to_first_token_seconds_count 2.0" in text
    assert f"openmini_request_duration_seconds_count{{{chat}}} 3.0" in text
    assert "openmini_queue_depth 2.0" in text
    assert "openmini_running_sequences 3.0" in text
    assert "openmini_batch_size 5.0" in text
    assert "openmini_prefix_cache_hit_rate 0.75" in text


async def test_openapi(client):
    spec = (await client.get("/openapi.json")).json()
    assert "/v1/chat/completions" in spec["paths"]
    assert "/v1/completions" in spec["paths"]
    assert "ChatCompletionRequest" in spec["components"]["schemas"]
