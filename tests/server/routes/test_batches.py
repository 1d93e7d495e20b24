"""The Batches API end to end: the official `openai` SDK against the real app under uvicorn
(lifespan included, so the runner runs), a FakeBackend behind it; and one batch on the real
`tiny` model."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig, ServerConfig

from ..fake_backend import FakeBackend
from .serving import serving

CHAT = "/v1/chat/completions"
WAIT_S = 60.0
TERMINAL = {"completed", "failed", "expired", "cancelled"}


def chat_line(custom_id: str, content: str = "Hi", **extra: Any) -> dict[str, Any]:
    return {"custom_id": custom_id, "method": "POST", "url": CHAT,
            "body": {"model": "fake", "messages": [{"role": "user", "content": content}],
                     **extra}}


def jsonl(lines: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(line).encode() + b"\n" for line in lines)


class Server:
    def __init__(self, url: str, backend: FakeBackend | LocalBackend, api_key: str = "unused"):
        self.url = url
        self.backend = backend
        self.sdk = openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0)

    def upload(self, data: bytes | list[dict[str, Any]], purpose: str = "batch") -> str:
        content = data if isinstance(data, bytes) else jsonl(data)
        created = self.sdk.files.create(file=("input.jsonl", io.BytesIO(content)),
                                        purpose=purpose)  # type: ignore[arg-type]
        return created.id

    def submit(self, data: bytes | list[dict[str, Any]], endpoint: str = CHAT,
               **kwargs: Any) -> Any:
        kwargs.setdefault("completion_window", "24h")
        return self.sdk.batches.create(input_file_id=self.upload(data), endpoint=endpoint,
                                       **kwargs)

    def wait(self, batch_id: str, until: Callable[[Any], bool] | None = None) -> Any:
        deadline = time.monotonic() + WAIT_S
        while True:
            batch = self.sdk.batches.retrieve(batch_id)
            if (until or (lambda b: b.status in TERMINAL))(batch):
                return batch
            assert time.monotonic() < deadline, f"the batch did not get there: {batch}"
            time.sleep(0.02)

    def lines(self, file_id: str | None) -> list[dict[str, Any]]:
        assert file_id is not None
        return [json.loads(x) for x in self.sdk.files.content(file_id).read().splitlines()]


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """start(backend=None, **config) -> a Server (data in tmp_path)."""
    running: list[Any] = []

    def go(backend: Any = None, api_key: str = "unused", **overrides: Any) -> Server:
        backend = FakeBackend() if backend is None else backend
        config = ServerConfig(**{"data_dir": str(tmp_path / "data"), **overrides})
        cm = serving(config, backend)
        running.append(cm)
        return Server(cm.__enter__(), backend, api_key)

    yield go
    for cm in reversed(running):
        cm.__exit__(None, None, None)


@pytest.fixture
def server(start: Callable[..., Server]) -> Server:
    return start()


def error_of(exc: pytest.ExceptionInfo[openai.APIStatusError], status: int) -> dict[str, Any]:
    assert exc.value.status_code == status, exc.value.response.text
    error: dict[str, Any] = exc.value.response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return error


# --- the happy path --------------------------------------------------------------------------


def test_upload_create_poll_download(server: Server) -> None:
    good = [chat_line("a"), chat_line("b", "Bye"), chat_line("dup1", "Same", temperature=0),
            chat_line("dup2", "Same", temperature=0)]
    created = server.submit(good, metadata={"project": "tickets"})
    assert created.object == "batch" and created.id.startswith("batch_")
    assert created.status == "validating" and created.endpoint == CHAT
    assert created.completion_window == "24h" and created.metadata == {"project": "tickets"}
    batch = server.wait(created.id)
    assert batch.status == "completed", batch
    assert batch.request_counts is not None
    assert (batch.request_counts.total, batch.request_counts.completed,
            batch.request_counts.failed) == (4, 4, 0)
    for stamp in ("in_progress_at", "finalizing_at", "completed_at", "expires_at"):
        assert getattr(batch, stamp) is not None, stamp
    assert batch.usage is not None  # FakeBackend: 7 in (3 cached), 2 out, per line
    assert (batch.usage.input_tokens, batch.usage.input_tokens_details.cached_tokens,
            batch.usage.output_tokens, batch.usage.total_tokens) == (28, 12, 8, 36)
    assert batch.model == "fake" and batch.metadata == {"project": "tickets"}
    extra = batch.model_extra or {}
    assert extra["priority"] == 0
    assert extra["deduplication"] == {"lines": 1, "input_tokens": 7, "output_tokens": 2}
    assert batch.error_file_id is None
    output = server.lines(batch.output_file_id)
    assert [line["custom_id"] for line in output] == ["a", "b", "dup1", "dup2"]
    for line in output:
        assert set(line) == {"id", "custom_id", "response", "error"}
        assert line["id"].startswith("batch_req_") and line["error"] is None
        response = line["response"]
        assert set(response) == {"status_code", "request_id", "body"}
        assert response["status_code"] == 200
        body = response["body"]
        assert body["object"] == "chat.completion" and body["id"].startswith("chatcmpl")
        assert body["choices"][0]["message"]["content"] == "Hello world"
    assert len({line["response"]["body"]["id"] for line in output}) == 4
    assert len(server.backend.requests) == 3  # the duplicate ran once
    record = server.sdk.files.retrieve(batch.output_file_id)  # type: ignore[arg-type]
    assert record.purpose == "batch_output" and record.filename.endswith("_output.jsonl")


def test_lines_that_fail_at_run_time_go_to_the_error_file(start: Callable[..., Server]) -> None:
    server = start(FakeBackend())
    # valid for the file check, refused by the route when it runs: n above the backend's max_n
    batch = server.wait(server.submit([chat_line("ok"), chat_line("too-many", n=9)]).id)
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    assert [line["custom_id"] for line in server.lines(batch.output_file_id)] == ["ok"]
    errors = server.lines(batch.error_file_id)
    assert [line["custom_id"] for line in errors] == ["too-many"]
    response = errors[0]["response"]
    assert response["status_code"] == 400 and errors[0]["error"] is None
    assert response["body"]["error"]["param"] == "n"


def test_a_bad_input_file_fails_the_batch(server: Server) -> None:
    data = jsonl([chat_line("a")]) + b"{oops\n" + jsonl([chat_line("a")])
    batch = server.wait(server.submit(data).id)
    assert batch.status == "failed" and batch.failed_at is not None
    assert batch.errors is not None and batch.errors.data is not None
    found = [(e.line, e.code, e.param) for e in batch.errors.data]
    assert found == [(2, "invalid_json_line", None), (3, "duplicate_custom_id", "custom_id")]
    assert batch.output_file_id is None and batch.error_file_id is None


def test_messages_is_a_batch_endpoint(server: Server) -> None:
    line = {"custom_id": "m", "method": "POST", "url": "/v1/messages",
            "body": {"model": "fake", "max_tokens": 16, "system": "Be brief.",
                     "messages": [{"role": "user", "content": "Hi"}]}}
    batch = server.wait(server.submit([line], endpoint="/v1/messages").id)
    assert batch.status == "completed" and batch.endpoint == "/v1/messages"
    [out] = server.lines(batch.output_file_id)
    body = out["response"]["body"]
    assert out["custom_id"] == "m" and out["response"]["status_code"] == 200
    assert body["type"] == "message" and body["id"].startswith("msg_")
    assert body["content"] == [{"type": "text", "text": "Hello world"}]
    assert batch.usage is not None and batch.usage.input_tokens > 0


def test_list_pages(server: Server) -> None:
    made = [server.submit([chat_line("a")]).id for _ in range(5)]
    first = server.sdk.batches.list(limit=2)
    assert len(first.data) == 2 and first.has_more is True
    everything = [b.id for b in server.sdk.batches.list(limit=2)]  # the SDK follows `after`
    assert sorted(everything) == sorted(made) and len(everything) == 5
    assert [b.id for b in first.data] == everything[:2]  # newest first, stable
    last = server.sdk.batches.list(limit=10, after=everything[2])
    assert [b.id for b in last.data] == everything[3:] and last.has_more is False
    raw = httpx.get(f"{server.url}/v1/batches", params={"limit": 3}).json()
    assert raw["object"] == "list" and raw["has_more"] is True
    assert raw["first_id"] == everything[0] and raw["last_id"] == everything[2]
    for bad in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"limit": "-1"}):
        r = httpx.get(f"{server.url}/v1/batches", params=bad)
        assert r.status_code == 400 and r.json()["error"]["param"] == "limit"
    r = httpx.get(f"{server.url}/v1/batches", params={"after": "batch_" + "0" * 32})
    assert r.status_code == 404 and r.json()["error"]["param"] == "after"
    for batch_id in made:
        server.wait(batch_id)


def test_cancel(start: Callable[..., Server]) -> None:
    server = start(FakeBackend(delay=0.2), batch_concurrency=1)  # a line takes about 0.6s
    created = server.submit([chat_line(f"l{k}") for k in range(5)])
    server.wait(created.id, lambda b: len(server.backend.requests) >= 1)
    cancelling = server.sdk.batches.cancel(created.id)
    assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
    batch = server.wait(created.id)
    assert batch.status == "cancelled" and batch.cancelled_at is not None
    ran = len(server.backend.requests)
    assert ran < 5
    assert (batch.request_counts.total, batch.request_counts.completed,
            batch.request_counts.failed) == (5, ran, 5 - ran)
    errors = server.lines(batch.error_file_id)
    assert len(errors) == 5 - ran
    assert all(e["error"]["code"] == "batch_cancelled" and e["response"] is None
               for e in errors)
    done = server.lines(batch.output_file_id) if ran else []
    assert sorted(e["custom_id"] for e in errors + done) == [f"l{k}" for k in range(5)]
    assert server.sdk.batches.cancel(created.id).status == "cancelled"  # again: unchanged


def test_priority_and_metadata_round_trip(server: Server) -> None:
    created = server.submit([chat_line("a")], metadata={"k": "v", "empty": ""},
                            extra_body={"priority": -3})
    assert (created.model_extra or {})["priority"] == -3
    batch = server.wait(created.id)
    assert batch.metadata == {"k": "v", "empty": ""}
    assert (batch.model_extra or {})["priority"] == -3
    assert server.backend.requests[0].batch_priority == -3  # the lane carries it
    unset = server.submit([chat_line("a")])
    assert unset.metadata is None


def test_output_expires_after_sets_the_output_files_expiry(server: Server) -> None:
    created = server.submit([chat_line("a")], output_expires_after={"anchor": "created_at",
                                                                     "seconds": 7200})
    batch = server.wait(created.id)
    output = server.sdk.files.retrieve(batch.output_file_id)
    assert output.expires_at is not None
    assert output.expires_at - output.created_at == 7200
    default = server.wait(server.submit([chat_line("a")]).id)
    kept = server.sdk.files.retrieve(default.output_file_id)
    assert kept.expires_at is not None and kept.expires_at - kept.created_at == 30 * 86400
    with pytest.raises(openai.BadRequestError) as info:
        server.submit([chat_line("a")], output_expires_after={"anchor": "created_at",
                                                              "seconds": 60})
    assert error_of(info, 400)["param"] == "output_expires_after.seconds"


# --- errors ----------------------------------------------------------------------------------


def test_create_errors_name_the_param(server: Server) -> None:
    good = server.upload([chat_line("a")])
    user_data = server.upload([chat_line("a")], purpose="user_data")
    base: dict[str, Any] = {"input_file_id": good, "endpoint": CHAT, "completion_window": "24h"}
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"endpoint": "/v1/nope"}, 400, "endpoint"),
        ({"endpoint": "/v1/files"}, 400, "endpoint"),
        ({"endpoint": "/v1/batches"}, 400, "endpoint"),
        ({"input_file_id": "file-doesnotexist"}, 404, "input_file_id"),
        ({"input_file_id": "../openmini.sqlite3"}, 404, "input_file_id"),
        ({"input_file_id": user_data}, 400, "input_file_id"),
        ({"completion_window": "2 days"}, 400, "completion_window"),
        ({"completion_window": "0h"}, 400, "completion_window"),
        ({"extra_body": {"frobnicate": 1}}, 400, "frobnicate"),
        ({"extra_body": {"priority": 5000}}, 400, "priority"),
        ({"metadata": {f"k{k}": "v" for k in range(17)}}, 400, "metadata"),
        ({"metadata": {"k": "v" * 513}}, 400, "metadata.k"),
        ({"metadata": {"k" * 65: "v"}}, 400, "metadata." + "k" * 64),
    ]
    for change, status, param in cases:
        with pytest.raises(openai.APIStatusError) as refused:
            server.sdk.batches.create(**{**base, **change})
        error = error_of(refused, status)
        assert error["param"] == param, (change, error)
        assert error["type"] == "invalid_request_error"
    r = httpx.post(f"{server.url}/v1/batches", json={"endpoint": CHAT,
                                                     "completion_window": "24h"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "input_file_id"
    assert list(server.sdk.batches.list()) == []  # none was made


def test_unknown_batch_ids_are_404(server: Server) -> None:
    for batch_id in ("batch_" + "0" * 32, "batch_nope", "x" * 300, "file-abc"):
        with pytest.raises(openai.NotFoundError) as missing:
            server.sdk.batches.retrieve(batch_id)
        assert error_of(missing, 404)["param"] == "batch_id"
        with pytest.raises(openai.NotFoundError) as missing:
            server.sdk.batches.cancel(batch_id)
        assert error_of(missing, 404)["param"] == "batch_id"
    for batch_id in ("../x", "a/b"):  # sent as ..%2Fx: no route of the API takes it
        with pytest.raises(openai.NotFoundError) as missing:
            server.sdk.batches.retrieve(batch_id)
        error_of(missing, 404)


def test_cancelling_a_completed_batch_is_409(server: Server) -> None:
    batch = server.wait(server.submit([chat_line("a")]).id)
    assert batch.status == "completed"
    with pytest.raises(openai.ConflictError) as refused:
        server.sdk.batches.cancel(batch.id)
    error = error_of(refused, 409)
    assert error["param"] == "batch_id" and "completed" in error["message"]
    assert server.sdk.batches.retrieve(batch.id).status == "completed"


# --- a real engine ---------------------------------------------------------------------------


@pytest.mark.model
def test_a_batch_on_the_tiny_model(start: Callable[..., Server]) -> None:
    backend = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=2, ctx_size=1024))
    server = start(backend)  # the server's lifespan closes the backend

    def line(custom_id: str, content: str, **extra: Any) -> dict[str, Any]:
        return {"custom_id": custom_id, "method": "POST", "url": CHAT,
                "body": {"model": "tiny", "max_tokens": 6,
                         "messages": [{"role": "system", "content": "Answer in one word."},
                                      {"role": "user", "content": content}], **extra}}

    lines = [line("dup-1", "Name a colour.", temperature=0),
             line("other-1", "Name a fruit.", temperature=0),
             line("dup-2", "Name a colour.", temperature=0),
             line("other-2", "Name an animal.", seed=3),
             line("other-3", "Name a city."),
             line("other-4", "Name a planet.", temperature=0)]
    batch = server.wait(server.submit(lines).id)
    assert batch.status == "completed", batch
    assert (batch.request_counts.total, batch.request_counts.completed,
            batch.request_counts.failed) == (6, 6, 0)
    assert (batch.model_extra or {})["deduplication"]["lines"] == 1
    assert batch.usage is not None and batch.usage.output_tokens > 0
    output = {o["custom_id"]: o["response"] for o in server.lines(batch.output_file_id)}
    assert sorted(output) == sorted(x["custom_id"] for x in lines)
    assert all(r["status_code"] == 200 for r in output.values())

    def text(custom_id: str) -> str:
        return str(output[custom_id]["body"]["choices"][0]["message"]["content"])

    assert text("dup-1") == text("dup-2") and text("dup-1")
    assert output["dup-1"]["body"]["id"] != output["dup-2"]["body"]["id"]
