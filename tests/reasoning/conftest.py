"""A real llguidance tokenizer over the `tiny` model's vocabulary (vocab only, no weights), as
in tests/decoding/conftest.py: the thinking grammar compiled and driven token by token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import llama_cpp as ll
import pytest

from openmini.decoding.compiler import GrammarCompiler, tokenizer_for
from openmini.models import resolve_model


@pytest.fixture(scope="session")
def vocab() -> Iterator[Any]:
    params = ll.llama_model_default_params()
    params.vocab_only = True
    model = ll.llama_model_load_from_file(str(resolve_model("tiny")).encode(), params)
    yield ll.llama_model_get_vocab(model)
    ll.llama_model_free(model)


@pytest.fixture(scope="session")
def tokenizer(vocab: Any) -> Any:
    return tokenizer_for(vocab)


@pytest.fixture
def compiler(tokenizer: Any) -> GrammarCompiler:
    return GrammarCompiler(tokenizer, capacity=4)
