"""What every upstream backend shares (openai_compat.py, anthropic.py): the exposed ids and
their upstream ids, one pooled httpx client, the health check the router runs, the count of
requests in flight."""

from __future__ import annotations

import httpx

from openmini.backends.base import BackendStats, Capabilities
from openmini.errors import ModelNotFound

HEALTH_TIMEOUT_S = 2.0


class UpstreamBackend:
    health_path = "/models"  # under base_url: the model list, which every such API has

    def __init__(self, name: str, base_url: str, models: dict[str, str], *,
                 capabilities: Capabilities, headers: dict[str, str], timeout_s: float,
                 client: httpx.AsyncClient | None):
        if not models:
            raise ValueError(f"provider {name!r}: no models")
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.models = dict(models)
        self.capabilities = capabilities
        self._headers = headers
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s),
                                                   limits=httpx.Limits(keepalive_expiry=30))
        self._running = 0

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
        try:
            response = await self._client.get(self.base_url + self.health_path,
                                              headers=self._headers, timeout=HEALTH_TIMEOUT_S)
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def stats(self) -> BackendStats:
        return BackendStats(running=self._running)

    async def close(self) -> None:
        if self._owns_client:
            await self._client.aclose()
