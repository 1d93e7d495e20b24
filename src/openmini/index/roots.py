"""Which directories an API client may index: those under the server's index roots (config
key `index_roots`, `openmini serve --index-roots DIR,...`), none by default.

A path is taken as the directory it names once symbolic links and `..` are resolved (the
roots too), so a link inside a root that points out of it, or `root/../elsewhere`, is
outside. Anything outside every root, or any path at all when no root is configured, is a
403 naming the parameter; a path that is not absolute is a 400 (the server's working
directory means nothing to a client). Whether the directory exists is looked at only
inside a root (IndexManager.create: a 400), so a refusal says nothing about what exists
elsewhere.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openmini.errors import InvalidRequest, PermissionDenied


def resolved(path: str | os.PathLike[str]) -> Path:
    """The path with `~`, symbolic links and `..` resolved (it need not exist)."""
    return Path(os.path.realpath(os.path.expanduser(path)))


def under_roots(path: Path, roots: Sequence[str]) -> bool:
    """Whether the resolved `path` is one of `roots` (resolved) or inside one."""
    return any(path.is_relative_to(resolved(root)) for root in roots)


def allowed_root(path: Any, roots: Sequence[str], param: str = "path") -> Path:
    """`path`, resolved, when it lies under one of `roots`; else PermissionDenied (403)
    naming `param`, or InvalidRequest (400) for a value that is no absolute path."""
    if not isinstance(path, str) or not path.strip() or "\0" in path:
        raise InvalidRequest(f"'{param}' must be the absolute path of a directory.",
                             param=param)
    if not roots:
        raise PermissionDenied(f"Cannot index {path!r}: this server lets API clients index "
                               "no directory (it has no index roots: `openmini serve "
                               "--index-roots DIR,...` or config key index_roots).",
                               param=param)
    if not os.path.isabs(path):
        raise InvalidRequest(f"'{param}' must be an absolute path, not {path!r}.",
                             param=param)
    real = resolved(path)
    if not under_roots(real, roots):
        raise PermissionDenied(f"Cannot index {path!r}: it is outside the directories this "
                               "server lets API clients index (its index roots).",
                               param=param)
    return real


MAX_PATHS = 10_000


def relative_paths(paths: Any, param: str = "paths") -> list[str]:
    """Paths inside an index's root, as a client names them to update (`a/b.py`, `./a`,
    `a//b/`: normalised to `a/b.py`, `a`, `a/b`); a list of at most MAX_PATHS. One that
    is absolute, empty, holds a NUL or leaves the root (`..`) is a 400 naming `paths[i]`."""
    if not isinstance(paths, list) or len(paths) > MAX_PATHS:
        raise InvalidRequest(f"'{param}' must be a list of at most {MAX_PATHS} paths.",
                             param=param)
    out: list[str] = []
    for i, path in enumerate(paths):
        name = f"{param}[{i}]"
        if not isinstance(path, str) or not path.strip() or "\0" in path:
            raise InvalidRequest(f"'{name}' must be a non-empty path.", param=name)
        if path.startswith("/"):
            raise InvalidRequest(f"'{name}' must be relative to the index's root, not "
                                 f"{path!r}.", param=name)
        norm = posixpath.normpath(path)
        if norm == ".." or norm.startswith("../"):
            raise InvalidRequest(f"'{name}' leaves the index's root: {path!r}.", param=name)
        out.append("." if norm == "." else norm)
    return out
