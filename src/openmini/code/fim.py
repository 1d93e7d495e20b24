"""`fim_check`'s tree-sitter side: does the file still parse with a middle filled in?

The file is prompt + suffix. It is parsed once (in `language`, else in the language
`detect_parse` finds); when it does not parse cleanly there is nothing to keep and nothing is
checked. Otherwise a middle is good when prompt + middle + suffix parses with no ERROR or
MISSING node; a middle that breaks it is counted by its errors (fewer is better). The stage
that resamples is code/fim_stage.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openmini.code.languages import Language, language_for, parser
from openmini.code.parse import detect_parse, diagnostics, encode, error_count, parse

ATTEMPTS = 3  # generations per choice at most: the first and two resamples
RESAMPLE_TEMPERATURE = 0.7  # a resample samples at this temperature at least (greedy repeats)


@dataclass(frozen=True, slots=True)
class FimCheck:
    """What a request asks of its middles: the file's language (canonical name; None:
    detected) and how many generations a choice may take."""

    language: str | None = None
    attempts: int = ATTEMPTS


def fim_check_of(language: str | None, attempts: int = ATTEMPTS) -> FimCheck:
    """The check a request asks for; an unknown language is a 400 naming `language`."""
    return FimCheck(None if language is None else language_for(language).name, attempts)


@dataclass(frozen=True, slots=True)
class FileCheck:
    """A file that parsed with the middle left out: the middles are checked against it."""

    language: Language
    prompt: str
    suffix: str

    def errors(self, middle: str) -> int:
        """The ERROR and MISSING nodes of prompt + middle + suffix (0: it parses)."""
        return error_count(parser(self.language).parse(self._source(middle)))

    def diagnostics(self, middle: str) -> tuple[dict[str, Any], ...]:
        """prompt + middle + suffix's syntax diagnostics (`{"language", "line", "column",
        "node", "message"}`, in the whole file), () when it parses."""
        source = self._source(middle)
        found = diagnostics(parser(self.language).parse(source), source)
        return tuple({"language": self.language.name, **d} for d in found)

    def _source(self, middle: str) -> bytes:
        return (self.prompt + middle + self.suffix).encode("utf-8", "replace")


def file_check(prompt: str, suffix: str, spec: FimCheck) -> FileCheck | None:
    """The check for middles of this file; None when prompt + suffix does not parse (then
    fim_check does nothing). A file that is not text or too large is a 400 naming
    `fim_check`."""
    code = prompt + suffix
    encode(code, param="fim_check")
    parsed = parse(code, spec.language) if spec.language else detect_parse(code)
    return FileCheck(parsed.language, prompt, suffix) if parsed.ok else None
