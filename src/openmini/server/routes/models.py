"""GET /v1/models and /v1/models/{id}"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from openmini.errors import ModelNotFound

router = APIRouter()


def _model(model_id: str, created: int) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": "openmini"}


@router.get("/v1/models")
async def list_models(http: Request) -> dict[str, Any]:
    state = http.app.state
    ids = state.pipeline.backend.model_ids()
    return {"object": "list", "data": [_model(i, state.started) for i in ids]}


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(model_id: str, http: Request) -> dict[str, Any]:
    state = http.app.state
    if model_id not in state.pipeline.backend.model_ids():
        raise ModelNotFound(model_id)
    return _model(model_id, state.started)
