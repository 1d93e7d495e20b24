"""OpenAI's Files API: POST/GET /v1/files, GET/DELETE /v1/files/{id}, GET .../content.

An upload is multipart/form-data (`file`, `purpose`, optional `expires_after[anchor]` and
`expires_after[seconds]`, as the SDK sends them). Starlette's parser spools the file part to a
temporary file as it arrives; FileStore.save (batch/files.py) then copies it, in chunks and in
a thread, into the data directory: a 200 MB upload never sits in memory. Every store call
runs in the thread pool (SQLite may wait on a writer). The store is `app.state.files`.
"""

from __future__ import annotations

import re
from typing import Any, cast

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse

from openmini.batch.files import MAX_LIST, FileStore, check_upload_purpose
from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.server.pages import page, query_limit

router = APIRouter()

# What a multipart body may carry beside the file itself (boundaries, part headers, fields):
# the body limit on POST /v1/files is batch_max_bytes plus this.
UPLOAD_OVERHEAD = 64 * 1024
ANCHOR, SECONDS = "expires_after[anchor]", "expires_after[seconds]"
FIELDS = frozenset({"file", "purpose", ANCHOR, SECONDS})
MIN_EXPIRY_S, MAX_EXPIRY_S = 3600, 30 * 86_400


def _files(http: Request) -> FileStore:
    return cast(FileStore, http.app.state.files)


@router.post("/v1/files")
async def upload_file(http: Request) -> dict[str, Any]:
    media_type = http.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise InvalidRequest("POST /v1/files takes a multipart/form-data body with a 'file' "
                             "part and a 'purpose' field.", param="file",
                             code="invalid_content_type")
    async with http.form(max_files=1, max_fields=len(FIELDS), max_part_size=4096) as form:
        upload, purpose, expires_after_s = _upload_fields(form)
        record = await run_in_threadpool(_files(http).save, upload.file,
                                         upload.filename or "", purpose, expires_after_s)
    return record.to_api()


def _upload_fields(form: FormData) -> tuple[UploadFile, str, int | None]:
    unknown = sorted(set(form.keys()) - FIELDS)
    if unknown:
        raise UnsupportedParameter(unknown[0][:64], "is not a parameter of POST /v1/files")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("Missing required parameter: 'file' (a file part of the "
                             "multipart body).", param="file",
                             code="missing_required_parameter")
    return upload, check_upload_purpose(form.get("purpose")), _expires_after(form)


def _expires_after(form: FormData) -> int | None:
    """Seconds after creation, from `expires_after[anchor]` and `expires_after[seconds]`."""
    anchor, seconds = form.get(ANCHOR), form.get(SECONDS)
    if anchor is None and seconds is None:
        return None
    if anchor != "created_at":
        raise InvalidRequest(f"{ANCHOR} must be 'created_at'.", param=ANCHOR,
                             code="invalid_value")
    if not isinstance(seconds, str) or not re.fullmatch(r"[0-9]{1,9}", seconds.strip()):
        raise InvalidRequest(f"{SECONDS} must be an integer.", param=SECONDS,
                             code="invalid_value")
    value = int(seconds)
    if not MIN_EXPIRY_S <= value <= MAX_EXPIRY_S:
        raise InvalidRequest(f"{SECONDS} must be from {MIN_EXPIRY_S} to {MAX_EXPIRY_S} "
                             "(one hour to 30 days).", param=SECONDS, code="invalid_value")
    return value


@router.get("/v1/files")
async def list_files(http: Request) -> dict[str, Any]:
    query = http.query_params
    limit = query_limit(query.get("limit"), MAX_LIST, MAX_LIST)
    records, has_more = await run_in_threadpool(
        _files(http).list, query.get("purpose"), limit, query.get("after"),
        query.get("order", "desc"))
    return page([record.to_api() for record in records], has_more)


# `:path` so that an id with a slash in it (`../x`) reaches the store's check and is a 404
# like any other unknown id. The content route comes first: the other would take its paths.
@router.get("/v1/files/{file_id:path}/content")
async def file_content(file_id: str, http: Request) -> FileResponse:
    files = _files(http)
    record = await run_in_threadpool(files.get, file_id)
    path = await run_in_threadpool(files.path, record.id)
    jsonl = record.filename.lower().endswith(".jsonl")
    return FileResponse(path, filename=record.filename,
                        media_type="application/jsonl" if jsonl else "application/octet-stream")


@router.get("/v1/files/{file_id:path}")
async def retrieve_file(file_id: str, http: Request) -> dict[str, Any]:
    return (await run_in_threadpool(_files(http).get, file_id)).to_api()


@router.delete("/v1/files/{file_id:path}")
async def delete_file(file_id: str, http: Request) -> dict[str, Any]:
    await run_in_threadpool(_files(http).delete, file_id)
    return {"id": file_id, "object": "file", "deleted": True}
