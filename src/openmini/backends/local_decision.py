"""The call/text decision of a local model in `tool_choice: "auto"`, and what leans it.

The decision itself is tools/decision.py (a logits processor at the answer's first token);
this mixin of the local backend builds it per request: the vocabulary masks (once per model),
the threshold and the relevance probe's weight (per model: the catalogue, or configured), the
probe's lean (tools/relevance.py) before a first call, and after tool results the
share of calls that would repeat one already made (tools/repeat.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from openmini.config import EngineConfig
from openmini.engine.sequence import queue_priority
from openmini.types import ChatMessage, Request


def engine_priority(request: Request) -> int:
    """The request's place in the engine's queue: live, or a batch line after every live one."""
    return queue_priority(request.priority, request.batch_priority)

if TYPE_CHECKING:
    from openmini.decoding.constraint import Constraint
    from openmini.engine.engine import Engine
    from openmini.engine.images import ImageSpan
    from openmini.engine.model import LlamaModel
    from openmini.engine.sampling import LogitsProcessor
    from openmini.tools.grammar import CallFormat


class ToolDecisions:
    """What LocalBackend needs to decide call or text (see module doc)."""

    config: EngineConfig
    model: LlamaModel
    engine: Engine
    tool_text_threshold: float
    tool_results_threshold: float
    tool_fit: tuple[float, float]  # (weight, center) of the relevance probe
    _answers: tuple[Any, Any] | None  # the probe's yes / no token ids
    _masks: dict[bool, tuple[Any, Any, Any]]  # _call_masks, per json_calls

    def prompt_tokens(self, request: Request) -> list[int]:
        raise NotImplementedError

    async def _prompt(self, request: Request) -> tuple[list[int], tuple[ImageSpan, ...]]:
        raise NotImplementedError

    def _call_format(self) -> CallFormat:
        raise NotImplementedError

    def _constraint(self, request: Request) -> Constraint | None:
        raise NotImplementedError

    def compiler(self) -> Any:
        raise NotImplementedError

    def _decision_tag(self, request: Request) -> int | None:
        """The call tag's token id where call or text is decided on the first token
        (tools/decision.py): only in auto mode, and only where the tag is a token of its own;
        None where nothing is decided."""
        choice = request.tool_choice
        if (choice is None or choice.mode != "auto" or not request.tools
                or self.tool_text_threshold >= 1):
            return None
        return self._call_format().open_id

    def _decision(self, request: Request, lean: float, decided: bool | None = None,
                  threshold: float | None = None) -> Callable[[], LogitsProcessor] | None:
        """The decision's processor factory; `threshold`: the first turn's where None."""
        open_id = self._decision_tag(request)
        if open_id is None:
            return None
        from openmini.tools.decision import TextDecision

        # with a response format, a JSON answer is not a call
        opens, spelled, fence = self._call_masks(open_id, request.constraint is None)
        if threshold is None:
            threshold = self.tool_text_threshold
        return lambda: TextDecision(opens, spelled, threshold, fence, lean, decided=decided)

    async def _after_results(self, request: Request, prompt: list[int],
                             images: tuple[ImageSpan, ...], arrival: int
                             ) -> tuple[bool | None, list[int], tuple[ImageSpan, ...]]:
        """After tool results (`auto`; calls answered in this turn, or the last batch of an
        earlier one: tools/answered.py): call or text, decided before the answer, and the
        answer's prompt. The first token's prose share is read on the answer's own prompt
        (one token, under its grammar; leaned by the relevance probe at the start of a new
        turn), the share of calls that would repeat one of the last batch moves to text
        (tools/repeat.py), and a text answer is written
        on the conversation without the tool declarations: with them in the system prompt
        the small models answer a tool result by describing the call (`default`: "To get
        the weather in Oslo, you can use the get_weather function..."), without them from
        the result ("The weather in Oslo is cold with snow."). (None, prompt, images) where
        nothing is decided here: no results yet, reasoning on, or not `auto`. `images`: the
        prompt's image spans (a native vision model): every probe sees them too."""
        from openmini.tools.answered import answered, this_turn

        if (request.messages is None or request.reasoning is not None
                or self._decision_tag(request) is None or not answered(request.messages)):
            return None, prompt, images
        from openmini.backends.local_probes import probe
        from openmini.decoding.processor import GrammarProcessor

        constraint = self._constraint(request)
        assert constraint is not None

        new_turn = not any(m.tool_calls for m in this_turn(request.messages))
        lean = await self._probe_lean(request, arrival) if new_turn else 0.0

        def build() -> tuple[Any, Any]:
            decide = self._decision(request, lean, threshold=self.tool_results_threshold)
            assert decide is not None
            return self.compiler().matcher(constraint), decide()

        matcher, reader = await asyncio.to_thread(build)
        await probe(self.engine, "decide", prompt, [GrammarProcessor(matcher, self.model.n_vocab),
                                                    reader], 1, engine_priority(request),
                    request.deadline, arrival, images)
        if reader.p_text is None:  # nothing to decide: the grammar has
            return None, prompt, images
        repeat = await self._repeat_share(request, prompt, images, arrival)
        reader.p_text += (1 - reader.p_text) * repeat  # a repeat is no call: it is done
        if not reader.decide(reader.p_text):
            return False, prompt, images
        return (True, *await self._prompt(replace(request, tools=())))

    async def _fit_lean(self, request: Request, arrival: int) -> float:
        """The relevance probe's lean on the decision (tools/relevance.py), before a first
        call: 0 where nothing is decided, the answer comes after a thinking block (the
        decision then reads the token after it), or once there are tool results (the
        decision is then made before the answer: `_after_results`)."""
        from openmini.tools.answered import answered

        if (request.messages is None or request.reasoning is not None
                or self._decision_tag(request) is None or answered(request.messages)):
            return 0.0
        return await self._probe_lean(request, arrival)

    async def _repeat_share(self, request: Request, prompt: list[int],
                            images: tuple[ImageSpan, ...], arrival: int) -> float:
        """tools/repeat.py: the last batch's calls scored after the answer's prompt and tag."""
        from openmini.backends.local_probes import repeat_share
        from openmini.tools.repeat import call_text, last_batch

        fmt = self._call_format()
        if request.messages is None or fmt.open_id is None:
            return 0.0
        calls = last_batch([m.tool_calls for m in request.messages])
        tokens = [self.model.tokenize(call_text(c.name, c.arguments), add_special=False,
                                      parse_special=False) for c in calls]
        longest = max((len(t) for t in tokens), default=0)
        if not tokens or len(prompt) + 1 + longest > self.config.ctx_size:
            return 0.0
        return await repeat_share(self.engine, [*prompt, fmt.open_id], tokens,
                                  engine_priority(request), request.deadline, arrival, images)

    async def _probe_lean(self, request: Request, arrival: int) -> float:
        """The relevance probe's lean: the request's conversation and tools, asked whether a
        provided function fits. 0 where the model has no fit weight or the question would
        not fit the context."""
        weight, center = self.tool_fit
        if not weight or request.messages is None:
            return 0.0
        from openmini.backends.local_probes import ask
        from openmini.tools.decision import fit_lean
        from openmini.tools.relevance import QUESTION, answer_ids

        if self._answers is None:
            self._answers = answer_ids(lambda w: self.model.tokenize(
                w, add_special=False, parse_special=False))
        probe = replace(request, messages=(*request.messages, ChatMessage("user", QUESTION)))
        prompt, images = await self._prompt(probe)  # a native model sees the images too
        if len(prompt) >= self.config.ctx_size:
            return 0.0
        share = await ask(self.engine, prompt, self._answers, engine_priority(request),
                          request.deadline, arrival, images)
        return 0.0 if share is None else fit_lean(share, weight, center)

    def _call_masks(self, open_id: int, json_calls: bool) -> tuple[Any, Any, Any]:
        """(tokens that open a call, tokens that spell the tag as text, the fence a call
        decided on ``` may open): built once per variant (calls written as JSON or not), as
        they depend on the vocabulary only."""
        masks = self._masks.get(json_calls)
        if masks is None:
            from openmini.tools.decision import Fence, spelled_tag, token_mask
            from openmini.tools.grammar import JSON_OPENERS, OPEN

            n_vocab, matching = self.model.n_vocab, self.model.tokens_matching
            openers = b"[" + re.escape(JSON_OPENERS.encode()) + b"].*"
            json_openers = matching(openers) if json_calls else None
            pieces = self.model.pieces_matching(Fence.PATTERN) if json_calls else None
            fence = Fence(n_vocab, pieces) if pieces is not None else None
            masks = (token_mask(n_vocab, open_id, json_openers),
                     token_mask(n_vocab, matching(spelled_tag(OPEN))), fence)
            self._masks[json_calls] = masks
        return masks


def tool_fit(config: EngineConfig) -> tuple[float, float]:
    """The relevance probe's (weight, center): configured, else the catalogue's, else none."""
    return (_catalogued(config, "tool_fit_weight", 0.0),
            _catalogued(config, "tool_fit_center", 0.5))


def tool_text_threshold(config: EngineConfig) -> float:
    """The configured threshold, else the catalogue's for this model, else the default."""
    from openmini.models.catalogue import DEFAULT_TOOL_TEXT_THRESHOLD

    return _catalogued(config, "tool_text_threshold", DEFAULT_TOOL_TEXT_THRESHOLD)


def tool_results_threshold(config: EngineConfig) -> float:
    """The same decision after tool results: configured, else the catalogue's, else the
    first-turn threshold."""
    from openmini.models.catalogue import CATALOGUE

    spec = CATALOGUE.get(config.model)
    if config.tool_results_threshold is not None:
        return config.tool_results_threshold
    if spec is not None and spec.tool_results_threshold is not None:
        return spec.tool_results_threshold
    return tool_text_threshold(config)


def _catalogued(config: EngineConfig, name: str, default: float) -> float:
    """A per-model setting: the configured value, else the catalogue's, else `default`."""
    from openmini.models.catalogue import CATALOGUE

    value: float | None = getattr(config, name)
    if value is not None:
        return value
    spec = CATALOGUE.get(config.model)
    return float(getattr(spec, name)) if spec is not None else default
