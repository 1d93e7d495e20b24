"""`serve(config, backend)`: one uvicorn worker (a second would load the model twice)."""

from __future__ import annotations

import gc
from collections.abc import Mapping
from typing import TYPE_CHECKING

import uvicorn

from openmini.backends.base import Backend
from openmini.config import ServerConfig
from openmini.router import Router
from openmini.server.app import create_app

if TYPE_CHECKING:
    from openmini.engine.embed import Embedder


def serve(config: ServerConfig, backend: Backend | Router,
          embedders: Mapping[str, Embedder] | None = None) -> None:
    """Serve until interrupted; the app's lifespan closes the backend (and the embedding
    models) on shutdown."""
    app = create_app(config, backend, embedders)
    # Everything built so far (model tables, templates, the app) lives as long as the server:
    # move it out of the collector's reach so collections stay short on the request path.
    gc.collect()
    gc.freeze()
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port,
                                           log_level="info", access_log=False, lifespan="on"))
    server.run()
