"""Engine-side request and sequence state. Plain objects owned by the engine thread."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openmini.decoding.bad_words import PhraseGuard
from openmini.engine.detok import IncrementalText, StopMatcher
from openmini.engine.sampling import LogitsProcessor, Sampler
from openmini.types import Event, SamplingParams

if TYPE_CHECKING:
    from openmini.engine.images import ImageSpan
    from openmini.hooks.base import TokenHook
    from openmini.hooks.chain import HookChain
    from openmini.reasoning.budget import Thinking

Sink = Callable[[list[Event]], object]
ProcessorFactory = Callable[[int], Sequence[LogitsProcessor]]
ThinkingFactory = Callable[[int], "Thinking"]

_arrivals = itertools.count()


def next_arrival() -> int:
    """A place in the queue's arrival order, for requests that must share one (a relevance
    probe and the answer it precedes: the answer keeps the probe's place)."""
    return next(_arrivals)


# Queue priorities from here on are batch lines (background requests): they run after every
# live request and never take the sequence slots kept for live ones (EngineConfig.live_slots).
BATCH_LANE = 1 << 40
_SPAN = 1 << 39  # a priority's own range within its lane


def queue_priority(priority: int, batch_priority: int | None) -> int:
    """The engine's priority for a request: its own (live), or its batch's in the batch lane
    (lower runs first within each)."""
    if batch_priority is None:
        return max(-_SPAN, min(_SPAN, priority))
    return BATCH_LANE + max(-_SPAN, min(_SPAN, batch_priority))


@dataclass(eq=False, slots=True)
class EngineRequest:
    """What the engine needs to run a request: tokens in, events out through `sink`."""

    request_id: str
    prompt: list[int]
    params: SamplingParams
    max_tokens: int
    sink: Sink
    n: int = 1
    priority: int = 0
    deadline: float | None = None
    processors: ProcessorFactory | None = None
    thinking: ThinkingFactory | None = None  # per choice: the thinking block's budget + split
    hooks: tuple[TokenHook, ...] = ()
    images: tuple[ImageSpan, ...] = ()  # in prompt order; the prompt holds placeholders there
    arrival: int = field(default_factory=next_arrival)
    submitted_at: float = field(default_factory=time.monotonic)
    # owned by the engine thread once submitted
    cancelled: bool = False
    failed: Exception | None = None  # its sequences could not be set up: failed, not run
    done: bool = False
    open_choices: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0  # of the choices that finished
    held: list[Event] = field(default_factory=list)  # events not yet handed to the sink
    flushed_at: float = float("-inf")
    # cells less positions after the last image (M-RoPE images take fewer positions than
    # rows): a token at cell i past the prompt's images sits at position i - pos_shift
    pos_shift: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        if self.images:
            from openmini.engine.images import pos_shift
            self.pos_shift = pos_shift(self.images)

    def deliver(self, events: list[Event], now: float, interval: float) -> None:
        """Hand events to the sink at most every `interval` seconds, except the first ones and
        the last (the request is done): each hand-over wakes the event loop, which competes
        with the compute threads for the cores."""
        self.held.extend(events)
        if self.held and (self.done or now - self.flushed_at >= interval):
            batch, self.held = self.held, []
            self.flushed_at = now
            self.sink(batch)

    @property
    def background(self) -> bool:
        return self.priority >= BATCH_LANE - _SPAN

    def sort_key(self) -> tuple[int, float, int]:
        deadline = self.deadline if self.deadline is not None else float("inf")
        return (self.priority, deadline, self.arrival)

    def __lt__(self, other: EngineRequest) -> bool:
        return self.sort_key() < other.sort_key()


@dataclass(eq=False, slots=True)
class Seq:
    """One choice of a request, living in one llama sequence id."""

    req: EngineRequest
    index: int
    seq_id: int
    tokens: list[int]  # prompt + generated tokens fed (or to be fed) to the model
    sampler: Sampler
    n_past: int = 0  # tokens whose KV is computed
    n_generated: int = 0
    waiting_fork: bool = False  # n>1 child: gets the parent's prompt cells when it is ready
    children: list[Seq] = field(default_factory=list)
    batch_index: int = -1  # row of this step's logits, -1 when none
    text: IncrementalText = field(default_factory=IncrementalText)
    stops: StopMatcher = field(default_factory=lambda: StopMatcher(()))
    guard: PhraseGuard | None = None  # bad_words: holds text back, says where to backtrack
    backtracks: int = 0
    thinking: Thinking | None = None  # reasoning: budget (in the sampler) and text split
    hooks: HookChain | None = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def prompt_len(self) -> int:
        return len(self.req.prompt)

    @property
    def prefilling(self) -> bool:
        return len(self.tokens) - self.n_past > 1

    def pending(self) -> list[int]:
        return self.tokens[self.n_past:]
