"""GET /health (always open) and GET /metrics (Prometheus text)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openmini.server.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/health")
async def health(http: Request) -> dict[str, Any]:
    router = http.app.state.pipeline.router
    stats = router.stats()
    return {"status": "ok", "models": router.model_ids(),
            "queue_depth": stats.queue_depth, "running": stats.running}


@router.get("/metrics", response_class=Response)
async def metrics(http: Request) -> Response:
    return Response(http.app.state.metrics.render(), media_type=CONTENT_TYPE)
