"""Prompt tokenisation cached between special tokens: same tokens as llama.cpp, fewer calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from openmini.engine.model import ContextSettings, LlamaModel
from openmini.engine.tokenizer import SegmentTokenizer
from openmini.models import resolve_model

SPECIALS = {"<s>": 1, "<|im_start|>": 10, "<|im_end|>": 11}


class CharTokenizer:
    """A scripted tokenizer: one token per character, specials parsed like llama.cpp."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, text: str, add_special: bool, parse_special: bool) -> list[int]:
        self.calls.append(text)
        out = [1] if add_special else []
        i = 0
        while i < len(text):
            name = next((s for s in sorted(SPECIALS, key=len, reverse=True)
                         if parse_special and text.startswith(s, i)), None)
            if name:
                out.append(SPECIALS[name])
                i += len(name)
            else:
                out.append(1000 + ord(text[i]))
                i += 1
        return out


def test_fragments_are_cached_and_tokens_unchanged() -> None:
    raw = CharTokenizer()
    tok = SegmentTokenizer(raw, SPECIALS, bos=1)
    assert tok.exact
    text = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
    assert tok(text, True) == raw(text, True, True)
    raw.calls.clear()
    again = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
    assert tok(again, False) == raw(again, False, True)[:]
    # only the new user fragment reached the tokenizer (plus the reference call above)
    assert raw.calls == ["user\nBye", again]
    assert tok.hits >= 3


def test_lru_is_bounded() -> None:
    tok = SegmentTokenizer(CharTokenizer(), SPECIALS, bos=1, max_entries=2)
    for word in ("a", "b", "c", "d"):
        tok(f"<|im_start|>{word}", False)
    assert len(tok._cache) == 2


def test_missing_bos_is_caught_by_the_probe() -> None:
    assert not SegmentTokenizer(CharTokenizer(), SPECIALS, bos=None).exact  # BOS would be lost


def test_inexact_tokenizer_is_not_cached() -> None:
    def merges_across_specials(text: str, add_special: bool, parse_special: bool) -> list[int]:
        return [len(text)]  # one token for everything: fragment-wise would differ

    tok = SegmentTokenizer(merges_across_specials, SPECIALS, bos=None)
    assert not tok.exact
    assert tok("<|im_start|>abc", False) == [len("<|im_start|>abc")]


@pytest.fixture(scope="module")
def tiny() -> Iterator[LlamaModel]:
    model = LlamaModel(resolve_model("tiny"), ContextSettings(n_ctx=256, n_batch=64,
                                                              n_seq_max=1, threads=1))
    yield model
    model.close()


@pytest.mark.model
@pytest.mark.parametrize("text", [
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM<|im_end|>\n"
    "<|im_start|>user\n  What's 2+2?\n\n<|im_end|>\n<|im_start|>assistant\n",
    "no specials at all, just text   with spaces\tand tabs",
    "<|endoftext|><|im_start|><|im_end|> adjacent specials, then ünïcödé ✓ 🙂",
    " leading space<|im_end|>trailing space ",
])
def test_real_model_tokens_match_llama(tiny: LlamaModel, text: str) -> None:
    assert tiny.prompt_tokenizer.exact
    for add_special in (False, True):
        expected = tiny.tokenize(text, add_special=add_special, parse_special=True)
        assert tiny.tokenize_prompt(text, add_special=add_special) == expected
        assert tiny.tokenize_prompt(text, add_special=add_special) == expected  # from cache
