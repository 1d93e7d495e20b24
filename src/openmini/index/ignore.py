"""Which paths under an index's root are left out, by git's rules plus openmini's own.

Rules, by precedence (the first that decides wins):

1. VCS directories (`.git`, `.hg`, `.svn`, ...) and a worktree's `.git` file are always left
   out; nothing re-includes them.
2. Per directory, from the deepest one holding the path up to the root: that directory's
   `.openminiignore`, then its `.gitignore` (so a project's `.openminiignore` can override
   its `.gitignore`, e.g. `!vendor/` to index a vendored tree); at the root, then
   `.git/info/exclude` (below the root's `.gitignore`, as in git).
3. Built-in defaults (`DEFAULT_PATTERNS`): vendored and generated trees, caches, lock files,
   minified files, binary formats. They are the lowest rule, so a negation in an ignore file
   re-includes what they leave out.

Patterns are git's (`pathspec.GitIgnoreSpec`): negation with `!`, a trailing `/` for
directories only, a leading or inner `/` anchoring to the file's directory, `**`. As in
git, a path under a left-out directory cannot be re-included (the walk never enters it).
Paths are relative to the root, with `/`.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pathspec

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr", "_darcs", "CVS", ".jj", ".fossil"})
IGNORE_FILES = (".gitignore", ".openminiignore")  # per directory, later wins

_BINARY = ("png jpg jpeg gif bmp ico webp tiff psd svgz pdf zip gz tgz bz2 xz zst 7z rar tar "
           "jar war whl egg so dylib dll exe o a obj lib pyc pyo pyd class wasm bin dat db "
           "sqlite sqlite3 mp3 mp4 wav ogg flac mov avi mkv webm ttf otf woff woff2 eot gguf "
           "safetensors onnx pt pth npy npz pkl parquet")
BINARY_EXTENSIONS = tuple(_BINARY.split())
DEFAULT_PATTERNS: tuple[str, ...] = (
    # vendored, built, cached trees
    "node_modules/", "bower_components/", "jspm_packages/", "vendor/", "third_party/",
    "third-party/", "dist/", "build/", "out/", "target/", "__pycache__/", ".venv/", "venv/",
    ".tox/", ".nox/", ".eggs/", "*.egg-info/", "site-packages/", ".mypy_cache/",
    ".pytest_cache/", ".ruff_cache/", ".hypothesis/", ".cache/", ".next/", ".nuxt/",
    ".svelte-kit/", ".gradle/", ".idea/", ".terraform/", "htmlcov/", "coverage/",
    # generated and minified files, lock files
    "*.min.js", "*.min.css", "*.min.mjs", "*.map", "*.pb.go", "*_pb2.py", "*_pb2_grpc.py",
    "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lockb",
    "Cargo.lock", "poetry.lock", "Pipfile.lock", "pdm.lock", "uv.lock", "composer.lock",
    "Gemfile.lock", "go.sum", "flake.lock", "*.lock", ".DS_Store",
    # editors' backup and swap files
    "*~", "*.sw[po]", ".#*", "*.orig", "*.rej",
    # binary formats (the content check would find them too; this saves reading them)
    *(f"*.{ext}" for ext in BINARY_EXTENSIONS),
)

_DEFAULTS = pathspec.GitIgnoreSpec.from_lines(DEFAULT_PATTERNS)


def _read_lines(path: Path) -> list[str]:
    """An ignore file's lines; a missing, unreadable or non-file one has none (a symlink is
    not followed: its lines would come from outside the tree)."""
    try:
        if path.is_symlink() or not path.is_file():
            return []
        return path.read_text("utf-8", errors="replace").splitlines()
    except OSError:
        return []


class IgnoreRules:
    """The ignore rules of one root; each directory's files are read once, on first use.
    Safe to share between threads."""

    def __init__(self, root: Path):
        self.root = root
        self._specs: dict[str, pathspec.GitIgnoreSpec | None] = {}
        self._lock = threading.Lock()

    def _spec(self, directory: str) -> pathspec.GitIgnoreSpec | None:
        """The patterns of a directory ("" for the root), None when it has none."""
        with self._lock:
            if directory in self._specs:
                return self._specs[directory]
        base = self.root / directory if directory else self.root
        # One spec per directory, where the last matching pattern wins: git's exclude file
        # (the root only) under the .gitignore, under the .openminiignore.
        lines = [] if directory else _read_lines(self.root / ".git" / "info" / "exclude")
        lines += _read_lines(base / ".gitignore")
        lines += _read_lines(base / ".openminiignore")
        spec = pathspec.GitIgnoreSpec.from_lines(lines) if any(
            line.strip() for line in lines) else None
        with self._lock:
            self._specs[directory] = spec
        return spec

    def decides(self, path: str, is_dir: bool) -> bool:
        """Whether `path` itself is left out (its parent directories are not looked at:
        the walk asks for each directory before it enters it)."""
        if path.rsplit("/", 1)[-1] in VCS_DIRS:  # a worktree's `.git` file too
            return True
        parts = path.split("/")
        candidate = path + "/" if is_dir else path
        for depth in range(len(parts) - 1, -1, -1):  # the deepest directory first
            directory = "/".join(parts[:depth])
            spec = self._spec(directory)
            if spec is None:
                continue
            result = spec.check_file(candidate[len(directory) + 1:] if directory else candidate)
            if result.include is not None:
                return bool(result.include)
        return bool(_DEFAULTS.check_file(candidate).include)

    def ignored(self, path: str, is_dir: bool = False) -> bool:
        """Whether `path` is left out, itself or through one of its parent directories
        (for a single path, as a file watcher reports them)."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            if self.decides("/".join(parts[:depth]), True):
                return True
        return self.decides(path, is_dir)

    def invalidate(self) -> None:
        """Forget every directory's patterns (an ignore file changed)."""
        with self._lock:
            self._specs.clear()


def is_ignore_file(path: str) -> bool:
    """Whether a changed path changes the rules (an ignore file, or git's exclude file)."""
    name = path.rsplit("/", 1)[-1]
    return name in IGNORE_FILES or path.replace(os.sep, "/").endswith(".git/info/exclude")
