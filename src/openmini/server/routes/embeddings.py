"""POST /v1/embeddings (OpenAI's): texts or token ids -> L2-normalised vectors from an
embedding model (engine/embed.py), as floats or as base64 of little-endian float32."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from openmini.errors import InvalidRequest, ModelNotFound
from openmini.server.schemas import WireModel

if TYPE_CHECKING:  # llama.cpp is loaded only where an embedding model is
    from openmini.engine.embed import Embedder, Embeddings, Input

router = APIRouter()

MAX_INPUTS = 2048  # OpenAI's limit on inputs per request
INLINE_JSON_VALUES = 16_384  # floats encoded on the event loop; more: in a worker thread


class EmbeddingRequest(WireModel):
    model: str
    # a text, texts, one input's token ids, or several inputs' token ids
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None


@router.post("/v1/embeddings", response_model=None)
async def create_embeddings(body: EmbeddingRequest, http: Request) -> Response:
    embedder = _embedder(http, body.model)
    inputs, single = _inputs(body.input)
    if body.dimensions is not None and body.dimensions != embedder.dimensions:
        raise InvalidRequest(
            f"This model's embeddings have {embedder.dimensions} dimensions and cannot be "
            f"shortened: leave 'dimensions' out or set it to {embedder.dimensions}.",
            param="dimensions")
    result = await embedder.embed(inputs, single=single)
    payload = _payload(result, body)
    if result.vectors.size <= INLINE_JSON_VALUES or body.encoding_format == "base64":
        content = _dumps(payload)
    else:  # hundreds of thousands of floats: tens of ms of encoding, off the event loop
        content = await asyncio.to_thread(_dumps, payload)
    return Response(content, media_type="application/json")


def _embedder(http: Request, model: str) -> Embedder:
    """The embedding model `model`: 400 naming `model` for a chat model, else 404."""
    state = http.app.state
    embedders: dict[str, Embedder] = state.embedders
    found = embedders.get(model)
    if found is not None:
        return found
    if model in state.pipeline.router.model_ids():
        served = ", ".join(embedders) or "none here (embeddings are off)"
        raise InvalidRequest(f"'{model}' is not an embedding model; embedding models: "
                             f"{served}.", param="model", code="model_not_supported")
    raise ModelNotFound(model)


def _inputs(value: str | list[str] | list[int] | list[list[int]]
            ) -> tuple[Sequence[Input], bool]:
    """(the inputs, whether `input` was one input) after the checks that need no model."""
    if isinstance(value, str):
        if not value:
            raise InvalidRequest("'input' must not be an empty string.", param="input")
        return [value], True
    if not value:
        raise InvalidRequest("'input' must not be an empty list.", param="input")
    if isinstance(value[0], int):  # one input's token ids
        return [value], True
    if len(value) > MAX_INPUTS:
        raise InvalidRequest(f"'input' holds {len(value)} inputs; at most {MAX_INPUTS} are "
                             "allowed per request.", param="input")
    for i, item in enumerate(value):
        if not item:
            raise InvalidRequest(f"'input[{i}]' must not be empty.", param=f"input[{i}]")
    return value, False


def _payload(result: Embeddings, body: EmbeddingRequest) -> dict[str, Any]:
    encode = _base64 if body.encoding_format == "base64" else _floats
    data = [{"object": "embedding", "index": i, "embedding": encode(vector)}
            for i, vector in enumerate(result.vectors)]
    usage = {"prompt_tokens": result.prompt_tokens, "total_tokens": result.prompt_tokens}
    return {"object": "list", "data": data, "model": body.model, "usage": usage}


def _floats(vector: np.ndarray) -> list[float]:
    return vector.tolist()


def _base64(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()
