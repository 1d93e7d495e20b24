"""Fill-in-the-middle in the engine: the FIM tokens a vocabulary has, the prompt in PSM
order, and where the middle stops (docs/code.md, "Fill-in-the-middle").

- Tokens: llama.cpp's own FIM ids (GGUF `tokenizer.ggml.fim_*_token_id`, or what llama.cpp
  recognises by name when it loads the vocabulary), else the special tokens named
  `<|fim_prefix|>` / `<fim_prefix>` (and suffix, middle) looked up in the vocabulary. Never a
  table per model. A vocabulary without all three cannot infill.
- Prompt: `[BOS] <prefix> prompt <suffix> suffix <middle>`: the texts tokenized as plain
  text (a marker written in them is text, never a token), the markers placed between them.
- Repository format (`repo_tokens`, `repo_header`): retrieved files before the file being
  completed, as Qwen2.5-Coder was trained: `<|repo_name|>name\n` then, per file,
  `<|file_sep|>path\ncontent\n`, then `<|file_sep|>current path\n` and the infill (or a
  plain completion's prompt). The two markers are llama.cpp's FIM "rep" and "sep" ids, else
  the special tokens of those names found in the vocabulary; a vocabulary without both, or
  without FIM tokens, has no repository format.
- Stop: at an end token (end of generation, `<|endoftext|>`, `<|fim_pad|>`, `<|file_sep|>`,
  `<|repo_name|>`; never shown), and where the middle starts repeating the suffix: a line of
  the middle equal to the suffix's first non-blank line (`SuffixStop`, a hook).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import llama_cpp as ll

from openmini.hooks.base import Action, HookToken, release, stop

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from openmini.engine.model import LlamaModel
    from openmini.types import RepoContext

# Names the markers go by when llama.cpp does not know them itself (Qwen/StarCoder styles).
MARKER_NAMES = {
    "prefix": ("<|fim_prefix|>", "<fim_prefix>"),
    "suffix": ("<|fim_suffix|>", "<fim_suffix>"),
    "middle": ("<|fim_middle|>", "<fim_middle>"),
}
END_NAMES = ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<fim_pad>",
             "<file_sep>", "<repo_name>", "<reponame>")
_LLAMA_MARKERS = {"prefix": ll.llama_vocab_fim_pre, "suffix": ll.llama_vocab_fim_suf,
                  "middle": ll.llama_vocab_fim_mid}
REPO_NAMES = ("<|repo_name|>", "<repo_name>", "<reponame>")
FILE_SEP_NAMES = ("<|file_sep|>", "<file_sep>")
_LLAMA_ENDS = (ll.llama_vocab_fim_pad, ll.llama_vocab_fim_rep, ll.llama_vocab_fim_sep,
               ll.llama_vocab_eos, ll.llama_vocab_eot)


@dataclass(frozen=True, slots=True)
class FimTokens:
    """A vocabulary's FIM markers, and the tokens that end a middle."""

    prefix: int
    suffix: int
    middle: int
    ends: frozenset[int] = frozenset()


def fim_tokens(model: LlamaModel) -> FimTokens | None:
    """The model's FIM tokens, None when its vocabulary lacks one of the three markers."""
    markers = {}
    for role, by_llama in _LLAMA_MARKERS.items():
        token = int(by_llama(model.vocab))
        if token < 0:
            token = next((t for name in MARKER_NAMES[role]
                          if (t := special_id(model, name)) is not None), -1)
        if token < 0:
            return None
        markers[role] = token
    ends = {int(f(model.vocab)) for f in _LLAMA_ENDS}
    ends.update(t for name in END_NAMES if (t := special_id(model, name)) is not None)
    ends = {t for t in ends if t >= 0} | set(model.eog_ids)
    return FimTokens(markers["prefix"], markers["suffix"], markers["middle"],
                     frozenset(ends - set(markers.values())))


