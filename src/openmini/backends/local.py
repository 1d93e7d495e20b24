"""The embedded backend: a GGUF model served by openmini's own llama.cpp engine."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openmini.backends.base import BackendStats, Capabilities
from openmini.backends.local_decision import (
    ToolDecisions,
    engine_priority,
    tool_fit,
    tool_results_threshold,
    tool_text_threshold,
)
from openmini.backends.local_template import in_order, message_dict, open_final, tools_dicts
from openmini.config import FLASH_ATTN, EngineConfig
from openmini.engine.chat_template import ChatTemplate
from openmini.engine.engine import Engine, EngineSettings
from openmini.engine.fim import FimTokens, fim_tokens, infill_ids, repo_tokens, suffix_stop
from openmini.engine.model import ContextSettings, LlamaModel
from openmini.engine.sampling import LogitsProcessor
from openmini.engine.sequence import next_arrival
from openmini.errors import ContextLengthExceeded, InvalidRequest, UnsupportedParameter
from openmini.reasoning.format import ThinkFormat, open_block, with_instruction
from openmini.types import Event, Request

if TYPE_CHECKING:
    from openmini.backends.local_vision import NativeVision
    from openmini.decoding.constraint import Constraint
    from openmini.engine.images import ImageSpan
    from openmini.hooks.base import TokenHook
    from openmini.reasoning.budget import Thinking
    from openmini.tools.grammar import CallFormat

MAX_SEQ_IDS = 256  # llama.cpp's LLAMA_MAX_SEQ


def context_settings(config: EngineConfig) -> ContextSettings:
    """KV cells: every running sequence can reach ctx_size, plus room for cached prefixes."""
    n_ctx = config.parallel * config.ctx_size + config.prefix_cache_tokens
    n_seq = min(MAX_SEQ_IDS, 2 * config.parallel + 16)
    # llama.cpp reserves an output row per sequence id at context creation and aborts the
    # process (GGML_ASSERT n_outputs_max) when n_batch is below n_seq_max
    return ContextSettings(n_ctx=n_ctx, n_batch=max(config.batch_size, n_seq),
                           n_seq_max=n_seq, threads=config.resolved_threads(),
                           flash_attn=FLASH_ATTN[config.flash_attn])


class LocalBackend(ToolDecisions):
    def __init__(self, config: EngineConfig, cache_dir: Path | None = None,
                 progress: Callable[[int, int], None] | None = None):
        from openmini.models import resolve_model, resolve_projector

        path = resolve_model(config.model, cache_dir, progress)
        mmproj = config.mmproj or resolve_projector(config.model, cache_dir, progress)
        self.config = config
        self.model = LlamaModel(path, context_settings(config))
        if config.ctx_size > self.model.n_ctx_train:
            self.model.close()
            raise InvalidRequest(f"ctx_size {config.ctx_size} exceeds the model's trained "
                                 f"context of {self.model.n_ctx_train}", param="ctx_size")
        self.template = ChatTemplate(self.model.chat_template(),
                                     self.model.special_token_text("bos"),
                                     self.model.special_token_text("eos"))
        n_seq = self.model.settings.n_seq_max
        self.engine = Engine(self.model, EngineSettings(
            parallel=config.parallel,
            live_slots=min(config.live_slots, config.parallel - 1),  # a batch line may run
            batch_prefill_when_live=config.batch_live_prefill,
            batch_size=self.model.settings.n_batch,
            max_queue=config.max_queue,
            prefix_cache_tokens=config.prefix_cache_tokens,
            prefix_cache_entries=n_seq - config.parallel,
            stream_interval=config.stream_interval_ms / 1000,
        ))
        self._ids = list(dict.fromkeys([config.model if not config.model.endswith(".gguf")
                                        else path.stem, path.stem]))
        self.tool_text_threshold = tool_text_threshold(config)
        self.tool_results_threshold = tool_results_threshold(config)
        self.tool_fit = tool_fit(config)  # (weight, center) of the relevance probe
        self._answers: tuple[Any, Any] | None = None  # the probe's yes / no token ids
        self.vision: NativeVision | None = None
        if mmproj:
            from openmini.backends.local_vision import NativeVision

            try:
                # one thread for the projector: a second libgomp team (the projector's, run
                # from worker threads) puts more OpenMP threads than cores in the process,
                # and libgomp then throttles every team's spin-wait, the engine's included:
                # each decode step got ~14 ms slower (cached TTFT 58.8 -> 42.4 ms with this)
                self.vision = NativeVision(mmproj, self.model, 1)
            except BaseException:
                self.engine.close()
                self.model.close()
                raise
        self.fim = fim_tokens(self.model)  # None: the vocabulary cannot fill in the middle
        self.repo = repo_tokens(self.model)  # None: it has no repository format
        self.capabilities = Capabilities(max_n=config.parallel, context_length=config.ctx_size,
                                         prefill=True, fim=self.fim is not None,
                                         repo_context=self.repo is not None,
                                         vision="native" if self.vision else "perception")
        self._compiler_lock = threading.Lock()
        self._compiler: Any = None
        self._tags: CallFormat | None = None
        self._masks: dict[bool, tuple[Any, Any, Any]] = {}  # _call_masks, per json_calls
        self._think: ThinkFormat | None = None
        self._think_tokens: tuple[list[int], list[int]] = ([], [])  # set with _think

    def model_ids(self) -> list[str]:
        return self._ids

    def prompt_tokens(self, request: Request) -> list[int]:
        context = request.repo_context  # retrieved files, first (index/context.py)
        repo = (self.repo, context) if self.repo and context else None
        if request.suffix is not None:  # fill in the middle: no chat template
            return infill_ids(self.model, self._fim(request), request.prompt or "",
                              request.suffix, repo)
        if repo is not None and request.messages is None:
            from openmini.engine.fim import repo_prompt_ids

            return repo_prompt_ids(self.model, repo, request.prompt or "")
        text, add_special = self._prompt_text(request)
        return self.model.tokenize_prompt(text, add_special=add_special)

    def count_text(self, text: str) -> int:
        """The tokens of `text` as plain text (the context stage's budget)."""
        return len(self.model.plain_tokens(text))

    def _fim(self, request: Request) -> FimTokens:
        if self.fim is None or request.messages is not None:
            raise UnsupportedParameter("suffix", "is not supported by this model (its "
                                       "vocabulary has no fill-in-the-middle tokens)")
        return self.fim

    def _hooks(self, request: Request) -> tuple[TokenHook, ...]:
        """The request's hooks; a middle's stop first (it sees the model's text)."""
        if request.suffix is None:
            return request.hooks
        return (suffix_stop(request.prompt or "", request.suffix, self._fim(request),
                            request.sampling.ignore_eos), *request.hooks)

    async def count_tokens(self, request: Request) -> int:
        prompt, _ = await self._prompt(request)
        return len(prompt)

    async def _prompt(self, request: Request) -> tuple[list[int], tuple[ImageSpan, ...]]:
        """The prompt's ids, and its image spans where the model sees images natively
        (encoded off the event loop: backends/local_vision.py)."""
        pixels = [p.pixels for m in request.messages or () for p in in_order(m.images)
                  if p.pixels is not None]
        if self.vision is None or not pixels:
            return self.prompt_tokens(request), ()
        text, add_special = self._prompt_text(request, self.vision.marker())
        return await asyncio.to_thread(self.vision.tokens, text, pixels, add_special)

    def _prompt_text(self, request: Request, marker: str | None = None) -> tuple[str, bool]:
        """The prompt as text, and whether tokenizing it adds the special tokens (BOS).
        With `marker`, it stands where each image (with pixels) is."""
        if request.messages is not None:
            messages = request.messages
            if request.reasoning is not None:
                messages = with_instruction(messages, self._think_format(),
                                            request.reasoning.effort)
            text = self.template.render([message_dict(m, marker) for m in messages],
                                        tools=tools_dicts(request),
                                        enable_thinking=request.reasoning is not None,
                                        add_generation_prompt=not request.continue_final)
            if request.continue_final:
                text = open_final(text, messages[-1].content)
            if request.reasoning is not None:
                text = open_block(text)
            starts_with_bos = bool(self.template.bos_token) and text.startswith(
                self.template.bos_token)
            return text, self.model.add_bos() and not starts_with_bos
        return request.prompt or "", self.model.add_bos()

    def _budget(self, request: Request, n_prompt: int) -> int:
        limit = self.config.ctx_size
        param = "messages" if request.messages is not None else "prompt"
        if n_prompt == 0:
            raise InvalidRequest("The prompt is empty.", param=param)
        asked = request.sampling.max_tokens
        if n_prompt >= limit or (asked is not None and n_prompt + asked > limit):
            raise ContextLengthExceeded(
                f"This model's maximum context length is {limit} tokens. However, you requested "
                f"{n_prompt + (asked or 0)} tokens ({n_prompt} in the {param}, {asked or 0} in "
                "the completion). Please reduce the length of the input or the completion.",
                param=param)
        return asked if asked is not None else limit - n_prompt

    async def generate(self, request: Request) -> AsyncIterator[Event]:
        if request.n > self.capabilities.max_n:
            raise InvalidRequest(f"n must be at most {self.capabilities.max_n} on this server "
                                 "(its --parallel).", param="n")
        if request.reasoning is not None and request.messages is None:
            raise InvalidRequest("Reasoning needs a chat request (messages), not a raw prompt.",
                                 param="reasoning_effort")
        prompt, images = await self._prompt(request)
        max_tokens = self._budget(request, len(prompt))
        thinking = self._thinkings(request, max_tokens)
        arrival = next_arrival()  # probes run first: the answer keeps their place
        decided, prompt, images = await self._after_results(request, prompt, images, arrival)
        fields = dict(request_id=request.request_id or uuid.uuid4().hex, prompt=prompt,
                      params=request.sampling, max_tokens=max_tokens, n=request.n,
                      priority=engine_priority(request), deadline=request.deadline, arrival=arrival,
                      processors=await self._processors(request, max_tokens, thinking,
                                                        arrival, decided),
                      thinking=thinking.__getitem__ if thinking else None,
                      hooks=self._hooks(request), images=images)
        stream = self.engine.generate(fields)
        try:
            async for event in stream:
                yield event
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    def compiler(self) -> Any:
        """Grammar compiler over this model's vocabulary, built once on first use (~1 s for
        Qwen); concurrent first callers wait for the one build."""
        from openmini.decoding.compiler import GrammarCompiler, tokenizer_for

        with self._compiler_lock:
            if self._compiler is None:
                self._compiler = GrammarCompiler(tokenizer_for(self.model.vocab))
            return self._compiler

    async def _processors(self, request: Request, max_tokens: int, thinking: list[Thinking],
                          arrival: int, decided: bool | None
                          ) -> Callable[[int], Sequence[LogitsProcessor]] | None:
        """Per-choice logits processors: the constraint's grammar, compiled once (cached),
        the call/text decision in auto (`decided`: made before, after tool results), then
        the loop guard (a constrained output must end; decoding/loop_guard.py). With
        reasoning, the grammar is the thinking block's, the constraint applying after it."""
        answer = self._constraint(request)
        constraint = answer
        if thinking:
            from openmini.reasoning.grammar import thinking_constraint

            constraint = thinking_constraint(self._think_format(), answer)
        if constraint is None:
            return None
        from openmini.decoding.loop_guard import LoopGuard
        from openmini.decoding.processor import GrammarProcessor
        from openmini.reasoning.budget import AnswerOnly

        def build() -> tuple[list[Any], Any, Any]:  # compiles once (cached); one per choice
            import numpy as np

            compiler = self.compiler()
            if request.constraint is not None and request.constraint is not constraint:
                compiler.matcher(request.constraint)  # alone first: its 400 names its field
            ends = (self.model.tokens_matching(rb'"[\]}\s]*'),  # close a string (and more)
                    self.model.tokens_matching(rb"[\]}][\]}\s]*"),  # close objects/arrays
                    np.array(sorted(self.model.eog_ids), dtype=np.int64))  # end the output
            # the decision's masks scan the vocabulary the first time: off the event loop too
            decide = self._decision(request, lean, decided)
            return [compiler.matcher(constraint) for _ in range(request.n)], ends, decide

        lean = 0.0 if decided is not None else await self._fit_lean(request, arrival)
        matchers, (quotes, brackets, eog), decide = await asyncio.to_thread(build)
        n_vocab = self.model.n_vocab

        def processors(index: int) -> list[LogitsProcessor]:
            grammar = GrammarProcessor(matchers[index], n_vocab)
            if answer is None:  # free text after thinking: nothing to loop in
                return [grammar]
            guard = LoopGuard(quotes, brackets, max_tokens, eog)
            after: list[LogitsProcessor] = [guard] if decide is None else [decide(), guard]
            if thinking:
                after = [AnswerOnly(p, thinking[index].budget) for p in after]
            return [grammar, *after]

        return processors

    def _thinkings(self, request: Request, max_tokens: int) -> list[Thinking]:
        if request.reasoning is None:
            return []
        from openmini.reasoning.budget import thinkings

        fmt = self._think_format()
        close, after = self._think_tokens
        return thinkings(request.reasoning.budget_within(max_tokens), request.n, close,
                         self.model.piece, fmt.close_id, after)

    def _think_format(self) -> ThinkFormat:
        """Native thinking tags are single tokens of the vocabulary. Looked up once, with the
        tokens a forced close writes: the tag, then a blank line."""
        if self._think is None:
            from openmini.reasoning.format import CLOSE, OPEN

            pair = self._tag_pair(OPEN, CLOSE)
            self._think = ThinkFormat(*pair) if pair else ThinkFormat()
            close = [pair[1]] if pair else self.model.tokenize(CLOSE, add_special=False,
                                                                parse_special=False)
            self._think_tokens = (close, self.model.tokenize("\n\n", add_special=False,
                                                             parse_special=False))
        return self._think

    def _tag_pair(self, open_tag: str, close_tag: str) -> tuple[int, int] | None:
        """The tags' token ids when each is one (special) token of the vocabulary."""
        ids = self.model.tokenize(open_tag + close_tag, add_special=False, parse_special=True)
        return (ids[0], ids[1]) if len(ids) == 2 else None

    def _constraint(self, request: Request) -> Constraint | None:
        """The output's constraint: the response format, the tool-call grammar, or both (an
        answer that calls nothing follows the format)."""
        choice = request.tool_choice
        if choice is None or (choice.mode == "none" and request.constraint is not None):
            return request.constraint
        from openmini.tools.answered import answered
        from openmini.tools.grammar import tool_constraint

        made = answered(request.messages) if request.messages and choice.mode == "auto" else ()
        return tool_constraint(request.tools, choice, request.parallel_tool_calls,
                               self._call_format(), request.constraint, made)

    def _call_format(self) -> CallFormat:
        """How this vocabulary spells the call tags; looked up once, on first use."""
        if self._tags is None:
            from openmini.tools.grammar import CLOSE, OPEN, CallFormat

            pair = self._tag_pair(OPEN, CLOSE)
            self._tags = CallFormat(*pair) if pair else CallFormat()
        return self._tags

    def stats(self) -> BackendStats:
        s, cache = self.engine.stats, self.engine.cache
        return BackendStats(queue_depth=s.queue_depth, running=s.running,
                            batch_size=s.last_batch_seqs, cache_hit_tokens=cache.hits_tokens,
                            cache_lookup_tokens=cache.lookup_tokens,
                            tokens_generated=s.tokens_generated)

    async def close(self) -> None:
        self.engine.close()
        if not self.engine.running_thread():
            if self.vision is not None:
                self.vision.close()  # before the text model it was loaded against
            self.model.close()
