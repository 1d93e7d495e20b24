"""OpenAI's cursor pages, as the Files and Batches list routes answer them."""

from __future__ import annotations

import re
from typing import Any

from openmini.errors import InvalidRequest


def query_limit(value: str | None, default: int, maximum: int) -> int:
    """The `limit` query parameter (1 to `maximum`, `default` when absent), a 400 naming it
    otherwise. Read by the route rather than declared on it, whose errors would name
    `query.limit`."""
    if value is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value.strip()) or not 1 <= int(value) <= maximum:
        raise InvalidRequest(f"limit must be an integer from 1 to {maximum}.", param="limit",
                             code="invalid_value")
    return int(value)


def page(data: list[dict[str, Any]], has_more: bool) -> dict[str, Any]:
    """`{"object": "list", "data", "first_id", "last_id", "has_more"}`."""
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": has_more}