def special_id(model: LlamaModel, name: str) -> int | None:
    """The id of the special token written `name`, None when the vocabulary has none."""
    ids = model.tokenize(name, add_special=False, parse_special=True)
    if len(ids) != 1 or model.token_text(ids[0]) != name:
        return None
    special = ll.LLAMA_TOKEN_ATTR_CONTROL | ll.LLAMA_TOKEN_ATTR_USER_DEFINED
    return ids[0] if ll.llama_vocab_get_attr(model.vocab, ids[0]) & special else None


@dataclass(frozen=True, slots=True)
class RepoTokens:
    """A vocabulary's repository-format markers."""

    repo_name: int
    file_sep: int


def repo_tokens(model: LlamaModel) -> RepoTokens | None:
    """The model's `<|repo_name|>` and `<|file_sep|>` ids; None when it lacks one, or has
    no FIM tokens (markers alone in a vocabulary, as `tiny`'s `<reponame>`, do not make a
    model trained on the format)."""
    if fim_tokens(model) is None:
        return None
    found = []
    for by_llama, names in ((ll.llama_vocab_fim_rep, REPO_NAMES),
                            (ll.llama_vocab_fim_sep, FILE_SEP_NAMES)):
        token = int(by_llama(model.vocab))
        if token < 0:
            token = next((t for name in names if (t := special_id(model, name)) is not None),
                         -1)
        if token < 0:
            return None
        found.append(token)
    return RepoTokens(*found)


def repo_header(tokens: RepoTokens, repo: RepoContext, plain: Callable[[str], list[int]]
                ) -> list[int]:
    """`<|repo_name|>name\n`, `<|file_sep|>path\ntext\n` per file, `<|file_sep|>path\n`
    of the current file: what stands before its text."""
    out = [tokens.repo_name, *plain(repo.name + "\n")]
    for path, text in repo.files:
        out += [tokens.file_sep, *plain(f"{path}\n{text}\n")]
    return [*out, tokens.file_sep, *plain(repo.path + "\n")]


def fim_prompt(tokens: FimTokens, plain: Callable[[str], list[int]], prompt: str,
               suffix: str, bos: int | None = None, head: Sequence[int] = ()) -> list[int]:
    """The infill prompt in PSM order; `plain` tokenizes text with no special tokens parsed.
    `head`: what comes before the prefix marker (the repository's files)."""
    first = [bos] if bos is not None else []
    return [*first, *head, tokens.prefix, *plain(prompt), tokens.suffix, *plain(suffix),
            tokens.middle]


def infill_ids(model: LlamaModel, tokens: FimTokens, prompt: str, suffix: str,
               repo: tuple[RepoTokens, RepoContext] | None = None) -> list[int]:
    """`fim_prompt` on a model: BOS first when its vocabulary adds one; with `repo`, the
    retrieved files before the infill in the repository format."""
    plain = model.plain_tokens
    head = repo_header(*repo, plain) if repo is not None else []
    return fim_prompt(tokens, plain, prompt, suffix, model.bos() if model.add_bos() else None,
                      head)


def repo_prompt_ids(model: LlamaModel, repo: tuple[RepoTokens, RepoContext], prompt: str
                    ) -> list[int]:
    """A plain completion's prompt after the retrieved files (repository format); the
    prompt itself tokenized as any raw prompt is (special tokens written in it parsed)."""
    first = [model.bos()] if model.add_bos() else []
    return [*first, *repo_header(*repo, model.plain_tokens),
            *model.tokenize_prompt(prompt, add_special=False)]


