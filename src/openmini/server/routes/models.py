"""GET /v1/models and /v1/models/{id}"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request

from openmini.errors import ModelNotFound

router = APIRouter()


def _model(model_id: str, http: Request) -> dict[str, Any]:
    """OpenAI's model object, with `type` ("chat", or "embedding": POST /v1/embeddings only,
    with its `dimensions`) and how the model takes images: "native" (it sees them),
    "perception" (they are described to it as text: OCR, labels, colours), or null."""
    state = http.app.state
    model = {"id": model_id, "object": "model", "created": state.started,
             "owned_by": "openmini"}
    embedder = state.embedders.get(model_id)
    if embedder is not None:
        return {**model, "type": "embedding", "vision": None,
                "dimensions": embedder.dimensions, "context_length": embedder.context_length}
    return {**model, "type": "chat", "vision": state.pipeline.capabilities(model_id).vision}


def _ids(http: Request) -> list[str]:
    return [*http.app.state.pipeline.router.model_ids(), *http.app.state.embedders]


@router.get("/v1/models")
async def list_models(http: Request) -> dict[str, Any]:
    return {"object": "list", "data": [_model(i, http) for i in _ids(http)]}


@router.get("/v1/models/{model_id:path}")
async def retrieve_model(model_id: str, http: Request) -> dict[str, Any]:
    if model_id not in _ids(http):
        raise ModelNotFound(model_id)
    return _model(model_id, http)
