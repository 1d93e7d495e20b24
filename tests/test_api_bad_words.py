"""The Python API takes `bad_words` like the HTTP API: validated, carried in SamplingParams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from openmini.api import AsyncOpenMini
from openmini.errors import InvalidRequest
from openmini.types import Event, Request


class NullBackend:
    def model_ids(self) -> list[str]:
        return ["null"]

    async def generate(self, request: Request) -> AsyncIterator[Event]:
        if False:
            yield  # an empty stream


def test_bad_words_reach_the_request() -> None:
    om = AsyncOpenMini(backend=NullBackend())  # type: ignore[arg-type]
    assert om.request("hi", bad_words=["cat", "dog"]).sampling.bad_words == ("cat", "dog")
    assert om.request("hi", bad_words="cat").sampling.bad_words == ("cat",)
    assert om.request("hi").sampling.bad_words == ()


@pytest.mark.parametrize("value", [[""], ["x" * 201], [object()]])
def test_invalid_bad_words_raise_naming_the_field(value: Any) -> None:
    om = AsyncOpenMini(backend=NullBackend())  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest) as err:
        om.request("hi", bad_words=value)
    assert err.value.param == "bad_words"
