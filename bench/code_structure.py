"""Code structure: the time of an outline and of a structural-equivalence check, offline.

(a) `outline()` of a generated 10,000-line Python file (classes with methods, functions,
docstrings, loops, comprehensions, lambdas), with the language given and detected. (b)
`equivalent()` of two generated 1,000-line Python files: the second a copy of the first with
every local renamed consistently, reformatted (spacing, blank lines, wrapped calls) and
commented; the check must answer equivalent. Each case is run twice to warm up, then
`--runs` times; median and p90 in ms. Goals: outline <= 50 ms, equivalence <= 50 ms. One
thread: tree-sitter parses in C, the walks are Python.

    .venv/bin/python bench/code_structure.py --runs 20
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from string import Template
from typing import Any

from common import median, pct, save, table, verdict

BLOCK = Template('''\
class Store$i:
    """A store of items, number $i."""

    def __init__($self, $capacity):
        $self.capacity = $capacity
        $self.items = []

    def add($self, $item, $weight=1):
        """Add an item; return the new size."""
        if len($self.items) >= $self.capacity:
            raise ValueError("full")
        $self.items.append(($item, $weight))
        return len($self.items)

    def total($self, $factor):
        $result = 0
        for $item, $weight in $self.items:
            if $weight > 0:
                $result += $weight * $factor
            else:
                $result -= helper($item, key="k$i")
        return $result


def summarize_$i($stores, $limit=10):
    """Summarize some stores."""
    $counts = {}
    for $index, $store in enumerate($stores):
        if $index >= $limit:
            break
        $counts[$store.capacity] = $counts.get($store.capacity, 0) + $store.total(2)
    $names = [$s.label for $s in $stores if $s.capacity > $limit]
    return sorted($counts.items(), key=lambda $pair: $pair[1]), $names
''')
LOCALS = ("self", "capacity", "item", "weight", "factor", "result", "stores", "limit", "counts",
          "index", "store", "names", "s", "pair")
RENAMED = dict(zip(LOCALS, ("this", "cap", "it", "w", "k", "acc", "group", "top", "tally", "n",
                            "one", "labels", "x", "kv"), strict=True))
GOAL_MS = 50.0


def python_file(lines: int, names: dict[str, str] | None = None) -> str:
    """At least `lines` lines of Python: BLOCK repeated, its locals named by `names`."""
    per_block = BLOCK.template.count("\n") + 2
    mapping = names or {n: n for n in LOCALS}
    return "\n\n".join(BLOCK.substitute(mapping, i=i)
                       for i in range(-(-lines // per_block))) + "\n"


def reformat(code: str) -> str:
    """The same program laid out differently: comments after block openers, a blank line
    after docstrings, no spaces around `=`, doubled spaces around `+=`, wrapped calls."""
    out = []
    for line in code.splitlines():
        stripped = line.strip()
        if stripped.startswith('"""'):
            out.extend([line, ""])
            continue
        line = line.replace(" = ", "=").replace(" += ", "  +=  ").replace(", key=", ",\n" +
                                                                            " " * 12 + "key=")
        if stripped.endswith(":"):
            line += "  # " + stripped.split()[0]
        out.append(line)
    return "\n".join(out) + "\n"


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    for _ in range(2):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--runs", type=int, default=20, help="timed runs per case")
    p.add_argument("--outline-lines", type=int, default=10_000)
    p.add_argument("--equivalent-lines", type=int, default=1_000)
    p.add_argument("--quick", action="store_true", help="3 runs: a smoke test, not figures")
    p.set_defaults(model="none")  # for common.save's file name
    a = p.parse_args()
    runs = 3 if a.quick else a.runs

    from openmini.code.equivalent import equivalent
    from openmini.code.outline import outline

    big = python_file(a.outline_lines)
    first = python_file(a.equivalent_lines)
    second = reformat(python_file(a.equivalent_lines, RENAMED))
    result = outline(big)
    if result["language"] != "python" or result["diagnostics"]:
        raise SystemExit(f"the generated file does not parse as Python: {result['diagnostics']}")
    check = equivalent(first, second, "python")
    if not check["equivalent"]:
        raise SystemExit(f"the renamed, reformatted copy is not equivalent: {check}")
    if equivalent(first, re.sub(r"\+= ", "-= ", second, count=1), "python")["equivalent"]:
        raise SystemExit("a changed operator went unnoticed")
    print(f"outline file: {big.count(chr(10))} lines, {len(big) // 1024} KiB, "
          f"{len(result['symbols'])} symbols; equivalence files: {first.count(chr(10))} and "
          f"{second.count(chr(10))} lines", flush=True)

    cases = {
        "outline, language given": lambda: outline(big, "python"),
        "outline, detected": lambda: outline(big),
        "equivalent, 2 files": lambda: equivalent(first, second, "python"),
    }
    times = {name: timed(fn, runs) for name, fn in cases.items()}
    table(f"Time per call, {runs} runs (ms)", ["case", "median", "p90", "goal"],
          [[name, median(ms), pct(ms, 90), verdict(median(ms), GOAL_MS, False)]
           for name, ms in times.items()])
    for name, ms in times.items():
        print(f"{name}: median {median(ms):.1f} ms, p90 {pct(ms, 90):.1f} ms -> "
              f"{'met' if median(ms) <= GOAL_MS else 'missed'} (goal <= {GOAL_MS:.0f} ms)")
    save("code_structure", a, {"runs": runs, "lines": {"outline": big.count("\n"),
                                                        "equivalent": first.count("\n")},
                               "ms": {name: {"median": median(ms), "p90": pct(ms, 90)}
                                      for name, ms in times.items()}})


if __name__ == "__main__":
    main()
