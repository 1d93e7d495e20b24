"""The languages openmini understands: canonical name -> tree-sitter-language-pack grammar,
with the aliases a Markdown fence's info string may use and the file extensions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import PurePath
from typing import Any

from openmini.errors import InvalidRequest


@dataclass(frozen=True)
class Language:
    """A language: `name` canonical (what we answer with), `grammar` the pack's name."""

    name: str
    grammar: str
    aliases: tuple[str, ...] = ()
    extensions: tuple[str, ...] = ()
    filenames: tuple[str, ...] = ()


def _l(name: str, grammar: str | None = None, aliases: str = "", extensions: str = "",
       filenames: str = "") -> Language:
    return Language(name, grammar or name, tuple(aliases.split()), tuple(extensions.split()),
                    tuple(filenames.split()))


# Each checked by parsing with it (tests/code/test_languages.py).
LANGUAGES: tuple[Language, ...] = (
    _l("python", aliases="py python3 py3", extensions=".py .pyi .pyw"),
    _l("javascript", aliases="js node jsx mjs cjs", extensions=".js .mjs .cjs .jsx"),
    _l("typescript", aliases="ts", extensions=".ts .mts .cts"),
    _l("tsx", extensions=".tsx"),
    _l("java", extensions=".java"),
    _l("c", aliases="h", extensions=".c .h"),
    _l("cpp", aliases="c++ cxx cc hpp", extensions=".cpp .cc .cxx .hpp .hh .hxx .c++"),
    _l("csharp", aliases="c# cs", extensions=".cs"),
    _l("go", aliases="golang", extensions=".go"),
    _l("rust", aliases="rs", extensions=".rs"),
    _l("ruby", aliases="rb", extensions=".rb .rake .gemspec", filenames="Rakefile Gemfile"),
    _l("php", extensions=".php"),
    _l("kotlin", aliases="kt kts", extensions=".kt .kts"),
    _l("swift", extensions=".swift"),
    _l("scala", aliases="sc", extensions=".scala .sc"),
    _l("sql", aliases="mysql postgresql postgres sqlite plsql", extensions=".sql"),
    _l("bash", aliases="sh shell zsh console shellscript", extensions=".sh .bash .zsh",
       filenames=".bashrc .zshrc .profile"),
    _l("html", aliases="htm xhtml", extensions=".html .htm .xhtml"),
    _l("css", extensions=".css"),
    _l("json", aliases="jsonc json5", extensions=".json"),
    _l("yaml", aliases="yml", extensions=".yaml .yml"),
    _l("toml", extensions=".toml"),
    _l("lua", extensions=".lua"),
    _l("r", aliases="rscript", extensions=".r .R"),
    _l("haskell", aliases="hs", extensions=".hs"),
    _l("perl", aliases="pl", extensions=".pl .pm"),
    _l("dart", extensions=".dart"),
    _l("elixir", aliases="ex exs", extensions=".ex .exs"),
    _l("erlang", aliases="erl", extensions=".erl .hrl"),
    _l("clojure", aliases="clj cljs", extensions=".clj .cljs .cljc .edn"),
    _l("ocaml", aliases="ml", extensions=".ml"),
    _l("julia", aliases="jl", extensions=".jl"),
    _l("zig", extensions=".zig"),
    _l("objc", aliases="objective-c objectivec obj-c", extensions=".m .mm"),
    _l("markdown", aliases="md", extensions=".md .markdown"),
    _l("dockerfile", aliases="docker", extensions=".dockerfile",
       filenames="Dockerfile Containerfile"),
    _l("make", aliases="makefile mk", extensions=".mk", filenames="Makefile makefile GNUmakefile"),
    _l("xml", aliases="svg xsd xsl", extensions=".xml .svg .xsd .xsl"),
    _l("graphql", aliases="gql", extensions=".graphql .gql"),
    _l("elm", extensions=".elm"),
    _l("fortran", aliases="f90 f95", extensions=".f90 .f95 .f03 .f08"),
    _l("powershell", aliases="ps1 pwsh", extensions=".ps1 .psm1"),
    _l("groovy", aliases="gradle", extensions=".groovy .gradle"),
    _l("nix", extensions=".nix"),
    _l("vue", extensions=".vue"),
    _l("svelte", extensions=".svelte"),
    _l("latex", aliases="tex", extensions=".tex"),
    _l("hcl", aliases="terraform tf", extensions=".hcl .tf"),
    _l("cmake", extensions=".cmake", filenames="CMakeLists.txt"),
    _l("ini", aliases="cfg", extensions=".ini .cfg"),
    _l("solidity", aliases="sol", extensions=".sol"),
    _l("scheme", aliases="scm", extensions=".scm .ss"),
    _l("commonlisp", aliases="lisp common-lisp", extensions=".lisp .lsp .cl"),
    _l("fsharp", aliases="f# fs", extensions=".fs .fsx"),
    _l("nim", extensions=".nim"),
    _l("verilog", aliases="systemverilog sv", extensions=".v .sv"),
    _l("vhdl", extensions=".vhd .vhdl"),
    _l("d", aliases="dlang", extensions=".d"),
)

_BY_KEY: dict[str, Language] = {}
for _lang in LANGUAGES:
    for _key in (_lang.name, *_lang.aliases):
        _BY_KEY.setdefault(_key.lower(), _lang)
_BY_EXT = {ext: lang for lang in LANGUAGES for ext in lang.extensions}
_BY_FILENAME = {f: lang for lang in LANGUAGES for f in lang.filenames}


def find(name: str) -> Language | None:
    """The language a name or alias (a fence's info string, case-insensitive) means."""
    key = name.strip().lower()
    return _BY_KEY.get(key) or _BY_KEY.get(key.split()[0] if key else key)


def language_for(name: str, param: str = "language") -> Language:
    """The language `name` means; unknown -> a 400 naming `param`."""
    lang = find(name)
    if lang is None:
        raise InvalidRequest(f"Unknown language {name!r} for '{param}'; known: "
                             f"{', '.join(sorted(x.name for x in LANGUAGES))}.",
                             param=param, code="unknown_language")
    return lang


def language_for_path(path: str | PurePath) -> Language | None:
    """The language of a file, by its name (Makefile, Dockerfile) or its extension."""
    p = PurePath(path)
    if p.name in _BY_FILENAME:
        return _BY_FILENAME[p.name]
    return _BY_EXT.get(p.suffix) or _BY_EXT.get(p.suffix.lower())


@cache
def parser(lang: Language) -> Any:
    """The tree-sitter parser of a language (one per language, built on first use)."""
    from tree_sitter_language_pack import get_parser

    return get_parser(lang.grammar)  # type: ignore[arg-type]
