"""The Files API end to end: a real uvicorn server on a socket (its lifespan included) and
the official `openai` SDK, plus raw requests for what the SDK would not send."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from openmini.batch.files import FileStore
from openmini.batch.store import Store
from openmini.config import ServerConfig

from .serving import serving

LIMIT = 8 * 1024 * 1024  # batch_max_bytes in these tests
LINES = b"".join(b'{"custom_id": "%d", "method": "POST", "url": "/v1/chat/completions", '
                 b'"body": {"model": "fake", "messages": []}}\n' % k for k in range(3))

Serve = Callable[..., Any]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """serve(**config) -> the base URL of a server with that config (data in tmp_path)."""
    with_servers: list[Any] = []

    def start(**overrides: Any) -> str:
        settings = {"data_dir": str(tmp_path / "data"), "batch_max_bytes": LIMIT,
                    "max_body_bytes": 4096, **overrides}
        cm = serving(ServerConfig(**settings))
        with_servers.append(cm)
        return str(cm.__enter__())

    yield start
    for cm in reversed(with_servers):
        cm.__exit__(None, None, None)


@pytest.fixture
def url(serve: Serve) -> str:
    return str(serve())


@pytest.fixture
def sdk(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)


def upload(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def raw_multipart(filename: str) -> dict[str, Any]:
    """A multipart upload with `filename` as written (httpx would escape it)."""
    body = (b"--b\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch\r\n"
            b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
            + filename.encode() + b"\"\r\n\r\n" + LINES + b"\r\n--b--\r\n")
    return {"content": body, "headers": {"content-type": "multipart/form-data; boundary=b"}}


def error_of(exc: pytest.ExceptionInfo[openai.APIStatusError], status: int) -> dict[str, Any]:
    assert exc.value.status_code == status, exc.value.response.text
    error: dict[str, Any] = exc.value.response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def test_upload_retrieve_download_delete(sdk: openai.OpenAI, tmp_path: Path) -> None:
    with upload(tmp_path / "input.jsonl", LINES).open("rb") as fh:
        created = sdk.files.create(file=fh, purpose="batch")
    assert created.object == "file" and created.id.startswith("file-")
    assert created.filename == "input.jsonl" and created.bytes == len(LINES)
    assert created.purpose == "batch" and created.status == "processed"
    assert created.expires_at == created.created_at + 30 * 86_400
    assert sdk.files.retrieve(created.id) == created
    assert sdk.files.content(created.id).read() == LINES
    assert [f.id for f in sdk.files.list()] == [created.id]
    deleted = sdk.files.delete(created.id)
    assert deleted.id == created.id and deleted.deleted and deleted.object == "file"
    with pytest.raises(openai.NotFoundError) as missing:
        sdk.files.retrieve(created.id)
    assert error_of(missing, 404)["code"] == "not_found"
    assert list(sdk.files.list()) == []


def test_content_is_streamed_from_disk(url: str, sdk: openai.OpenAI, tmp_path: Path) -> None:
    big = (LINES * (3 * 1024 * 1024 // len(LINES)))[:3 * 1024 * 1024]  # past the 1 MB spool
    with upload(tmp_path / "big.jsonl", big).open("rb") as fh:
        created = sdk.files.create(file=fh, purpose="user_data")
    assert created.expires_at is None and created.bytes == len(big)
    r = httpx.get(f"{url}/v1/files/{created.id}/content")
    assert r.status_code == 200 and r.content == big
    assert r.headers["content-type"].startswith("application/jsonl")
    assert r.headers["content-length"] == str(len(big))
    with upload(tmp_path / "image.png", b"\x89PNG...").open("rb") as fh:
        other = sdk.files.create(file=fh, purpose="user_data")
    r = httpx.get(f"{url}/v1/files/{other.id}/content")
    assert r.headers["content-type"] == "application/octet-stream"


def test_expires_after_as_the_sdk_sends_it(sdk: openai.OpenAI, tmp_path: Path) -> None:
    with upload(tmp_path / "a.jsonl", LINES).open("rb") as fh:
        created = sdk.files.create(file=fh, purpose="user_data",
                                   expires_after={"anchor": "created_at", "seconds": 7200})
    assert created.expires_at == created.created_at + 7200
    for seconds in (3599, 2_592_001):
        with pytest.raises(openai.BadRequestError) as refused, \
                upload(tmp_path / "a.jsonl", LINES).open("rb") as fh:
            sdk.files.create(file=fh, purpose="batch",
                             expires_after={"anchor": "created_at", "seconds": seconds})
        assert error_of(refused, 400)["param"] == "expires_after[seconds]"


def test_list_pages_and_filters(sdk: openai.OpenAI, url: str, tmp_path: Path) -> None:
    ids = []
    for k in range(5):
        with upload(tmp_path / f"{k}.jsonl", LINES).open("rb") as fh:
            ids.append(sdk.files.create(file=fh, purpose="batch" if k < 3 else "user_data").id)
    every = [f.id for f in sdk.files.list(limit=2)]  # the SDK follows `after` page to page
    assert sorted(every) == sorted(ids) and len(every) == 5
    assert [f.id for f in sdk.files.list(order="asc")] == list(reversed(every))
    assert {f.id for f in sdk.files.list(purpose="batch")} == set(ids[:3])
    page = httpx.get(f"{url}/v1/files", params={"limit": 2}).json()
    assert page["object"] == "list" and page["has_more"] is True
    assert page["first_id"] == every[0] and page["last_id"] == every[1]
    for bad in ({"limit": "0"}, {"limit": "x"}, {"limit": "10001"}, {"order": "up"}):
        r = httpx.get(f"{url}/v1/files", params=bad)
        assert r.status_code == 400 and r.json()["error"]["param"] in bad


@pytest.mark.parametrize("file_id", ["../openmini.sqlite3", "..%2F..%2Fetc%2Fpasswd",
                                     "file-..%2Fdata", "file-abc%00", "file-a/../../x"])
def test_hostile_ids_are_404(url: str, file_id: str) -> None:
    """Sent as written (http.client leaves dot segments alone, httpx would resolve them)."""
    host, port = url.removeprefix("http://").split(":")
    for method, path in [("GET", ""), ("GET", "/content"), ("DELETE", "")]:
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request(method, f"/v1/files/{file_id}{path}")
        r = conn.getresponse()
        body = json.loads(r.read())
        conn.close()
        assert r.status == 404, (method, path, body)
        assert body["error"]["code"] == "not_found" and body["error"]["param"] == "file_id"


def test_hostile_id_through_the_sdk(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.files.retrieve("../../etc/passwd")
    with pytest.raises(openai.NotFoundError):
        sdk.files.content("../openmini.sqlite3")


def test_bad_uploads(sdk: openai.OpenAI, url: str, tmp_path: Path) -> None:
    with pytest.raises(openai.BadRequestError) as refused, \
            upload(tmp_path / "a.jsonl", LINES).open("rb") as fh:
        sdk.files.create(file=fh, purpose="fine-tune")
    assert error_of(refused, 400)["param"] == "purpose"
    with pytest.raises(openai.BadRequestError) as refused, \
            upload(tmp_path / "empty.jsonl", b"").open("rb") as fh:
        sdk.files.create(file=fh, purpose="batch")
    assert error_of(refused, 400)["code"] == "empty_file"
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"files": {"purpose": (None, "batch")}}, "file"),  # multipart, no file part
        ({"files": {"file": ("a.jsonl", LINES)}}, "purpose"),
        ({"files": {"file": ("a.jsonl", LINES), "purpose": (None, "batch"),
                    "model": (None, "x")}}, "model"),
        (raw_multipart("a\x01.jsonl"), "file"),  # a control character in the filename
        ({"json": {"file": "x", "purpose": "batch"}}, "file"),  # not multipart at all
        ({"content": b"--x\r\nbroken", "headers": {
            "content-type": "multipart/form-data; boundary=x"}}, "file"),  # no parts at all
        ({"content": b"x", "headers": {"content-type": "multipart/form-data"}}, None),
    ]
    for kwargs, param in cases:
        r = httpx.post(f"{url}/v1/files", **kwargs)
        assert r.status_code == 400, (kwargs, r.text)
        assert r.json()["error"]["param"] == param, r.text
    r = httpx.post(f"{url}/v1/files", **raw_multipart("../../etc/passwd"))
    assert r.status_code == 200 and r.json()["filename"] == "passwd"
    sdk.files.delete(r.json()["id"])
    two: Any = [("file", ("a.jsonl", LINES)), ("file", ("b.jsonl", LINES)),
           ("purpose", (None, "batch"))]
    assert httpx.post(f"{url}/v1/files", files=two).status_code == 400
    assert list(sdk.files.list()) == []


def test_upload_limits(serve: Serve, tmp_path: Path) -> None:
    url = serve(batch_max_bytes=1000, max_body_bytes=500)
    sdk = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    with upload(tmp_path / "ok.jsonl", b"x" * 1000).open("rb") as fh:  # over max_body_bytes
        assert sdk.files.create(file=fh, purpose="batch").bytes == 1000
    with pytest.raises(openai.APIStatusError) as refused, \
            upload(tmp_path / "big.jsonl", b"x" * 1001).open("rb") as fh:
        sdk.files.create(file=fh, purpose="batch")
    error = error_of(refused, 413)
    assert error["param"] == "file" and error["code"] == "file_too_large"
    huge: Any = {"file": ("huge.jsonl", b"x" * 200_000), "purpose": (None, "batch")}
    r = httpx.post(f"{url}/v1/files", files=huge)  # past the body limit itself: not read
    assert r.status_code == 413 and "batch_max_bytes" in r.json()["error"]["message"]
    body = httpx.Request("POST", url, files=huge)
    body.read()
    r = httpx.post(f"{url}/v1/files", content=iter([body.content]),  # chunked: no length
                   headers={"content-type": body.headers["content-type"]})
    assert r.status_code == 413 and "batch_max_bytes" in r.json()["error"]["message"]
    chat = {"model": "fake", "messages": [{"role": "user", "content": "y" * 1000}]}
    r = httpx.post(f"{url}/v1/chat/completions", json=chat)  # elsewhere: max_body_bytes
    assert r.status_code == 413 and "max_body_bytes" in r.json()["error"]["message"]
    assert len(list(sdk.files.list())) == 1


def test_expired_files_are_swept_at_start(serve: Serve, tmp_path: Path) -> None:
    data = tmp_path / "data"
    files = FileStore(Store(data / "openmini.sqlite3"), data, LIMIT, 30)
    with (tmp_path / "a.jsonl").open("wb+") as fh:
        fh.write(LINES)
        fh.seek(0)
        old = files.save(fh, "a.jsonl", "user_data", expires_after_s=3600)
        fh.seek(0)
        kept = files.save(fh, "b.jsonl", "user_data")
    files.store.connection().execute("UPDATE files SET expires_at = 1 WHERE id = ?", (old.id,))
    sdk = openai.OpenAI(base_url=f"{serve()}/v1", api_key="unused", max_retries=0)
    deadline = time.monotonic() + 5
    while len(list(sdk.files.list())) > 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [f.id for f in sdk.files.list()] == [kept.id]
    assert not (data / "files" / old.id).exists()
