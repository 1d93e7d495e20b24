"""`serve(config, backend)`: one uvicorn worker (a second would load the model twice)."""

from __future__ import annotations

import uvicorn

from openmini.backends.base import Backend
from openmini.config import ServerConfig
from openmini.server.app import create_app


def serve(config: ServerConfig, backend: Backend) -> None:
    """Serve until interrupted; the app's lifespan closes the backend on shutdown."""
    app = create_app(config, backend)
    server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port,
                                           log_level="info", access_log=False, lifespan="on"))
    server.run()
