"""Turn a model name into a local GGUF path, assembling and verifying catalogue models once.

An assembled model lives in the cache dir as `<alias>-<sha256 prefix>.gguf`, next to a
`<file>.sha256` marker written only after the whole file hashed to the pinned value: a later
start finds the marker and returns at once, without re-hashing a gigabyte.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import platformdirs

from openmini.errors import ModelAssemblyError, ModelNotFound
from openmini.models.catalogue import CATALOGUE, ModelSpec
from openmini.models.sources import PartSource, locate_parts, locate_tree

CACHE_DIR_ENV = "OPENMINI_MODEL_CACHE_DIR"
CHUNK_BYTES = 1 << 20

Progress = Callable[[int, int], None]


def default_cache_dir() -> Path:
    """`$OPENMINI_MODEL_CACHE_DIR` if set, else the user cache dir's `openmini/models`."""
    override = os.environ.get(CACHE_DIR_ENV)
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_cache_dir("openmini")) / "models"


def cached_path(spec: ModelSpec, cache_dir: Path) -> Path:
    """Where the assembled file of `spec` lives (whether or not it is there yet)."""
    return cache_dir / f"{spec.alias}-{spec.sha256[:12]}.gguf"


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def is_present(spec: ModelSpec, cache_dir: Path) -> bool:
    """True when the model is assembled and was verified: a stat and a tiny read, no hashing."""
    target = cached_path(spec, cache_dir)
    try:
        verified = _marker(target).read_text().strip() == spec.sha256
        return verified and target.stat().st_size == spec.size_bytes
    except OSError:
        return False


def _looks_like_path(name: str) -> bool:
    return os.sep in name or "/" in name or name.startswith("~") or name.endswith(".gguf")


def resolve_model(
    name_or_path: str, cache_dir: Path | None = None, progress: Progress | None = None
) -> Path:
    """A local GGUF file for a catalogue alias or a path; assembles the alias on first use.

    Raises `ModelNotFound` for an unknown alias or a path that is not a file, and
    `ModelAssemblyError` when the parts cannot be fetched or do not hash to the pinned sha256.
    """
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ModelNotFound(name_or_path)
        return path
    spec = CATALOGUE.get(name_or_path)
    if spec is None:
        raise ModelNotFound(name_or_path)
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    if is_present(spec, directory):
        return cached_path(spec, directory)
    return assemble(spec, directory, progress)


def resolve_projector(
    name_or_path: str, cache_dir: Path | None = None, progress: Progress | None = None
) -> Path | None:
    """The vision projector a catalogue alias carries (assembled on first use), or None: a
    path or an entry without one."""
    spec = None if _looks_like_path(name_or_path) else CATALOGUE.get(name_or_path)
    if spec is None or spec.mmproj is None:
        return None
    directory = cache_dir if cache_dir is not None else default_cache_dir()
    if is_present(spec.mmproj, directory):
        return cached_path(spec.mmproj, directory)
    return assemble(spec.mmproj, directory, progress)


def assemble(spec: ModelSpec, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Assemble `spec` into the cache (once, under a file lock) and return its path."""
    target = cached_path(spec, cache_dir)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelAssemblyError(f"cannot create the model cache dir {cache_dir}: {exc}") from exc
    with _file_lock(target.with_name(target.name + ".lock")):
        if is_present(spec, cache_dir):  # another process finished while we waited
            return target
        if target.is_file() and _adopt_unmarked(spec, target):
            return target
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as workdir:
            if spec.converter is not None:
                _convert_verified(spec, locate_tree(spec, Path(workdir)), target, progress)
            else:
                sources = locate_parts(spec, Path(workdir))
                _write_verified(spec, sources, target, progress)
    return target


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock held for the duration of the block."""
    with path.open("a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _adopt_unmarked(spec: ModelSpec, target: Path) -> bool:
    """A file left without its marker (e.g. a crash after the rename): keep it if it verifies."""
    if target.stat().st_size == spec.size_bytes and sha256_file(target) == spec.sha256:
        _write_marker(spec, target)
        return True
    target.unlink()
    return False


def _write_marker(spec: ModelSpec, target: Path) -> None:
    marker = _marker(target)
    scratch = marker.with_name(marker.name + ".tmp")
    scratch.write_text(spec.sha256 + "\n")
    os.replace(scratch, marker)


def _write_verified(
    spec: ModelSpec, sources: Sequence[PartSource], target: Path, progress: Progress | None
) -> None:
    """Stream the parts into `<target>.partial`, hashing as we go; rename only if it verifies."""
    partial = target.with_name(target.name + ".partial")
    try:
        actual = _concatenate(sources, partial, spec.size_bytes, progress)
        _place_verified(spec, actual, partial, target, "")
    finally:
        partial.unlink(missing_ok=True)
    _write_marker(spec, target)


def _place_verified(spec: ModelSpec, actual: str, partial: Path, target: Path,
                    origin: str) -> None:
    """`partial` renamed to `target` when its sha256 (`actual`) is the spec's; else an error
    (the caller deletes `partial`)."""
    if actual != spec.sha256:
        raise ModelAssemblyError(
            f"model '{spec.alias}' failed its checksum: expected sha256 {spec.sha256}, "
            f"got {actual}{origin}; the assembled file was deleted"
        )
    os.replace(partial, target)


def _convert_verified(
    spec: ModelSpec, model_dir: Path, target: Path, progress: Progress | None
) -> None:
    """Run the spec's converter into `<target>.partial`; rename only if it verifies."""
    partial = target.with_name(target.name + ".partial")
    if progress is not None:
        progress(0, spec.size_bytes)
    try:
        module, _, attr = (spec.converter or "").partition(":")
        convert = getattr(importlib.import_module(module), attr)
        try:
            convert(model_dir, partial)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelAssemblyError(
                f"could not convert {model_dir} into {target.name}: {exc}") from exc
        _place_verified(spec, sha256_file(partial), partial, target,
                        f" (converted from {model_dir})")
    finally:
        partial.unlink(missing_ok=True)
    if progress is not None:
        progress(spec.size_bytes, spec.size_bytes)
    _write_marker(spec, target)


def _concatenate(
    sources: Sequence[PartSource], dest: Path, total: int, progress: Progress | None
) -> str:
    """Write the sources one after another into `dest`; return the sha256 of what was written."""
    digest = hashlib.sha256()
    done = 0
    if progress is not None:
        progress(0, total)
    with dest.open("wb") as out:
        for source in sources:
            try:
                with source.open() as stream:
                    while chunk := stream.read(CHUNK_BYTES):
                        digest.update(chunk)
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, max(total, done))
            except (OSError, zipfile.BadZipFile) as exc:  # BadZipFile: a CRC mismatch in a wheel
                raise ModelAssemblyError(
                    f"could not assemble {dest.name} from {source.describe()}: {exc}"
                ) from exc
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()
