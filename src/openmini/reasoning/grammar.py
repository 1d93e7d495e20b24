"""The grammar of a thinking answer: an open thinking block (the prompt opened it), its
closing tag, then the answer under the request's own constraint (JSON schema, regex, grammar,
tool calls) or free, non-empty text.

The block's text is lazy: it ends at the first closing tag, so the tag cannot appear inside
it and the split between reasoning and answer is exact. With native tags the closing tag is a
special token that text can never produce. Registered as the `thinking` constraint kind, so it
is compiled once per distinct (format, answer constraint) and cached like any constraint.
"""

from __future__ import annotations

import json

from openmini.decoding.constraint import Constraint, compose
from openmini.reasoning.format import CLOSE, ThinkFormat

ANSWER_PARAM = "reasoning_effort"
# Not empty, no thinking tag in it, not even a partial one in any case, and not opening with a
# closing tag: a small model whose block was closed for it likes to close it again
# ("</thINK>", "</answer>"). llguidance lexemes take & (and) and ~ (not).
FREE_ANSWER = (r"/\s*\S(.|\n)*/ & ~/(?s:.*<\s*\/?\s*[Tt][Hh][Ii][Nn][Kk].*)/"
               r" & ~/(?s:\s*<\/.*)/")


def thinking_constraint(fmt: ThinkFormat, answer: Constraint | None) -> Constraint:
    spec = {"close": fmt.close_id,
            "answer": None if answer is None else {"kind": answer.kind, "spec": answer.spec}}
    return Constraint("thinking", json.dumps(spec), answer.param if answer else ANSWER_PARAM)


def _head(close_id: int | None) -> str:
    if close_id is not None:  # a special token: the text lexeme can never swallow it
        return f"think: THINK <[{close_id}]>\nTHINK: /[^\\x00]*/\n"
    return f'think[lazy]: THINK "{CLOSE}"\nTHINK: /(.|\\n)*/\n'


def build(spec_text: str) -> str:
    """Grammar text for a `thinking` constraint (see decoding.constraint.GRAMMARS)."""
    spec = json.loads(spec_text)
    head = _head(spec["close"])
    answer = spec["answer"]
    if answer is None:  # free text that says something, and opens no second block
        return f"%llguidance {{}}\nstart: think ANSWER\n{head}ANSWER: {FREE_ANSWER}\n"
    top = f'%llguidance {{}}\nstart: think SEP @answer\n{head}SEP: /\\n{{0,2}}/\n'
    return compose(top, {"answer": Constraint(answer["kind"], answer["spec"], ANSWER_PARAM)})
