"""Codebase indexes over HTTP (/v1/indexes) with the openai SDK's own client against a real
server and the real embedding model: the roots check (403 naming `path`), create (indexed in
the background), list, get, search with its filters, delete, the 4xx that name their field,
and one data directory shared with the CLI: an index made over HTTP is searched by
`openmini search`, and one made by `openmini index add` is searched over HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from typer.testing import CliRunner

from openmini.cli.main import app as cli
from openmini.config import ServerConfig
from openmini.engine.embed import Embedder, EmbedSettings
from openmini.models import resolve_model

from .serving import serving

pytestmark = pytest.mark.model

FILES = {
    "http/dates.py": 'def parseHttpDate(value):\n    """An HTTP date as a timestamp."""\n'
                     "    return 0\n",
    "http/client.py": "class Client:\n    def get(self, url):\n        return fetch(url)\n",
    "web/app.js": "function renderPage(user) {\n  return user.name;\n}\n",
    "README.md": "# Demo\n\nDates and pages.\n",
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("indexes")
    write(base / "roots" / "demo", FILES)
    write(base / "outside" / "secret", {"keys.py": "API_KEY = 'x'\n"})
    (base / "roots" / "escape").symlink_to(base / "outside" / "secret",
                                           target_is_directory=True)
    return base


@pytest.fixture(scope="module")
def config(place: Path) -> ServerConfig:
    return ServerConfig(data_dir=str(place / "data"), index_roots=(str(place / "roots"),))


@pytest.fixture(scope="module")
def client(config: ServerConfig) -> Iterator[openai.OpenAI]:
    embedder = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    with serving(config, embedders={"all-minilm-l6-v2": embedder}) as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)


def post(client: openai.OpenAI, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, body=body, cast_to=object)


def get(client: openai.OpenAI, path: str) -> Any:
    return client.get(path, cast_to=object)


def delete(client: openai.OpenAI, path: str) -> Any:
    return client.delete(path, cast_to=object)


def ready(client: openai.OpenAI, name: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        info: dict[str, Any] = get(client, f"/indexes/{name}")
        if info["status"] != "indexing" or time.monotonic() > deadline:
            return info
        time.sleep(0.05)


def error_of(exc: openai.APIStatusError) -> dict[str, Any]:
    body = exc.body
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize("where", ["outside/secret", "roots/escape", "roots/demo/../../outside",
                                   "roots/../outside/secret"])
def test_a_path_outside_the_roots_is_a_403_naming_path(client: openai.OpenAI, place: Path,
                                                       where: str) -> None:
    with pytest.raises(openai.PermissionDeniedError) as info:
        post(client, "/indexes", {"name": "nope", "path": str(place / where)})
    error = error_of(info.value)
    assert error["param"] == "path" and error["type"] == "permission_error"
    assert str(place / where) in error["message"]
    assert "nope" not in [i["name"] for i in get(client, "/indexes")["data"]]


def test_no_roots_configured_means_no_indexing_over_http(place: Path) -> None:
    with serving(ServerConfig(data_dir=str(place / "data-none"))) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as info:
            post(client, "/indexes", {"path": str(place / "roots" / "demo")})
    assert error_of(info.value)["param"] == "path"


def test_create_list_get_search_delete(client: openai.OpenAI, place: Path) -> None:
    root = place / "roots" / "demo"
    made = post(client, "/indexes", {"name": "demo", "path": str(root)})
    assert made["object"] == "index" and made["name"] == "demo"
    assert made["path"] == str(root.resolve()) and made["status"] in ("indexing", "ready")
    assert {"files", "chunks", "error", "model", "created_at", "updated_at"} <= set(made)
    info = ready(client, "demo")
    assert (info["status"], info["files"], info["error"]) == ("ready", 4, None)
    assert info["chunks"] >= 4

    listed = get(client, "/indexes")
    assert listed["object"] == "list" and "demo" in [i["name"] for i in listed["data"]]

    found = post(client, "/indexes/demo/search", {"query": "parse http date", "k": 2})
    assert found["object"] == "list" and len(found["data"]) == 2
    hit = found["data"][0]
    assert set(hit) == {"path", "start_line", "end_line", "symbol", "kind", "language",
                        "score", "text"}
    assert (hit["path"], hit["start_line"], hit["end_line"], hit["symbol"]) == (
        "http/dates.py", 1, 3, "parseHttpDate")

    deleted = delete(client, "/indexes/demo")
    assert deleted == {"name": "demo", "object": "index", "deleted": True}
    with pytest.raises(openai.NotFoundError) as gone:
        get(client, "/indexes/demo")
    assert error_of(gone.value)["param"] == "name"


@pytest.fixture(scope="module")
def shared(client: openai.OpenAI, place: Path) -> str:
    post(client, "/indexes", {"name": "shared", "path": str(place / "roots" / "demo")})
    assert ready(client, "shared")["status"] == "ready"
    return "/indexes/shared/search"


def test_search_filters(client: openai.OpenAI, shared: str) -> None:
    def paths(**fields: Any) -> list[str]:
        found = post(client, shared, {"query": "page date get", "k": 10, **fields})
        return [hit["path"] for hit in found["data"]]

    assert set(paths(language="js")) == {"web/app.js"}
    assert set(paths(path="http")) == {"http/dates.py", "http/client.py"}
    assert set(paths(path="**/*.py", kind="method")) == {"http/client.py"}
    assert paths(mode="bm25", query="renderPage")[:1] == ["web/app.js"]


@pytest.mark.parametrize(("body", "param"), [
    ({"query": ""}, "query"),
    ({"query": "x", "k": 0}, "k"),
    ({"query": "x", "k": "3"}, "k"),
    ({"query": "x", "language": "klingon"}, "language"),
    ({"query": "x", "kind": "spell"}, "kind"),
    ({"query": "x", "mode": "psychic"}, "mode"),
    ({"query": "x", "path": " "}, "path"),
    ({"query": "x", "limit": 3}, "limit"),
])
def test_bad_searches_are_400s_naming_the_field(client: openai.OpenAI, shared: str,
                                                body: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        post(client, shared, body)
    assert error_of(info.value)["param"] == param


def test_unknown_taken_and_bad_names(client: openai.OpenAI, place: Path) -> None:
    for call in (lambda: get(client, "/indexes/missing"),
                 lambda: delete(client, "/indexes/missing"),
                 lambda: post(client, "/indexes/missing/search", {"query": "x"})):
        with pytest.raises(openai.NotFoundError) as info:
            call()
        assert error_of(info.value)["param"] == "name"
    root = str(place / "roots" / "demo")
    post(client, "/indexes", {"name": "taken", "path": root})
    with pytest.raises(openai.ConflictError) as taken:
        post(client, "/indexes", {"name": "taken", "path": root})
    assert error_of(taken.value)["param"] == "name"
    with pytest.raises(openai.BadRequestError) as bad:
        post(client, "/indexes", {"name": "no spaces", "path": root})
    assert error_of(bad.value)["param"] == "name"
    with pytest.raises(openai.BadRequestError) as missing:
        post(client, "/indexes", {"name": "x", "path": str(place / "roots" / "absent")})
    assert error_of(missing.value)["param"] == "path"
    ready(client, "taken")
    delete(client, "/indexes/taken")


def cli_run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_and_the_server_share_their_indexes(client: openai.OpenAI, place: Path,
                                                    config: ServerConfig,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMINI_THREADS", "1")
    data = str(config.data_dir)
    post(client, "/indexes", {"name": "from-http", "path": str(place / "roots" / "demo")})
    assert ready(client, "from-http")["status"] == "ready"
    code, out, err = cli_run("search", "render a page", "--index", "from-http", "--json",
                             "-k", "1", "--data-dir", data)
    assert code == 0, err
    assert json.loads(out)["data"][0]["path"] == "web/app.js"

    other = write(place / "cli-made", {"geo.py": "def haversine(a, b):\n    return 0\n"})
    code, _, err = cli_run("index", "add", str(other), "--name", "from-cli", "--data-dir", data)
    assert code == 0, err
    assert get(client, "/indexes/from-cli")["status"] == "ready"
    found = post(client, "/indexes/from-cli/search", {"query": "great circle distance"})
    assert found["data"][0]["symbol"] == "haversine"
    code, _, err = cli_run("index", "remove", "from-http", "--data-dir", data)
    assert code == 0, err
    with pytest.raises(openai.NotFoundError):
        get(client, "/indexes/from-http")


def test_shutting_down_stops_a_first_update_and_waits_for_it(place: Path,
                                                              tmp_path: Path) -> None:
    from openmini.index.manager import IndexManager

    big = write(place / "roots" / "big", {f"m{i}.py": f"def f{i}(x):\n    return x + {i}\n"
                                          for i in range(600)})
    config = ServerConfig(data_dir=str(tmp_path / "data"), index_roots=(str(place / "roots"),))
    embedder = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    with serving(config, embedders={"all-minilm-l6-v2": embedder}) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        assert post(client, "/indexes", {"name": "big", "path": str(big)})["status"] == \
            "indexing"
        time.sleep(0.5)
        assert get(client, "/indexes/big")["status"] == "indexing"
        stopping = time.monotonic()
    assert time.monotonic() - stopping < 10  # stopped at its next batch, not run to the end
    manager = IndexManager.for_config(config, threads=1)
    try:
        info = manager.get("big")  # no process holds it: interrupted, resumable
        assert info.status == "failed" and (info.error or "").startswith("interrupted")
        assert info.files < 600
        assert manager.interrupted() == ["big"]
    finally:
        manager.close()
    embedder = Embedder(resolve_model("all-minilm-l6-v2"), EmbedSettings(threads=1))
    with serving(config, embedders={"all-minilm-l6-v2": embedder}) as url:  # resumes it
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        done = ready(client, "big", timeout=120)
        assert (done["status"], done["files"], done["error"]) == ("ready", 600, None)


def test_deleting_an_index_stops_its_first_update(client: openai.OpenAI, place: Path) -> None:
    many = write(place / "roots" / "many", {f"n{i}.py": f"def g{i}(y):\n    return y * {i}\n"
                                            for i in range(600)})
    assert post(client, "/indexes", {"name": "many", "path": str(many)})["status"] == \
        "indexing"
    time.sleep(0.3)
    started = time.monotonic()
    assert delete(client, "/indexes/many")["deleted"] is True
    assert time.monotonic() - started < 10
    with pytest.raises(openai.NotFoundError):
        get(client, "/indexes/many")
    # the name is free again, and a search of what does not exist is a 404
    with pytest.raises(openai.NotFoundError):
        post(client, "/indexes/many/search", {"query": "g1"})


def test_update_over_http_the_paths_given_or_everything(client: openai.OpenAI,
                                                         place: Path) -> None:
    root = write(place / "roots" / "live", {"geo.py": "def area(r):\n    return 3 * r * r\n"})
    post(client, "/indexes", {"name": "live", "path": str(root)})
    assert ready(client, "live")["status"] == "ready"
    write(root, {"geo.py": "def circumference(r):\n    return 6 * r\n",
                 "pkg/more.py": "def volume_of_sphere(r):\n    return 4 * r ** 3\n"})
    started = post(client, "/indexes/live/update", {"paths": ["./geo.py", "pkg/"]})
    assert started["object"] == "index" and started["status"] == "indexing"
    assert ready(client, "live")["files"] == 2

    def symbols(query: str) -> list[str]:
        hits = post(client, "/indexes/live/search", {"query": query, "mode": "bm25"})["data"]
        return [h["symbol"] for h in hits]

    assert symbols("volume of sphere") == ["volume_of_sphere"]
    assert symbols("circumference") == ["circumference"] and symbols("area") == []
    (root / "geo.py").unlink()
    assert post(client, "/indexes/live/update", {})["status"] == "indexing"  # everything
    assert ready(client, "live")["files"] == 1
    assert symbols("circumference") == []
    delete(client, "/indexes/live")


@pytest.mark.parametrize(("body", "param"), [
    ({"paths": ["/etc/passwd"]}, "paths[0]"),
    ({"paths": ["a.py", "../../outside/secret/keys.py"]}, "paths[1]"),
    ({"paths": [""]}, "paths[0]"),
    ({"paths": "a.py"}, "paths"),
    ({"paths": [3]}, "paths[0]"),
    ({"path": ["a.py"]}, "path"),
])
def test_bad_updates_are_400s_naming_the_field(client: openai.OpenAI, shared: str,
                                               body: dict[str, Any], param: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        post(client, shared.replace("/search", "/update"), body)
    assert error_of(info.value)["param"] == param


def test_updating_an_unknown_index_is_a_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        post(client, "/indexes/nothing-here/update", {})
    assert error_of(info.value)["param"] == "name"
