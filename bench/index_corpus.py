"""The codebase of issue 25's index benchmarks: networkx 3.6.1's sdist, pinned and verified.

networkx is pure Python with a definition for nearly everything a graph library does and a
numpy-style docstring on each; its sdist holds the package with its tests (networkx/**/tests),
the docs and the examples: 197,670 lines of Python in 671 files as the index sees them (its
default ignore rules, files up to 1 MB, text only, nothing marked generated; 74,509 of the
lines in tests), plus 21,226 lines of other text in 214 files. `count()` recounts them
through openmini.index's own walk when it can be imported.

The sdist is fetched with pip (`pip download --no-deps --no-binary :all:`, with
`--require-hashes`, so pip itself checks it against the hash below), kept under
~/.cache/openmini/bench/ (`OPENMINI_BENCH_CACHE` to move it), hashed again here, and
unpacked once (tarfile's `data` filter: no links out, no absolute paths) into
`corpus/networkx-3.6.1/`; a marker file beside that directory (not inside: the index would
read it) says the unpacking finished. Paths in the query set and the completion tasks are
relative to that directory. A benchmark that edits files works on `copy_corpus(dest)`.

    .venv/bin/python bench/index_corpus.py            # fetch if needed, print the path
    .venv/bin/python bench/index_corpus.py --count    # and the files and lines it holds
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

NAME = "networkx"
VERSION = "3.6.1"
SHA256 = "26b7c357accc0c8cde558ad486283728b65b6a95d85ee1cd66bafab4c8168509"
SDIST = f"{NAME}-{VERSION}.tar.gz"
ROOT = f"{NAME}-{VERSION}"  # the sdist's top directory
DATA = Path(__file__).resolve().parent / "data"
QUERIES = DATA / "index_queries.json"
TASKS = DATA / "repo_completion.json"
MAX_FILE_BYTES = 1_000_000  # the index's default size limit (index/walk.py)


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "openmini" / "bench"
    return Path(os.environ.get("OPENMINI_BENCH_CACHE", default)).expanduser()


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sdist_path() -> Path:
    """The verified sdist, downloaded on first use."""
    sdists = cache_dir() / "sdists"
    path = sdists / SDIST
    if not path.exists():
        sdists.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=sdists) as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text(f"{NAME}=={VERSION} --hash=sha256:{SHA256}\n")
            print(f"downloading {NAME}=={VERSION} (sdist) with pip ...", file=sys.stderr)
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--no-binary", ":all:", "--require-hashes", "-r", str(req),
                            "-d", tmp], check=True, stdout=sys.stderr)
            os.replace(Path(tmp) / SDIST, path)
    digest = sha256(path)
    if digest != SHA256:
        raise RuntimeError(f"{path}: sha256 {digest}, expected {SHA256}; delete it and rerun")
    return path


def corpus_path() -> Path:
    """The unpacked sdist's root directory (fetched and unpacked on first use)."""
    base = cache_dir() / "corpus"
    root, marker = base / ROOT, base / f"{ROOT}.unpacked"
    if marker.exists() and root.is_dir():
        return root
    sdist = sdist_path()
    base.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(root, ignore_errors=True)
    with tempfile.TemporaryDirectory(dir=base) as tmp, tarfile.open(sdist) as tar:
        tar.extractall(tmp, filter="data")
        os.replace(Path(tmp) / ROOT, root)
    marker.write_text(json.dumps({"sdist": SDIST, "sha256": SHA256}) + "\n")
    return root


def copy_corpus(dest: Path) -> Path:
    """A private copy of the corpus at `dest` (which must not exist), for benchmarks that
    edit files; the mtimes are kept."""
    shutil.copytree(corpus_path(), dest, symlinks=True)
    return dest


def describe() -> dict[str, Any]:
    return {"name": NAME, "version": VERSION, "sdist": SDIST, "sha256": SHA256}


# --- what the index sees ------------------------------------------------------------------

def indexed_files(root: Path) -> tuple[dict[str, str], Counter[str]]:
    """The text of every file the index would read under `root`, by relative path, and what
    was left out by reason. Uses openmini.index's own walk and rules when importable; else
    an approximation (no ignore rules, the size limit, text only)."""
    skipped: Counter[str] = Counter()
    out: dict[str, str] = {}
    try:
        from openmini.index.ignore import IgnoreRules
        from openmini.index.walk import decode_text, looks_generated, walk
    except ImportError:
        skipped["approximate (openmini.index not importable)"] += 1
        for p in sorted(root.rglob("*")):
            if p.is_symlink() or not p.is_file():
                continue
            if p.stat().st_size > MAX_FILE_BYTES:
                skipped["too_large"] += 1
                continue
            data = p.read_bytes()
            try:
                out[p.relative_to(root).as_posix()] = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                skipped["binary"] += 1
        return out, skipped
    for f in walk(root, IgnoreRules(root), MAX_FILE_BYTES, skipped=skipped):
        text = decode_text((root / f.path).read_bytes())
        if text is None:
            skipped["binary"] += 1
        elif looks_generated(text):
            skipped["generated"] += 1
        else:
            out[f.path] = text
    return out, skipped


def python_files(root: Path) -> dict[str, str]:
    """The Python files the index would read, by relative path."""
    files, _ = indexed_files(root)
    return {p: t for p, t in files.items() if p.endswith(".py")}


def count(root: Path) -> dict[str, Any]:
    files, skipped = indexed_files(root)
    res: dict[str, Any] = {"python_files": 0, "python_lines": 0, "python_bytes": 0,
                           "other_files": 0, "other_lines": 0, "other_bytes": 0}
    for path, text in files.items():
        kind = "python" if path.endswith(".py") else "other"
        res[f"{kind}_files"] += 1
        res[f"{kind}_lines"] += len(text.splitlines())
        res[f"{kind}_bytes"] += len(text.encode())
    res["python_test_lines"] = sum(len(t.splitlines()) for p, t in files.items()
                                   if p.endswith(".py") and "/tests/" in p)
    res["skipped"] = dict(skipped)
    return res


# --- the query set and its metrics (shared by the index benchmarks) -------------------------

def load_queries(path: Path = QUERIES) -> list[dict[str, Any]]:
    """The query set: dicts with query, path (relative to the corpus root), symbol
    (`Class.method` or `function`) and start_line (1-based, the def/class line)."""
    body = json.loads(path.read_text())
    queries: list[dict[str, Any]] = body["queries"]
    return queries


def reciprocal_rank(rank: int | None, cutoff: int = 10) -> float:
    """1/rank for a hit at 1-based `rank` within `cutoff`, else 0 (MRR@cutoff)."""
    return 1.0 / rank if rank is not None and rank <= cutoff else 0.0


def rank_metrics(ranks: Sequence[int | None], ks: Sequence[int] = (1, 5, 10),
                 cutoff: int = 10) -> dict[str, float]:
    """recall@k (the answer within the first k) and MRR@cutoff over 1-based ranks (None:
    not found)."""
    n = len(ranks) or 1
    out = {f"recall@{k}": sum(r is not None and r <= k for r in ranks) / n for k in ks}
    out[f"mrr@{cutoff}"] = sum(reciprocal_rank(r, cutoff) for r in ranks) / n
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--count", action="store_true", help="count the files the index would see")
    a = p.parse_args()
    root = corpus_path()
    print(root)
    if a.count:
        print(json.dumps({**describe(), **count(root)}, indent=2))


if __name__ == "__main__":
    main()
