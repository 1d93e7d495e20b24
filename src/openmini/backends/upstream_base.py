"""What every upstream backend shares (openai_compat.py, anthropic.py): the exposed ids and
their upstream ids, one pooled aiohttp session (made on the event loop at first use), the
health check the router runs, the count of requests in flight."""

from __future__ import annotations

import aiohttp

from openmini.backends.base import BackendStats, Capabilities
from openmini.backends.upstream_http import get_ok, new_session
from openmini.errors import ModelNotFound

HEALTH_TIMEOUT_S = 2.0


class UpstreamBackend:
    health_path = "/models"  # under base_url: the model list, which every such API has

    def __init__(self, name: str, base_url: str, models: dict[str, str], *,
                 capabilities: Capabilities, headers: dict[str, str], timeout_s: float,
                 session: aiohttp.ClientSession | None):
        if not models:
            raise ValueError(f"provider {name!r}: no models")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.models = dict(models)
        self.capabilities = capabilities
        self._headers = headers
        self._timeout_s = timeout_s
        self._owns_session = session is None
        self._session_ = session
        self._running = 0

    @property
    def _session(self) -> aiohttp.ClientSession:
        """The pooled session, made on first use (aiohttp wants the running loop)."""
        if self._session_ is None:
            self._session_ = new_session(self._timeout_s)
        return self._session_

    def model_ids(self) -> list[str]:
        return list(self.models)

    def _upstream_model(self, model: str) -> str:
        try:
            return self.models[model]
        except KeyError:
            raise ModelNotFound(model) from None

    async def health(self) -> bool:
        """Whether the upstream answers `GET {base_url}{health_path}` with a 200 within
        2 s (the router's periodic check, router/router.py run_health_checks)."""
        return await get_ok(self._session, self.base_url + self.health_path, self._headers,
                            HEALTH_TIMEOUT_S)

    def stats(self) -> BackendStats:
        return BackendStats(running=self._running)

    async def close(self) -> None:
        if self._owns_session and self._session_ is not None:
            await self._session_.close()
