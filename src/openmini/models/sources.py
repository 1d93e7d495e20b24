"""Where the parts of a model come from: installed distributions, else downloaded wheels.

The packages that carry weights are never imported (their `__init__` is code we don't need):
an installed part is found through `importlib.metadata`, a downloaded one is read straight
out of the wheel zip.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

from openmini.errors import ModelAssemblyError
from openmini.models.catalogue import ModelSpec

_PIP_ERROR_TAIL = 2000  # characters of pip's stderr quoted in an error


class PartSource(Protocol):
    """One part of a model file, readable as a binary stream."""

    def open(self) -> AbstractContextManager[IO[bytes]]: ...

    def describe(self) -> str: ...


@dataclass(frozen=True, slots=True)
class InstalledPart:
    """A part file inside an installed distribution."""

    path: Path

    def open(self) -> AbstractContextManager[IO[bytes]]:
        return self.path.open("rb")

    def describe(self) -> str:
        return str(self.path)


@dataclass(frozen=True, slots=True)
class WheelPart:
    """A part read straight out of a wheel zip, without unpacking it."""

    wheel: Path
    member: str

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        with zipfile.ZipFile(self.wheel) as archive, archive.open(self.member) as stream:
            yield stream

    def describe(self) -> str:
        return f"{self.wheel}!{self.member}"


def installed_part(name: str, version: str, part: str) -> Path | None:
    """The part's path in an installed distribution of exactly `version`, if there is one."""
    path = _installed(name, version, part)
    return path if path is not None and path.is_file() else None


def _installed(name: str, version: str, relative: str) -> Path | None:
    """A path inside the installed distribution `name` when it is exactly `version`."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != version:
        return None
    return Path(str(dist.locate_file(relative)))


def pip_download(requirements: list[str], dest: Path) -> None:
    """`pip download` the wheels of `requirements` (no dependencies) into `dest`."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--dest",
        str(dest),
        *requirements,
    ]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ModelAssemblyError(f"could not run pip to download model packages: {exc}") from exc
    if done.returncode != 0:
        tail = done.stderr.strip()[-_PIP_ERROR_TAIL:]
        raise ModelAssemblyError(
            f"pip download failed (exit {done.returncode}) for {' '.join(requirements)}:\n{tail}"
        )


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def find_wheel(directory: Path, name: str, version: str) -> Path:
    """The wheel of `name==version` in `directory` (wheel file names normalize the name)."""
    for wheel in sorted(directory.glob("*.whl")):
        fields = wheel.name.split("-")
        if (
            len(fields) >= 3
            and _normalize(fields[0]) == _normalize(name)
            and (fields[1] == version)
        ):
            return wheel
    raise ModelAssemblyError(f"pip download produced no wheel for {name}=={version}")


def _wheel_part(wheel: Path, name: str, member: str) -> WheelPart:
    try:
        with zipfile.ZipFile(wheel) as archive:
            archive.getinfo(member)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelAssemblyError(f"{wheel.name} is not a readable wheel: {exc}") from exc
    except KeyError as exc:
        raise ModelAssemblyError(f"{wheel.name} ({name}) holds no file {member}") from exc
    return WheelPart(wheel, member)


def installed_tree(name: str, version: str, folder: str) -> Path | None:
    """A folder inside an installed distribution of exactly `version`, if there is one."""
    path = _installed(name, version, folder)
    return path if path is not None and path.is_dir() else None


def locate_tree(spec: ModelSpec, workdir: Path) -> Path:
    """The folder `spec.parts[0]` of `spec.packages[0]` (a checkpoint to convert): in the
    installed distribution, else unpacked from its wheel (downloaded into `workdir` unless
    one is there already) under `workdir`."""
    (name, version), folder = spec.packages[0], spec.parts[0].rstrip("/")
    found = installed_tree(name, version, folder)
    if found is not None:
        return found
    try:
        wheel = find_wheel(workdir, name, version)
    except ModelAssemblyError:
        pip_download([f"{name}=={version}"], workdir)
        wheel = find_wheel(workdir, name, version)
    prefix = folder + "/"
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith(prefix)]
            if not members:
                raise ModelAssemblyError(f"{wheel.name} ({name}) holds no folder {folder}")
            archive.extractall(workdir / "unpacked", members)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelAssemblyError(f"{wheel.name} is not a readable wheel: {exc}") from exc
    return workdir / "unpacked" / folder


def locate_parts(spec: ModelSpec, workdir: Path) -> list[PartSource]:
    """Sources for every part, in order; downloads the wheels of packages not installed."""
    found = [
        installed_part(name, version, part)
        for (name, version), part in zip(spec.packages, spec.parts, strict=True)
    ]
    missing = [spec.packages[i] for i, path in enumerate(found) if path is None]
    if missing:
        pip_download([f"{name}=={version}" for name, version in missing], workdir)
    sources: list[PartSource] = []
    for (name, version), part, path in zip(spec.packages, spec.parts, found, strict=True):
        if path is not None:
            sources.append(InstalledPart(path))
        else:
            sources.append(_wheel_part(find_wheel(workdir, name, version), name, part))
    return sources
