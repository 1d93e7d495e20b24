"""Internal vocabulary: Request, messages, sampling parameters, the Event union, Usage.

Plain frozen dataclasses: pydantic lives only at the edge (wire schemas) and in config loading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage

    from openmini.code.check import CodeCheck
    from openmini.code.fim import FimCheck
    from openmini.decoding.constraint import Constraint
    from openmini.hooks.base import TokenHook
    from openmini.reasoning.effort import ReasoningSpec
    from openmini.tools.calls import ToolCall
    from openmini.tools.spec import ToolChoice, ToolSpec

Role = Literal["system", "user", "assistant", "tool", "developer"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "cancelled", "error"]


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a user message: a URL to take under the server's policy (`data:`,
    `http(s)`, `file://`: vision/sources.py), or bytes already read (the Python API and the
    CLI, which read the user's own files). `at`: the offset in the message's text where it
    stands; `index`: its place among the message's content parts (named in errors)."""

    url: str | None = None
    data: bytes | None = None
    detail: Literal["auto", "low", "high"] = "auto"
    at: int = 0
    index: int = 0
    # the decoded pixels, fitted per `detail`, for a model that sees images natively (set by
    # the vision stage: vision/stage.py); None before it
    pixels: PILImage | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Role
    content: str
    name: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # an assistant turn's calls
    tool_call_id: str | None = None  # a tool turn: the call it answers
    images: tuple[ImagePart, ...] = ()  # a user turn's images, placed in `content` by `at`


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Everything that shapes how tokens are chosen. Validated at the edge."""

    max_tokens: int | None = None
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    min_p: float = 0.0
    seed: int | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    repetition_penalty: float = 1.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    stop: tuple[str, ...] = ()
    logprobs: bool = False
    top_logprobs: int = 0
    ignore_eos: bool = False
    bad_words: tuple[str, ...] = ()  # phrases that never appear in the output (backtracking)


@dataclass(frozen=True, slots=True)
class ContextSource:
    """A snippet of a codebase index placed in a prompt (the `context` response field)."""

    path: str  # relative to the index's root
    start_line: int  # 1-based, inclusive
    end_line: int
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "start_line": self.start_line, "end_line": self.end_line,
                "score": self.score}


@dataclass(frozen=True, slots=True)
class Codebase:
    """`codebase` of chat and completions (index/context.py): snippets of index `index`
    retrieved for the request, at most `k`, within `max_tokens` prompt tokens. `path`: the
    current file, relative to the index's root (completions: left out of the results, and
    named in a repository-format prompt). `sources`: what the context stage placed in the
    prompt, filled by it (shared by copies of the request), read by the edge."""

    index: str
    k: int = 6
    max_tokens: int = 2048
    path: str | None = None
    sources: list[ContextSource] = field(default_factory=list, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class RepoContext:
    """Files retrieved for a completion, for a model that reads its repository format
    (`<|repo_name|>`, `<|file_sep|>`: engine/fim.py): the repository's name, each file as
    (path, text), and the path of the file being completed."""

    name: str
    files: tuple[tuple[str, str], ...]
    path: str


@dataclass(frozen=True, slots=True)
class Request:
    """One request, from any entry point (HTTP, CLI, Python API, batch).

    Exactly one of `messages` (chat) or `prompt` (raw completion) is set.
    """

    model: str
    messages: tuple[ChatMessage, ...] | None = None
    prompt: str | None = None
    sampling: SamplingParams = field(default_factory=SamplingParams)
    n: int = 1
    priority: int = 0  # lower runs first (vLLM's convention)
    # a batch line (batch/): queued after every live request, at its batch's priority
    batch_priority: int | None = None
    deadline: float | None = None  # time.monotonic() by which it must be admitted
    request_id: str = ""
    constraint: Constraint | None = None  # enforced on the output while it is generated
    tools: tuple[ToolSpec, ...] = ()  # functions the model may call
    tool_choice: ToolChoice | None = None  # None: "auto" when there are tools
    parallel_tool_calls: bool = True
    stream: bool = False  # the caller consumes events as they come (no whole-attempt retry)
    reasoning: ReasoningSpec | None = None  # think first, within a token budget
    hooks: tuple[TokenHook, ...] = ()  # see each token before it is emitted (hooks/)
    max_latency_ms: float | None = None  # the client's latency budget (model "auto")
    # the last message is the assistant's unfinished answer: continue it, no new turn
    # (router/recovery.py; backends that can: Capabilities.prefill)
    continue_final: bool = False
    # fill in the middle (a raw prompt): the text after the completion (engine/fim.py)
    suffix: str | None = None
    # resample a middle after which prompt + middle + suffix no longer parses (code/fim.py)
    fim_check: FimCheck | None = None
    code_check: CodeCheck | None = None  # parse the answer's code: report or repair (code/)
    codebase: Codebase | None = None  # retrieve code from an index into the prompt (index/)
    # a completion's retrieved files, set by the context stage for a backend that reads
    # them in its model's repository format (Capabilities.repo_context)
    repo_context: RepoContext | None = None
    # where it went (router/): filled by the router as it picks a deployment, read by the
    # edge for the `model` field and the x-openmini-route header (shared by copies)
    route: Route = field(default_factory=lambda: Route(), compare=False)


@dataclass(slots=True)
class Route:
    """The deployment that answered (its exposed id), the group asked for (None: the
    request named the deployment), and why it was that one: primary, retry, fallback,
    recovered, auto:<rule>."""

    deployment: str = ""
    group: str | None = None
    reason: str = "primary"

    def header(self) -> str:
        parts = [f"group={self.group}"] if self.group else []
        return "; ".join([*parts, f"deployment={self.deployment}", f"reason={self.reason}"])


@dataclass(frozen=True, slots=True)
class TopLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TokenLogprob:
    token: str
    logprob: float
    bytes: tuple[int, ...]
    top: tuple[TopLogprob, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0  # of completion_tokens, spent inside the thinking block

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens,
                     self.completion_tokens + other.completion_tokens,
                     self.cached_tokens + other.cached_tokens,
                     self.reasoning_tokens + other.reasoning_tokens)


@dataclass(frozen=True, slots=True)
class TextDelta:
    """New text for one choice. `text` may be empty when held back (stop strings, UTF-8)."""

    index: int
    text: str
    token_ids: tuple[int, ...] = ()
    logprobs: tuple[TokenLogprob, ...] | None = None


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    """New reasoning text for one choice (the thinking block), always before its answer."""

    index: int
    text: str
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    """Part of a tool call of one choice, OpenAI's streaming shape: the first delta of call
    `call_index` carries its id and name, later ones argument fragments."""

    index: int
    call_index: int
    arguments: str = ""
    id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class CodeReport:
    """What `code_check` found in a choice's code: its syntax diagnostics (`{"block",
    "language", "line", "column", "node", "message"}`) and, in repair mode, how many
    regenerations it made (None in report mode)."""

    diagnostics: tuple[dict[str, Any], ...] = ()
    repairs: int | None = None


@dataclass(frozen=True, slots=True)
class ChoiceFinished:
    index: int
    finish_reason: FinishReason
    stop_reason: str | int | None = None
    code: CodeReport | None = None  # with code_check: what it found


@dataclass(frozen=True, slots=True)
class Done:
    """Last event of every stream: the request's usage, and the seconds the backend spent on
    it from submission to the end (queueing included)."""

    usage: Usage
    engine_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Failed:
    """The request ended with an error after the stream started."""

    error: Exception


Event = TextDelta | ReasoningDelta | ToolCallDelta | ChoiceFinished | Done | Failed