# --- where the middle runs into the suffix ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    """The suffix's first non-blank line, as a line of the file (right-trimmed): a line of the
    middle equal to it repeats the suffix. `lead`: the suffix's whitespace before it.
    `indent`: the prompt's last line when it is blank (the middle's first line then starts a
    line of the file and is compared with it in front), else None (the first line of the
    middle continues a line of the prompt and is never compared)."""

    line: str
    lead: str
    indent: str | None


def anchor_of(prompt: str, suffix: str) -> Anchor | None:
    """The suffix's anchor line; None when the suffix is blank."""
    content = len(suffix) - len(suffix.lstrip())
    if content == len(suffix):
        return None
    last = prompt[prompt.rfind("\n") + 1:]
    indent = None if last.strip() else last
    start = suffix.rfind("\n", 0, content) + 1
    end = suffix.find("\n", content)
    line = suffix[start:len(suffix) if end < 0 else end].rstrip()
    if start == 0 and indent is not None:
        line = indent + line  # the cursor's line, whole
    return Anchor(line, suffix[:content], indent)


def repeat_at(anchor: Anchor, middle: str, start: int, final: bool) -> tuple[int | None, int]:
    """(where to cut `middle`, None when it does not repeat the suffix; from where to hold it
    back meanwhile). Only lines from the one holding `start` (the first character not yet
    emitted) on are looked at; at the `final` text an unfinished last line counts whole."""
    pos = middle.rfind("\n", 0, start) + 1
    while True:
        newline = middle.find("\n", pos)
        end = len(middle) if newline < 0 else newline
        if pos > 0 or anchor.indent is not None:
            line = ((anchor.indent or "") if pos == 0 else "") + middle[pos:end]
            if (newline >= 0 or final) and line.rstrip() == anchor.line:
                return max(start, _cut(anchor, middle, pos)), end
            if newline < 0 and (anchor.line.startswith(line) or line.rstrip() == anchor.line):
                return None, _blank_from(middle, pos)
        if newline < 0:
            return None, _blank_from(middle, len(middle))
        pos = newline + 1


def _blank_from(text: str, at: int) -> int:
    """Where the run of whitespace that ends at `at` begins."""
    while at > 0 and text[at - 1].isspace():
        at -= 1
    return at


def _cut(anchor: Anchor, middle: str, pos: int) -> int:
    """The middle cut before the repeated line and the part of the whitespace before it that
    the suffix's own leading whitespace repeats."""
    content = pos + len(middle[pos:]) - len(middle[pos:].lstrip(" \t"))
    blank = _blank_from(middle, content)
    gap, lead, common = middle[blank:content], anchor.lead, 0
    while common < min(len(gap), len(lead)) and gap[-1 - common] == lead[-1 - common]:
        common += 1
    return blank + len(gap) - common


@dataclass(slots=True)
class SuffixStop:
    """The hook that ends a middle: at an end token (`ends`: those the engine does not end
    at itself reach it), or where the middle repeats the suffix, which is cut and never
    emitted (text that may be the start of a repeat is held back, as stop strings are).
    First in the chain: it sees the model's text. One per request, state per choice."""

    anchor: Anchor | None
    ends: frozenset[int] = frozenset()
    name: str = "fim_suffix"
    at_end: bool = True  # called once more when the choice ends while it holds text
    _seen: dict[int, str] = field(default_factory=dict)

    def __call__(self, tok: HookToken) -> Action | None:
        if tok.reasoning:
            return None
        ended = tok.token_id in self.ends
        text = "" if ended else tok.text
        seen = self._seen.get(tok.index, "") + text
        self._seen[tok.index] = seen
        start = len(seen) - len(tok.held) - len(text)
        final = ended or tok.token_id < 0
        if self.anchor is not None:
            cut, hold = repeat_at(self.anchor, seen, start, final)
            if cut is not None:
                return stop(seen[start:cut], reason=self.name)
            if not final:
                return release(hold - start)
        return stop(seen[start:], reason="fim_end") if ended else None


def suffix_stop(prompt: str, suffix: str, tokens: FimTokens, ignore_eos: bool = False
                ) -> SuffixStop:
    return SuffixStop(anchor_of(prompt, suffix), frozenset() if ignore_eos else tokens.ends)
