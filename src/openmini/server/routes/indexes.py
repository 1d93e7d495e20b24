"""Codebase indexes over HTTP (extension, docs/index.md): POST/GET /v1/indexes,
GET/DELETE /v1/indexes/{name}, POST /v1/indexes/{name}/search and /update.

The server's IndexManager (`app.state.indexes`, index/manager.py) keeps its indexes in the
data directory the CLI uses, so an index made here is searched by `openmini search` and the
other way round. Every manager call blocks (SQLite, the embedding model) and runs in a worker
thread. Creating or updating an index answers at once (status "indexing"); the update runs
in a worker thread owned by the app (`app.state.index_jobs`), stopped and waited for when the
app shuts down. At start-up the app resumes the indexes whose update stopped with the
process running it (status "failed", error "interrupted: ..."). What a client may index is
limited to the configured roots (index/roots.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from fastapi import APIRouter
from starlette.requests import Request

from openmini.errors import NotFound, PermissionDenied
from openmini.index.indexer import Cancelled
from openmini.index.manager import IndexManager
from openmini.index.roots import allowed_root, relative_paths, resolved, under_roots
from openmini.index.store import IndexInfo
from openmini.server.schemas import WireModel

log = logging.getLogger("openmini.server")
router = APIRouter()
T = TypeVar("T")


class IndexCreateRequest(WireModel):
    path: str  # a directory under the server's index roots
    name: str | None = None  # default: the directory's name


class IndexSearchRequest(WireModel):
    query: str
    k: int = 10
    path: str | None = None  # a glob, or a file or directory, relative to the index root
    language: str | None = None
    kind: str | None = None
    mode: str = "hybrid"  # extension: "hybrid", "bm25" or "vector"


class IndexUpdateRequest(WireModel):
    paths: Any = None  # files or directories changed, relative to the root; None: all


class IndexJobs:
    """The app's index updates: each a task awaiting a worker thread."""

    def __init__(self, indexes: IndexManager):
        self.indexes = indexes
        self.tasks: set[asyncio.Task[None]] = set()

    def start(self, name: str, paths: list[str] | None = None) -> None:
        """Update the index in a worker thread (only `paths` when given); the caller has
        created it, or marked the update due (IndexManager.schedule)."""
        task = asyncio.create_task(asyncio.to_thread(self._update, name, paths))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def resume(self) -> None:
        """Start an update of each index left interrupted by a process that stopped."""
        for name in await asyncio.to_thread(self.indexes.interrupted):
            with contextlib.suppress(NotFound):
                await asyncio.to_thread(self.indexes.schedule, name)
                log.info("index %s: resuming its interrupted update", name)
                self.start(name)

    def _update(self, name: str, paths: list[str] | None) -> None:
        try:
            self.indexes.update(name, paths=paths)
        except (Cancelled, NotFound):  # removed meanwhile, or the server stops
            pass
        except Exception as exc:  # recorded on the index: status "failed", its error
            log.warning("index %s: update failed: %s", name, exc)

    async def close(self) -> None:
        """Stop the updates at their next file and wait for their threads."""
        self.indexes.stop_updates()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def _indexes(http: Request) -> IndexManager:
    return cast(IndexManager, http.app.state.indexes)


def index_object(info: IndexInfo) -> dict[str, Any]:
    return {"object": "index", **info.to_dict()}


async def _call(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A manager call in a worker thread; its unknown-index 404 names `name` (the path's)."""
    try:
        return await asyncio.to_thread(call, *args, **kwargs)
    except NotFound as exc:
        raise NotFound(exc.message, param="name", code=exc.code or "index_not_found") from None


@router.post("/v1/indexes")
async def create_index(body: IndexCreateRequest, http: Request) -> dict[str, Any]:
    roots = http.app.state.config.index_roots
    indexes = _indexes(http)
    root = await asyncio.to_thread(allowed_root, body.path, roots)
    info = await asyncio.to_thread(indexes.create, root, body.name)
    if not await asyncio.to_thread(lambda: under_roots(resolved(info.path), roots)):
        # the directory was swapped for a link between the check and the record
        with contextlib.suppress(NotFound):
            await asyncio.to_thread(indexes.remove, info.name)
        raise PermissionDenied(f"Cannot index {body.path!r}: it is outside the directories "
                               "this server lets API clients index.", param="path")
    http.app.state.index_jobs.start(info.name)
    return index_object(info)


@router.get("/v1/indexes")
async def list_indexes(http: Request) -> dict[str, Any]:
    infos = await asyncio.to_thread(_indexes(http).list)
    return {"object": "list", "data": [index_object(info) for info in infos]}


@router.get("/v1/indexes/{name}")
async def retrieve_index(name: str, http: Request) -> dict[str, Any]:
    return index_object(await _call(_indexes(http).get, name))


@router.delete("/v1/indexes/{name}")
async def delete_index(name: str, http: Request) -> dict[str, Any]:
    await _call(_indexes(http).remove, name)
    return {"name": name, "object": "index", "deleted": True}


@router.post("/v1/indexes/{name}/update")
async def update_index(name: str, http: Request, body: IndexUpdateRequest | None = None
                       ) -> dict[str, Any]:
    """Bring the index up to date with its directory, in the background: every file, or
    the `paths` given (files or directories, relative to its root; a deleted one leaves
    the index). Answers the index object, status "indexing"."""
    paths = None
    if body is not None and body.paths is not None:
        paths = relative_paths(body.paths)
        if "." in paths:  # the root itself: everything
            paths = None
    indexes = _indexes(http)
    await _call(indexes.schedule, name)
    info = await _call(indexes.get, name)  # "indexing": read before the update can end
    http.app.state.index_jobs.start(name, paths)
    return index_object(info)


@router.post("/v1/indexes/{name}/search")
async def search_index(name: str, body: IndexSearchRequest, http: Request
                       ) -> dict[str, Any]:
    hits = await _call(_indexes(http).search, name, body.query, body.k, mode=body.mode,
                       path=body.path, language=body.language, kind=body.kind)
    return {"object": "list", "data": [hit.to_dict() for hit in hits]}
