"""POST /v1/code/outline: the symbols and syntax diagnostics of a snippet; POST
/v1/code/equivalent: whether two snippets differ only in layout, comments and local names
(extensions)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter

from openmini.code.equivalent import equivalent
from openmini.code.outline import outline
from openmini.server.schemas import WireModel

router = APIRouter()


class OutlineRequest(WireModel):
    code: str
    language: str | None = None


@router.post("/v1/code/outline")
async def code_outline(body: OutlineRequest) -> dict[str, Any]:
    # parsing a large snippet takes tens of ms: in a worker thread, off the event loop
    return await asyncio.to_thread(outline, body.code, body.language)


class EquivalentRequest(WireModel):
    a: str
    b: str
    language: str | None = None


@router.post("/v1/code/equivalent")
async def code_equivalent(body: EquivalentRequest) -> dict[str, Any]:
    # two parses and two tree walks: tens of ms for large files, off the event loop
    return await asyncio.to_thread(equivalent, body.a, body.b, body.language)
