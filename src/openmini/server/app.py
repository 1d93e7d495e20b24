"""`create_app(config, backend)`: the FastAPI app owns all runtime state on `app.state`.
`backend`: one backend, or a Router over several (router/). Files (and batches) are kept in
the data directory: `app.state.store` (batch/store.py), `app.state.files` (batch/files.py).
`embedders`: the embedding models served on /v1/embeddings, by id (`app.state.embedders`;
closed with the app). Codebase indexes: `app.state.indexes` (index/manager.py, in the data
directory, or `index_dir`; embedding with the served model, else one opened on first need)
and their updates, `app.state.index_jobs` (stopped and waited for when the app shuts down;
at start-up, the indexes left interrupted are resumed unless `resume_indexes` is false)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.routing import BaseRoute

import openmini
from openmini.backends.base import Backend
from openmini.batch.batches import Batches
from openmini.batch.dispatch import AppDispatch, batch_endpoints
from openmini.batch.files import FileStore, sweep_periodically
from openmini.batch.runner import Runner
from openmini.batch.store import Store
from openmini.config import ServerConfig
from openmini.index.manager import IndexManager
from openmini.models.catalogue import DEFAULT_EMBEDDING_MODEL
from openmini.pipeline import Pipeline
from openmini.router import Router
from openmini.server.auth import ApiKeyMiddleware
from openmini.server.body_limit import BodyLimit, Limit
from openmini.server.errors import install_error_handlers
from openmini.server.fastpath import Endpoint, FastRoute, FastRoutes
from openmini.server.metrics import Metrics, MetricsMiddleware
from openmini.server.routes import (
    batches,
    chat,
    code,
    completions,
    embeddings,
    files,
    health,
    indexes,
    messages,
    models,
)
from openmini.server.schemas import ChatCompletionRequest, CompletionRequest
from openmini.server.timing import ServerTimingMiddleware
from openmini.vision.policy import from_config
from openmini.vision.stage import Intake

if TYPE_CHECKING:
    from openmini.engine.embed import Embedder

FILE_SWEEP_S = 3600.0  # expired files are removed at start and this often after


def create_app(config: ServerConfig, backend: Backend | Router,
               embedders: Mapping[str, Embedder] | None = None,
               index_dir: Path | None = None, resume_indexes: bool = True) -> FastAPI:
    deployments = backend if isinstance(backend, Router) else Router([backend])
    embedding = dict(embedders or {})
    clash = set(embedding) & set(deployments.model_ids())
    if clash:
        raise ValueError(f"model id(s) {', '.join(sorted(clash))} served twice")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        health = asyncio.create_task(deployments.run_health_checks())  # upstreams only
        sweep = asyncio.create_task(sweep_periodically(app.state.files, FILE_SWEEP_S))
        runner = asyncio.create_task(app.state.runner.run())  # batches left running resume
        if resume_indexes:
            await app.state.index_jobs.resume()  # and indexes left half-updated
        try:
            yield
        finally:
            health.cancel()
            sweep.cancel()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await app.state.index_jobs.close()
            await asyncio.to_thread(app.state.indexes.close)
            await deployments.close()
            for embedder in embedding.values():
                await asyncio.to_thread(embedder.close)
            app.state.store.close()

    app = FastAPI(title="openmini", version=openmini.__version__, lifespan=lifespan)
    app.state.config = config
    app.state.indexes = IndexManager.for_config(
        config, embedding.get(DEFAULT_EMBEDDING_MODEL),
        threads=max(1, config.engine.resolved_threads() // 2), directory=index_dir)
    app.state.index_jobs = indexes.IndexJobs(app.state.indexes)
    app.state.pipeline = Pipeline(deployments, config.tool_call_retries,
                                  Intake(*from_config(config)), embedding, app.state.indexes)
    app.state.embedders = embedding
    app.state.metrics = Metrics(deployments)
    app.state.started = int(time.time())
    app.state.store = Store(config.data_path() / "openmini.sqlite3")
    app.state.files = FileStore(app.state.store, config.data_path(), config.batch_max_bytes,
                                config.file_ttl_days)
    routers = [m.router for m in (chat, completions, messages, models, health, files, code,
                                  batches, embeddings, indexes)]
    for router in routers:
        app.include_router(router)
    # add_middleware wraps: the last added runs first (timing, metrics, then auth, then the
    # safety net for unexpected errors, then the body limit, then the completion routes' hot
    # path just outside FastAPI's routing).
    routes = [route for router in routers for route in router.routes]
    # a batch line generates or analyses; it does not create server state (an index)
    _batch_state(app, config, deployments,
                 [r for r in routes if r not in indexes.router.routes])
    app.add_middleware(FastRoutes, routes=_fast_routes(routes))
    upload = Limit(config.batch_max_bytes + files.UPLOAD_OVERHEAD, "batch_max_bytes")
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes,
                       paths={"/v1/files": upload})
    install_error_handlers(app)
    if config.api_key:
        app.add_middleware(ApiKeyMiddleware, api_key=config.api_key)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics, routes=routes)
    app.add_middleware(ServerTimingMiddleware)  # outermost: times everything below
    return app


def _batch_state(app: FastAPI, config: ServerConfig, deployments: Router,
                 routes: list[BaseRoute]) -> None:
    """The batches and their runner (batch/), which runs lines on this app's own routes."""
    served = frozenset([*deployments.model_ids(), *app.state.embedders])
    app.state.batches = Batches(app.state.store)
    app.state.batch_endpoints = batch_endpoints(routes)
    app.state.runner = Runner(app.state.store, app.state.files, app.state.batch_endpoints,
                              AppDispatch(app, config.api_key), served.__contains__,
                              config.batch_concurrency or 2 * config.engine.parallel,
                              config.batch_max_lines)


def _fast_routes(routes: list[BaseRoute]) -> dict[str, FastRoute]:
    """The completion routes, by path, for the hot path (server/fastpath.py)."""
    hot: dict[str, tuple[type[BaseModel], Endpoint]] = {
        "/v1/chat/completions": (ChatCompletionRequest, chat.create_chat_completion),
        "/v1/completions": (CompletionRequest, completions.create_completion)}
    by_path = {getattr(route, "path", None): route for route in routes}
    return {path: FastRoute(model, endpoint, by_path[path])
            for path, (model, endpoint) in hot.items()}
