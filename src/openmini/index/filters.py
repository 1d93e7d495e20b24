"""Search filters: a path glob, a language, a symbol kind (each optional), checked once.

- `path`: a glob matched against the path relative to the index root with `fnmatch`'s rules
  (`*` crosses `/`: `src/*.py` matches `src/a/b.py`), case-sensitive; a pattern with no
  wildcard (`*`, `?`, `[`) names a file or a directory (`src/http` matches everything
  under it).
- `language`: a language name or alias (`py`, `golang`), as code/languages.py knows them.
- `kind`: one of chunk.KINDS (`function`, `method`, `class`, ..., `code`, `window`).
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from openmini.errors import InvalidRequest
from openmini.index.chunk import KINDS

_WILDCARDS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Filters:
    path: str | None = None
    language: str | None = None  # canonical (code/languages.py)
    kind: str | None = None

    @classmethod
    def of(cls, path: str | None = None, language: str | None = None,
           kind: str | None = None) -> Filters:
        """Filters from what a user gave; a 400 naming the parameter for an unknown
        language or kind, or an empty path."""
        from openmini.code.languages import find

        if path is not None and not path.strip():
            raise InvalidRequest("'path' is empty: give a glob such as 'src/**.py'.",
                                 param="path")
        lang = None
        if language is not None:
            found = find(language)
            if found is None:
                raise InvalidRequest(f"Unknown language {language!r} for 'language'.",
                                     param="language", code="unknown_language")
            lang = found.name
        if kind is not None and kind not in KINDS:
            raise InvalidRequest(f"Unknown kind {kind!r} for 'kind'; known: "
                                 f"{', '.join(sorted(KINDS))}.", param="kind")
        return cls(path.strip().lstrip("/") if path else None, lang, kind)


def path_matches(pattern: str, path: str) -> bool:
    """Whether a relative path matches a filter's glob (see the module's docstring)."""
    if _WILDCARDS.isdisjoint(pattern):
        directory = pattern.rstrip("/")
        return path == directory or path.startswith(directory + "/")
    return fnmatchcase(path, pattern)
