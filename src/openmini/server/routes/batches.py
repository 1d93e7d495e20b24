"""The Batches API: POST /v1/batches, GET /v1/batches[/{id}], POST /v1/batches/{id}/cancel.

OpenAI's shapes (docs/batch.md); the work itself is the runner's (batch/runner.py), woken
here when there is something new for it.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse

from openmini.errors import InvalidRequest, NotFound
from openmini.server.pages import page, query_limit
from openmini.server.schemas import WireModel

router = APIRouter()


class OutputExpiresAfter(WireModel):
    anchor: Literal["created_at"]
    seconds: int = Field(ge=3600, le=2_592_000)


class BatchCreate(WireModel):
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, str] | None = None
    output_expires_after: OutputExpiresAfter | None = None
    priority: int = Field(default=0, ge=-1000, le=1000,
                          description="Extension: lower runs first, among batches.")


def _check_metadata(metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > 16:
        raise InvalidRequest("metadata takes at most 16 key-value pairs.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or len(value) > 512:
            raise InvalidRequest("metadata keys take at most 64 characters and values 512.",
                                 param=f"metadata.{key[:64]}")


@router.post("/v1/batches")
async def create_batch(body: BatchCreate, http: Request) -> JSONResponse:
    state = http.app.state
    if body.endpoint not in state.batch_endpoints:
        served = ", ".join(sorted(state.batch_endpoints))
        raise InvalidRequest(f"endpoint must be one of {served}, not {body.endpoint!r}.",
                             param="endpoint")
    try:
        record = state.files.get(body.input_file_id)
    except NotFound as exc:
        raise NotFound(exc.message, param="input_file_id") from None
    if record.purpose != "batch":
        raise InvalidRequest(f"The input file must have purpose \"batch\", not "
                             f"{record.purpose!r}.", param="input_file_id")
    _check_metadata(body.metadata)
    expires = body.output_expires_after
    batch = state.batches.create(body.endpoint, body.input_file_id, body.completion_window,
                                 body.metadata, body.priority,
                                 expires.seconds if expires is not None else None)
    state.runner.wake()
    return JSONResponse(batch)


@router.get("/v1/batches")
async def list_batches(http: Request) -> dict[str, Any]:
    query = http.query_params
    after, limit = query.get("after"), query_limit(query.get("limit"), 20, 100)
    try:
        data, has_more = http.app.state.batches.list(after, limit)
    except NotFound as exc:  # the `after` cursor
        raise NotFound(exc.message, param="after") from None
    return page(data, has_more)


@router.get("/v1/batches/{batch_id}")
async def retrieve_batch(batch_id: str, http: Request) -> dict[str, Any]:
    batch: dict[str, Any] = http.app.state.batches.get(batch_id)
    return batch


@router.post("/v1/batches/{batch_id}/cancel")
async def cancel_batch(batch_id: str, http: Request) -> dict[str, Any]:
    batch: dict[str, Any] = http.app.state.batches.cancel(batch_id)
    http.app.state.runner.wake()
    return batch
