"""bad_words backtracking through the real engine loop on a scripted model.

The model is a table from the text so far to the tokens it prefers; its KV cache is a list of
tokens per sequence, and every decode checks that positions follow on from what is cached. A
rewind that forgot a KV cell, a count or a detokeniser byte would change the text the script
sees, and with it the output.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from openmini.engine.batch import Batch
from openmini.engine.engine import Engine, EngineSettings
from openmini.pipeline import Completion, collect
from openmini.types import Event, SamplingParams, TextDelta

VOCAB = ["<eos>", "Q:", "I", " like", " love", " Cat", " c", "at", "s", " dogs", ".", "\xc3",
         "\xa9", "at\xc3"]
IDS = {text: i for i, text in enumerate(VOCAB)}
PIECES = {11: b"\xc3", 12: b"\xa9", 13: b"at\xc3"}  # bytes of "é" split; "at" + a first byte
SCRIPT = {
    "Q:": ["I"],
    "Q:I": [" like", " love"],
    "Q:I like": [" Cat", " c", " dogs"],
    "Q:I like Cat": ["s"], "Q:I like c": ["at"], "Q:I like cat": ["s"],
    "Q:I love": [" dogs"],
}


class ScriptModel:
    """Prefers SCRIPT[text] in order; "." after a plural, then end of sequence."""

    def __init__(self, script: dict[str, list[str]], floor: float = -20.0):
        self.script = script
        self.floor = floor  # logit of every token the script does not list (-inf: masked)
        self.n_vocab = len(VOCAB)
        self.eog_ids = frozenset({0})
        self.settings = SimpleNamespace(n_seq_max=16)
        self.kv: dict[int, list[int]] = {}
        self.rows: dict[int, np.ndarray] = {}

    def piece(self, token: int) -> bytes:
        return PIECES.get(token) or VOCAB[token].encode()

    def text(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    def logits(self, tokens: Sequence[int]) -> np.ndarray:
        text = self.text(tokens)
        prefs = self.script.get(text)
        if prefs is None:
            prefs = ["."] if text.endswith(("s", "dogs")) else ["<eos>"]
        row = np.full(self.n_vocab, self.floor, dtype=np.float32)
        for rank, tok in enumerate(prefs):
            row[IDS[tok]] = 10.0 - rank
        return row

    def decode(self, batch: Batch) -> None:
        self.rows = {}
        for i in range(batch.n):
            seq_id = int(batch._seq_ptrs[i][0])
            cells = self.kv.setdefault(seq_id, [])
            assert int(batch.pos[i]) == len(cells), "a position skips or repeats a KV cell"
            cells.append(int(batch.tokens[i]))
            if batch.logits[i]:
                self.rows[i] = self.logits(cells)

    def logits_row(self, i: int) -> np.ndarray:
        return self.rows[i]

    def seq_rm(self, seq_id: int, p0: int = -1, p1: int = -1) -> bool:
        assert p1 == -1
        cells = self.kv.get(seq_id, [])
        del cells[max(p0, 0):]
        return True

    def seq_cp(self, src: int, dst: int, p0: int, p1: int) -> None:
        self.kv[dst] = list(self.kv[src][p0:p1])


class ScriptedEngine(Engine):
    def _decode(self) -> None:
        self.model.decode(self.batch)  # type: ignore[attr-defined]


@pytest.fixture
def engine() -> Iterator[ScriptedEngine]:
    e = ScriptedEngine(ScriptModel(SCRIPT), EngineSettings(parallel=4, stream_interval=0))  # type: ignore[arg-type]
    yield e
    e.close()


def fields(n: int = 1, max_tokens: int = 16, processors: Any = None, **params: Any
           ) -> dict[str, object]:
    return dict(request_id="r", prompt=[IDS["Q:"]], n=n, max_tokens=max_tokens,
                processors=processors, params=replace(SamplingParams(temperature=0), **params))


async def run(engine: Engine, events: list[Event] | None = None, **kw: Any) -> Completion:
    seen = [] if events is None else events

    async def stream() -> Any:
        async for ev in engine.generate(fields(**kw)):
            seen.append(ev)
            yield ev

    return await collect(stream(), kw.get("n", 1))


def ids(*texts: str) -> list[int]:
    return [IDS[t] for t in texts]


async def test_without_bad_words_the_script_says_cats(engine: Engine) -> None:
    out = await run(engine)
    assert out.text == "I like Cats."
    assert engine.stats.backtracks == 0


async def test_banned_phrase_backtracks_and_resamples(engine: Engine) -> None:
    events: list[Event] = []
    out = await run(engine, events, bad_words=("cat",))
    assert out.text == "I like dogs."
    assert out.choices[0].token_ids == ids("I", " like", " dogs", ".")
    assert out.choices[0].finish_reason == "stop"
    assert out.usage.completion_tokens == 5  # 4 kept tokens and the end of sequence
    # " Cat" (1 token) was banned first, then " c" + "at" (2 tokens)
    assert (engine.stats.backtracks, engine.stats.tokens_backtracked) == (2, 3)
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert all("cat" not in d.casefold() and " c" not in d for d in deltas)


async def test_backtrack_goes_to_the_token_where_the_phrase_starts(engine: Engine) -> None:
    out = await run(engine, bad_words=("LIKE CAT",))
    assert out.text == "I love dogs."  # " like" was held back and is the token banned
    assert engine.stats.backtracks == 1


async def test_dead_end_backs_up_to_a_held_token(engine: Engine) -> None:
    engine.model.script = {**SCRIPT, "Q:I like": [" Cat", " c"]}  # type: ignore[attr-defined]
    engine.model.floor = -np.inf  # type: ignore[attr-defined]
    out = await run(engine, bad_words=("cat", "like cab"))  # keeps " like" held back
    assert out.text == "I love dogs."  # every token after " like" was banned: " like" goes
    assert engine.stats.backtracks == 3


async def test_dead_end_with_nothing_held_ends_with_content_filter(engine: Engine) -> None:
    engine.model.script = {**SCRIPT, "Q:I like": [" Cat", " c"]}  # type: ignore[attr-defined]
    engine.model.floor = -np.inf  # type: ignore[attr-defined]
    out = await run(engine, bad_words=("cat",))
    assert out.text == "I like"
    assert out.choices[0].finish_reason == "content_filter"
    assert out.usage.completion_tokens == 2


async def test_backtrack_budget_ends_with_content_filter() -> None:
    e = ScriptedEngine(ScriptModel(SCRIPT), EngineSettings(parallel=2, max_backtracks=1))  # type: ignore[arg-type]
    try:
        out = await run(e, bad_words=("cat",))
    finally:
        e.close()
    assert out.text == "I like"  # " c" (held, a prefix of "cat") was dropped with "at"
    assert out.choices[0].finish_reason == "content_filter"
    assert out.usage.completion_tokens == 2


async def test_choices_and_other_requests_are_independent(engine: Engine) -> None:
    banned, plain = await asyncio.gather(run(engine, n=3, bad_words=("cats",)), run(engine))
    # each choice: " Cat" + "s", then " c" + "at" + "s": the path is banned at its first token
    assert [c.text for c in banned.choices] == ["I like dogs."] * 3
    assert banned.usage.completion_tokens == 3 * 5
    assert plain.text == "I like Cats."
    assert engine.stats.backtracks == 6 and engine.stats.tokens_backtracked == 15


async def test_forked_choices_back_up_to_their_first_token(engine: Engine) -> None:
    engine.model.script = {**SCRIPT, "Q:": ["I", " love"]}  # type: ignore[attr-defined]
    out = await run(engine, n=2, bad_words=("i like",))
    # each choice recomputes the last prompt token in its own KV cells to resample token 0
    assert [c.text for c in out.choices] == [" love"] * 2
    assert engine.stats.backtracks == 2


async def test_stop_strings_and_max_tokens_with_bad_words(engine: Engine) -> None:
    out = await run(engine, bad_words=("cat",), stop=(" dogs",))
    assert out.text == "I like"
    assert out.choices[0].stop_reason == " dogs"
    out = await run(engine, bad_words=("cat",), max_tokens=3)
    assert out.text == "I like c" and out.choices[0].finish_reason == "length"  # held " c"
    out = await run(engine, bad_words=("like d",), stop=("like",))
    assert out.text == "I " and out.choices[0].stop_reason == "like"  # held, then stopped


async def test_logprobs_follow_only_the_kept_tokens(engine: Engine) -> None:
    out = await run(engine, bad_words=("cat",), logprobs=True, top_logprobs=2)
    choice = out.choices[0]
    assert choice.logprobs is not None
    assert [lp.token for lp in choice.logprobs] == ["I", " like", " dogs", "."]


async def test_penalties_are_rewound(engine: Engine) -> None:
    engine.model.script = {**SCRIPT, "Q:I like dogs": [" c", "."],  # type: ignore[attr-defined]
                           "Q:I like dogs c": ["."]}
    out = await run(engine, bad_words=("cat",), frequency_penalty=2.0, presence_penalty=2.0)
    # the dropped " c" left no count behind: penalised, it would lose to "." (10 - 4 < 9)
    assert out.text == "I like dogs c."


async def test_split_character_is_rewound(engine: Engine) -> None:
    engine.model.script = {**SCRIPT, "Q:": ["\xc3", "I"], "Q:\ufffd": ["\xa9"],  # type: ignore[attr-defined]
                           "Q:é": ["I"], "Q:éI": [" like"]}
    out = await run(engine, bad_words=("éi",))
    assert out.text == "I like Cats."  # "é" was split over two tokens: the path from its
    assert out.choices[0].token_ids[0] == IDS["I"]  # first byte is the one banned
    assert engine.stats.backtracks == 1 and engine.stats.tokens_backtracked == 3
    engine.model.script = {**SCRIPT, "Q:I like c": ["at\xc3"]}  # type: ignore[attr-defined]
    out = await run(engine, bad_words=("cat",))
    assert out.text == "I like dogs."  # the dropped "at\xc3" left no pending byte behind


class Recorder:
    """A processor that checks it sees exactly the sampler's history after rollbacks."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.rollbacks: list[int] = []

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None:
        assert list(generated) == self.tokens

    def accept(self, token: int) -> None:
        self.tokens.append(token)

    def rollback(self, n: int) -> None:
        self.rollbacks.append(n)
        del self.tokens[len(self.tokens) - n:]


async def test_processors_roll_back(engine: Engine) -> None:
    procs = [Recorder()]
    out = await run(engine, bad_words=("cat",), processors=lambda i: procs)
    assert out.text == "I like dogs."
    assert procs[0].rollbacks == [1, 2]
    assert procs[0].tokens == ids("I", " like", " dogs", ".", "<eos>")


class Stateless:
    """No rollback method: keeps no state of its own (reads `generated`)."""

    def process(self, generated: Sequence[int], logits: np.ndarray) -> None: ...

    def accept(self, token: int) -> None: ...


async def test_a_processor_without_rollback_is_taken_as_stateless(engine: Engine) -> None:
    out = await run(engine, bad_words=("cat",), processors=lambda i: [Stateless()])
    assert out.text == "I like dogs."
