"""What bench/agent_loop.py records of a run (Round, Run) and how it reports them: transcripts,
per-kind summaries, the tables."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from agent_scenarios import KINDS
from common import median, pct, table

# --- a run -------------------------------------------------------------------------

@dataclass(slots=True)
class Round:
    latency: float
    finish: str = ""
    content: str = ""
    calls: list[dict[str, Any]] = field(default_factory=list)  # name, arguments, result, loop
    tokens: int = 0


@dataclass(slots=True)
class Run:
    id: str
    kind: str
    arm: str
    sample: int = 0
    rounds: list[Round] = field(default_factory=list)
    answer: str | None = None  # the final text; None: still calling, or an error
    finish: str = ""
    error: str = ""
    success: bool = False
    matched: str = ""  # "expect" or "accept N": the outcome that was met
    problems: list[str] = field(default_factory=list)
    loops: int = 0  # calls identical to one already answered
    empty: int = 0  # calls with a required string argument "" or blank (a placeholder)
    degenerate: str = ""
    text_calls: int = 0
    latency: float = 0.0

    @property
    def calls(self) -> list[tuple[str, Any]]:
        return [(c["name"], c["args"]) for r in self.rounds for c in r.calls]


# --- transcripts and report ---------------------------------------------------------------

def clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def transcript(run: Run, sc: dict[str, Any]) -> str:
    verdict = "OK" if run.success else "FAIL " + "; ".join(run.problems)[:200]
    flags = [f"LOOP x{run.loops}"] * bool(run.loops) + [f"DEGENERATE ({run.degenerate})"] * bool(
        run.degenerate) + [f"{run.text_calls} call(s) in text"] * bool(run.text_calls)
    head = (f"== {run.id} [{run.kind}] {run.arm} seed {run.sample}: {verdict}"
            f"{' | ' + ' | '.join(flags) if flags else ''} | rounds {len(run.rounds)} | "
            f"{run.latency:.1f} s")
    opening = sc["messages"]
    last_user = next(m["content"] for m in reversed(opening) if m["role"] == "user")
    lines = [head, f"  user: {clip(last_user, 160)}"
             + (f"  (opening: {len(opening)} messages, ends with {opening[-1]['role']})"
                if len(opening) > 1 else "")]
    for n, r in enumerate(run.rounds, 1):
        if r.content and r.calls:
            lines.append(f"  #{n} text: {clip(r.content, 200)!r}")
        for c in r.calls:
            lines.append(f"  #{n} call {c['name']}{clip(c['arguments'], 120)}"
                         f"{' [LOOP]' if c.get('loop') else ''} -> "
                         f"{clip(json.dumps(c.get('result'), ensure_ascii=False), 120)}")
        if not r.calls:
            lines.append(f"  #{n} answer [{r.finish}, {r.tokens} tok, {r.latency:.1f} s]: "
                         f"{clip(r.content, 600)!r}")
    if run.error:
        lines.append(f"  error: {run.error}")
    return "\n".join(lines)


def reason(problem: str) -> str:
    """A problem without its particulars: 'missing fact', 'no call get_weather', ..."""
    if problem.startswith(("missing fact", "no answer")):
        return " ".join(problem.split()[:2])
    if problem.startswith("no call "):
        return problem.split("(")[0]
    if problem.startswith("called "):
        return "called (no call expected)"
    return problem.split(":")[0]


def share(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"


def summary(runs: list[Run]) -> dict[str, Any]:
    n = len(runs)
    req = [r.latency for run in runs for r in run.rounds]
    return {"runs": n, "success": sum(r.success for r in runs),
            "loop": sum(r.loops > 0 for r in runs), "degenerate": sum(bool(r.degenerate)
                                                                     for r in runs),
            "no_answer": sum(r.answer is None and not r.error for r in runs),
            "errors": sum(bool(r.error) for r in runs),
            "text_calls": sum(r.text_calls > 0 for r in runs),
            "empty_args": sum(r.empty > 0 for r in runs),
            "rounds_mean": sum(len(r.rounds) for r in runs) / n if n else float("nan"),
            "latency_median_s": median([r.latency for r in runs]),
            "latency_p90_s": pct([r.latency for r in runs], 90),
            "request_median_s": median(req),
            "completion_tokens": sum(r.tokens for run in runs for r in run.rounds)}


def report(arm: str, runs: list[Run], a: Any, wall: float) -> dict[str, Any]:
    kinds = [k for k in KINDS if any(r.kind == k for r in runs)]
    out = {k: summary([r for r in runs if r.kind == k]) for k in kinds}
    out["all"] = summary(runs)
    rows = [[k, s["runs"], share(s["success"], s["runs"]), share(s["loop"], s["runs"]),
             share(s["degenerate"], s["runs"]), s["no_answer"], s["errors"], s["text_calls"],
             s["empty_args"],
             f"{s['rounds_mean']:.2f}", s["latency_median_s"], s["latency_p90_s"],
             s["request_median_s"]] for k, s in out.items()]
    table(f"Agent loop, {arm}, {a.model}, {decoding(a)}, max_tokens {a.max_tokens}, max rounds "
          f"{a.max_rounds}{', streaming' if a.stream else ''} ({wall:.0f} s wall)",
          ["kind", "runs", "success", "loop", "degenerate", "no answer", "errors",
           "call in text", "empty args", "rounds", "latency med s", "p90 s",
           "request med s"], rows)
    why = Counter(reason(p) for r in runs if not r.success for p in r.problems)
    if why:
        table(f"Why {arm} runs failed (every problem of a failed run)", ["problem", "runs"],
              why.most_common(10))
    return out


def decoding(a: Any) -> str:
    return "greedy" if a.temperature == 0 else (
        f"temperature {a.temperature}, {a.samples} samples (seeds 0-{a.samples - 1})")
