"""The real app under a real uvicorn server on 127.0.0.1 (a free port), in a thread with its own
event loop, lifespan included (so the batch runner and the file sweeper run). The `openai` SDK
here talks httpx2, which an httpx ASGITransport cannot serve: a socket it is."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import uvicorn

from openmini.backends.base import Backend
from openmini.config import ServerConfig
from openmini.router import Router
from openmini.server.app import create_app

from ..fake_backend import FakeBackend


@contextmanager
def serving(config: ServerConfig, backend: Backend | Router | None = None,
            embedders: Mapping[str, Any] | None = None) -> Iterator[str]:
    """The base URL of `create_app(config, backend, embedders)` (a FakeBackend when no backend
    is given) while the block runs; the server's lifespan closes the backend (and the
    embedders) when it ends."""
    app = create_app(config, FakeBackend() if backend is None else backend, embedders)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
