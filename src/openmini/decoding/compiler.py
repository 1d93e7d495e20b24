"""Compile constraints against a model's tokenizer, once per distinct constraint (LRU cache).

llguidance has no separate compiled-grammar object: a pristine matcher is kept per grammar and
each sequence gets a `deep_copy()`, which shares the compiled lexer (microseconds).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from openmini.decoding.constraint import Constraint, grammar_of
from openmini.errors import InvalidRequest


def tokenizer_for(vocab: Any) -> Any:
    """An llguidance tokenizer over a llama.cpp vocab (~1 s for Qwen: build once per model).
    The model owning `vocab` must outlive it: llguidance calls llama_tokenize through it."""
    from llguidance.llamacpp import lltokenizer_from_vocab

    return lltokenizer_from_vocab(vocab)


class GrammarCompiler:
    def __init__(self, tokenizer: Any, capacity: int = 128):
        from llguidance import LLParserLimits

        self.tokenizer = tokenizer
        self.capacity = capacity
        self._limits = LLParserLimits(verbose_errors=False)
        self._cache: OrderedDict[Constraint, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.compiled = 0  # distinct grammars compiled (cache misses)

    def matcher(self, constraint: Constraint) -> Any:
        """A fresh matcher for one sequence. Raises InvalidRequest naming the parameter when the
        constraint is invalid or cannot be enforced as written."""
        with self._lock:
            pristine = self._cache.get(constraint)
            if pristine is not None:
                self._cache.move_to_end(constraint)
                return pristine.deep_copy()
        pristine = self._compile(constraint)
        with self._lock:
            self._cache[constraint] = pristine
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        return pristine.deep_copy()

    def _compile(self, constraint: Constraint) -> Any:
        from llguidance import LLMatcher

        try:
            grammar = grammar_of(constraint)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(f"Invalid {constraint.kind.replace('_', ' ')}: {exc}",
                                 param=constraint.param) from exc
        matcher = LLMatcher(self.tokenizer, grammar, log_level=0, limits=self._limits)
        if matcher.is_error():
            raise InvalidRequest(_explain(constraint, matcher.get_error()),
                                 param=constraint.param, code="invalid_constraint")
        self.compiled += 1
        return matcher


# llguidance's messages for schema features it does not implement (the schema may be valid)
UNENFORCEABLE = ("Unimplemented keys", "Unknown format", "oneOf constraints are not supported",
                 "only supported when all keys listed", "schema too large")


def _explain(constraint: Constraint, error: str) -> str:
    what = {"json_schema": "JSON schema", "regex": "regular expression",
            "choice": "choice list", "grammar": "grammar"}.get(constraint.kind, constraint.kind)
    if any(sign in error for sign in UNENFORCEABLE):
        return (f"The {what} uses something openmini cannot enforce while generating, so it is "
                f"refused rather than run unconstrained: {error}")
    return f"Invalid {what}: {error}"
