"""Fixtures several test folders share; each builds its real object only when asked for.

- `vocab`, `tokenizer`, `compiler`: an llguidance tokenizer over the `tiny` model's vocabulary
  (vocab only, no weights) and a small grammar compiler on it.
- `same_language`: checks that a JSON schema, compiled, accepts exactly the instances
  `jsonschema` says fit it (as written).
- `tiny_om`: the in-process API over a real `tiny` engine, one per test module.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import llama_cpp as ll
import pytest

from openmini.decoding.compiler import GrammarCompiler, tokenizer_for
from openmini.models import resolve_model

# Files and batches go to the user data directory unless a test names its own (data_dir):
# never the real one of whoever runs the tests.
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="openmini-tests-data-")


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


@pytest.fixture
def same_language(compiler: GrammarCompiler, tokenizer: Any) -> Callable[[Any, list[Any]], None]:
    import jsonschema

    from openmini.decoding.constraint import Constraint

    def enforced(schema: Any, instance: Any) -> bool:
        matcher = compiler.matcher(Constraint.json_schema(schema, "response_format"))
        tokens = tokenizer.tokenize_str(json.dumps(instance), parse_special=False)
        return all(matcher.consume_token(t) for t in tokens) and bool(matcher.is_accepting())

    def check(schema: Any, instances: list[Any]) -> None:
        validator = jsonschema.validators.validator_for(schema)(
            schema, format_checker=jsonschema.FormatChecker())  # formats asserted, as enforced
        for instance in instances:
            assert enforced(schema, instance) == validator.is_valid(instance), instance

    return check


@pytest.fixture(scope="module")
def tiny_om() -> Iterator[Any]:
    from openmini.api import AsyncOpenMini
    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig

    backend = LocalBackend(EngineConfig(model="tiny", threads=2, parallel=4, ctx_size=1024,
                                        prefix_cache_tokens=2048))
    yield AsyncOpenMini(backend=backend)
    asyncio.run(backend.close())
