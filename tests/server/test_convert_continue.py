"""vLLM's continue_final_message on the OpenAI edge: the final assistant message continued."""

from __future__ import annotations

import pytest

from openmini.backends.base import Capabilities
from openmini.errors import InvalidRequest, UnsupportedParameter
from openmini.server.convert import chat_request
from openmini.server.schemas import ChatCompletionRequest

MESSAGES = [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "1, 2,"}]


def body(**fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"model": "m", "messages": MESSAGES, **fields})


def test_continue_final_message_sets_continue_final() -> None:
    request = chat_request(body(continue_final_message=True, add_generation_prompt=False),
                           Capabilities(prefill=True), "id")
    assert request.continue_final
    assert not chat_request(body(), Capabilities(prefill=True), "id").continue_final


@pytest.mark.parametrize("fields, caps, error, param", [
    ({"continue_final_message": True}, Capabilities(prefill=True), InvalidRequest,
     "add_generation_prompt"),
    ({"add_generation_prompt": False}, Capabilities(prefill=True), UnsupportedParameter,
     "add_generation_prompt"),
    ({"continue_final_message": True, "add_generation_prompt": False}, Capabilities(),
     UnsupportedParameter, "continue_final_message"),
])
def test_mistakes_are_named(fields: dict[str, object], caps: Capabilities,
                            error: type[Exception], param: str) -> None:
    with pytest.raises(error) as caught:
        chat_request(body(**fields), caps, "id")
    assert caught.value.param == param  # type: ignore[attr-defined]


def test_it_needs_a_final_assistant_message() -> None:
    wire = ChatCompletionRequest.model_validate({"model": "m", "messages": MESSAGES[:1],
                                                 "continue_final_message": True,
                                                 "add_generation_prompt": False})
    with pytest.raises(InvalidRequest) as caught:
        chat_request(wire, Capabilities(prefill=True), "id")
    assert caught.value.param == "messages"
