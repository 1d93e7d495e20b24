"""GET /v1/models and /v1/models/{id}"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from openmini.errors import ModelNotFound

router = APIRouter()


def _model(model_id: str, http: Request) -> dict[str, Any]:
    """OpenAI's model object, and how the model takes images: "native" (it sees them),
    "perception" (they are described to it as text: OCR, labels, colours), or null."""
    state = http.app.state
    return {"id": model_id, "object": "model", "created": state.started, "owned_by": "openmini",
            "vision": state.pipeline.capabilities(model_id).vision}


@router.get("/v1/models")
async def list_models(http: Request) -> dict[str, Any]:
    ids = http.app.state.pipeline.router.model_ids()
    return {"object": "list", "data": [_model(i, http) for i in ids]}


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(model_id: str, http: Request) -> dict[str, Any]:
    if model_id not in http.app.state.pipeline.router.model_ids():
        raise ModelNotFound(model_id)
    return _model(model_id, http)
