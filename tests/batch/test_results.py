"""A line's usage, read from its response body as the upstream backends read one."""

from __future__ import annotations

from openmini.batch.results import usage_of
from openmini.types import Usage


def test_openai_usage_with_cached_and_reasoning_tokens() -> None:
    body = {"usage": {"prompt_tokens": 30, "completion_tokens": 7,
                      "prompt_tokens_details": {"cached_tokens": 20},
                      "completion_tokens_details": {"reasoning_tokens": 3}}}
    assert usage_of(body) == Usage(prompt_tokens=30, completion_tokens=7, cached_tokens=20,
                                   reasoning_tokens=3)


def test_anthropic_usage_counts_cache_reads_in_the_input() -> None:
    # Anthropic counts cache reads apart from input_tokens; the batch's input counts them
    body = {"usage": {"input_tokens": 10, "cache_read_input_tokens": 20, "output_tokens": 5}}
    assert usage_of(body) == Usage(prompt_tokens=30, completion_tokens=5, cached_tokens=20)


def test_a_body_without_usage_counts_nothing() -> None:
    assert usage_of({"input_tokens": 12}) == Usage()  # count_tokens answers this
    assert usage_of({"usage": None}) == Usage()
