"""Agent loop: multi-turn function-calling scenarios, run the way a client's agent runs them.

Scenarios: bench/data/agent_scenarios.json. Each has `id`, `kind`, `tools` (OpenAI tool
objects), `messages` (the opening messages; some already hold a call/result/answer exchange),
`functions` (the scripted client's table), `expect` and optionally `calls`, `no_calls`,
`accept`. Kinds: single (one call, then an answer from its result), dependent (a second call
needs the first one's result), parallel (independent calls, then one answer that compares),
error (the client returns an error result: the answer says so, or a corrected call is made),
followup (a finished exchange, then a new question: a different call, or an answer from the
earlier result without a call), no_tool (tools offered, none needed: no call), answer_result
(the conversation ends with the tool result and the same tool is still offered: answer, do
not call again).

The loop, with the official `openai` SDK: send the messages and tools (`tool_choice` auto,
`parallel_tool_calls` left at its default); a reply with tool_calls is appended (the assistant
message with its calls, then one `tool` message per call with the scripted result) and sent
again; a reply without calls is the final answer. At most --max-rounds requests. With
--stream every request streams and the deltas are reassembled (content, and tool calls by
`index`: id, name, argument fragments). The SDK does no retries (max_retries 0): an HTTP
error ends the scenario as an error.

The scripted result of a call: `functions[name]` is a list of entries `{"args": {...} | "*",
"result": {...}}`, tried in order: first an entry whose args equal the call's (canonical
JSON), then one whose args are all in the call with equal values (strings compared without
case or surrounding space, "Oslo" also taking "Oslo, Norway"; numbers by value; extra keys
in the call allowed), then the "*" entry. A call that matches nothing gets
`{"error": "unknown call"}`; arguments that are not JSON, `{"error": "arguments are not valid
JSON"}`.

Metrics per run (one scenario, one seed):
- success: a final text answer within --max-rounds that contains every `expect` fact
  (case-insensitive substrings; a list is alternatives), every `calls` entry made (a call of
  that name whose arguments include the given values; `{"one_of": [...]}` for alternatives),
  and no call at all where `no_calls` is set; or the same for one of the `accept` outcomes.
- loop: a call identical (name + canonical arguments) to one already made and answered
  earlier in the conversation, the opening messages included.
- degenerate: the final text has 3+ identical non-alphanumeric tokens or lines in a row
  (`"" "" ""`, ``` fences), the same line 3+ times in a row, 3+ blank lines in a row, is
  empty, or finished with `length`.
- no answer: still calling after --max-rounds; rounds (requests made) and latency (wall
  time of the whole scenario, and per request).
- call in text: the final text holds a `{"name": ..., "arguments": ...}` object, a call the
  server did not return as tool_calls.
- empty args: a call gave a required string parameter as "" or blank (a placeholder).

Arms: openmini (`openmini serve` in a child process, --ctx-size per sequence) and llamacpp
(llama.cpp's own server through xllamacpp, the same GGUF and threads, jinja on so the chat
template renders the tools and the server parses the calls it recognises; n_ctx = --ctx-size
x --parallel shared by its slots; xllamacpp's wheel is AVX2-only). --base-url runs against a
server already running (one arm: its label). Greedy by default; --temperature T --samples K
runs every scenario K times, sample s with `seed` s.

    .venv/bin/python bench/agent_loop.py --model fast
    .venv/bin/python bench/agent_loop.py --model fast --arm openmini llamacpp --limit 14
    .venv/bin/python bench/agent_loop.py --model fast --stream --ids trap_weather_result --show
    .venv/bin/python bench/agent_loop.py --base-url http://127.0.0.1:8000 --kinds answer_result
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bfcl import text_calls
from common import (
    AVX2_NOTE,
    Server,
    median,
    model_path,
    openmini_server,
    parser,
    pct,
    save,
    table,
    xserver,
)

SCENARIOS = Path(__file__).resolve().parent / "data" / "agent_scenarios.json"
KINDS = ("single", "dependent", "parallel", "error", "followup", "no_tool", "answer_result")
ARMS = ("openmini", "llamacpp")
UNKNOWN = {"error": "unknown call"}
NOT_JSON = {"error": "arguments are not valid JSON"}


# --- scenarios and the scripted client ----------------------------------------------------

def load(path: Path) -> list[dict[str, Any]]:
    scenarios = json.loads(path.read_text())["scenarios"]
    for s in scenarios:
        if s["kind"] not in KINDS:
            raise ValueError(f"{s['id']}: unknown kind {s['kind']!r}")
    return list(scenarios)


def pick(scenarios: list[dict[str, Any]], ids: list[str] | None, kinds: list[str] | None,
         limit: int | None) -> list[dict[str, Any]]:
    """--ids / --kinds filter; --limit N takes N, one kind at a time in turn (kinds in KINDS
    order, scenarios in file order), so a small N still covers N kinds."""
    chosen = [s for s in scenarios if (not ids or s["id"] in ids)
              and (not kinds or s["kind"] in kinds)]
    if ids and (missing := set(ids) - {s["id"] for s in chosen}):
        raise SystemExit(f"unknown scenario ids: {sorted(missing)}")
    if limit is None:
        return chosen
    queues = [[s for s in chosen if s["kind"] == k] for k in KINDS]
    out: list[dict[str, Any]] = []
    while len(out) < limit and any(queues):
        out += [q.pop(0) for q in queues if q][: limit - len(out)]
    return out


def canonical(name: str, args: Any) -> str:
    return name + json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def norm(s: str) -> str:
    return " ".join(s.replace("\u2019", "'").replace("\u00a0", " ").split()).casefold()


def matches(expected: Any, actual: Any) -> bool:
    """`actual` holds `expected`: strings without case ("Oslo" also takes "Oslo, Norway"),
    numbers by value, objects by their expected keys, {"one_of": [...]} any of them."""
    if isinstance(expected, dict) and set(expected) == {"one_of"}:
        return any(matches(e, actual) for e in expected["one_of"])
    if isinstance(expected, str):
        return isinstance(actual, str) and (norm(actual) == norm(expected)
                                            or norm(actual).startswith(norm(expected) + ","))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, int | float):
        return isinstance(actual, int | float) and math.isclose(expected, actual, abs_tol=1e-9)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(v, actual[k])
                                                for k, v in expected.items())
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(actual) == len(expected)
                and all(matches(e, a) for e, a in zip(expected, actual, strict=True)))
    return bool(expected == actual)


def lookup(functions: dict[str, list[dict[str, Any]]], name: str, args: Any) -> Any:
    """The scripted result: exact arguments, else an entry they include, else the wildcard."""
    entries = functions.get(name) or []
    key = canonical(name, args)
    for test in (lambda e: canonical(name, e) == key, lambda e: matches(e, args)):
        for entry in entries:
            if entry["args"] != "*" and test(entry["args"]):
                return entry["result"]
    return next((e["result"] for e in entries if e["args"] == "*"), UNKNOWN)


def answered_calls(messages: list[dict[str, Any]]) -> set[str]:
    """Canonical keys of the calls in the opening messages that have a tool result."""
    results = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    keys = set()
    for m in messages:
        for tc in m.get("tool_calls") or ():
            if tc["id"] in results:
                keys.add(canonical(tc["function"]["name"], parse_args(tc["function"]["arguments"])))
    return keys


def parse_args(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else {}
    except ValueError:
        return None


# --- checks -------------------------------------------------------------------------------

def has_fact(text: str, fact: str | list[str]) -> bool:
    alts = [fact] if isinstance(fact, str) else fact
    return any(norm(a) in norm(text) for a in alts)


def outcome_problems(outcome: dict[str, Any], text: str,
                     calls: list[tuple[str, Any]]) -> list[str]:
    problems = [f"missing fact {f!r}" for f in outcome.get("expect", ()) if not has_fact(text, f)]
    for want in outcome.get("calls", ()):
        if not any(n == want["name"] and matches(want.get("args", {}), a) for n, a in calls):
            problems.append(f"no call {want['name']}({json.dumps(want.get('args', {}))})")
    if outcome.get("no_calls") and calls:
        problems.append(f"called {', '.join(n for n, _ in calls)} (no call expected)")
    return problems


def degenerate(text: str, finish: str) -> str:
    """Why the final text is degenerate, or ""."""
    if finish == "length":
        return "finish length"
    if not text.strip():
        return "empty"
    blank = 0
    for line in text.split("\n"):
        blank = blank + 1 if not line.strip() else 0
        if blank >= 3:
            return "3+ blank lines"
    for what, items in (("tokens", text.split()),
                        ("lines", [ln.strip() for ln in text.split("\n") if ln.strip()])):
        for i in range(len(items) - 2):
            if items[i] == items[i + 1] == items[i + 2]:
                if not any(ch.isalnum() for ch in items[i]):
                    return f"repeated non-alphanumeric {what} {items[i][:20]!r} x3+"
                if what == "lines":
                    return f"the same line x3+ {items[i][:40]!r}"
    return ""


# --- one scenario -------------------------------------------------------------------------

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


async def ask(client: Any, req: dict[str, Any], stream: bool) -> Round:
    """One request; the reply's text, calls (name, arguments text, id) and finish reason."""
    t0 = time.perf_counter()
    if not stream:
        resp = await client.chat.completions.create(**req)
        choice = resp.choices[0]
        calls = [{"id": tc.id, "name": tc.function.name, "arguments": tc.function.arguments}
                 for tc in choice.message.tool_calls or ()]
        tokens = resp.usage.completion_tokens if resp.usage else 0
        return Round(time.perf_counter() - t0, choice.finish_reason or "",
                     choice.message.content or "", calls, tokens)
    content, slots, finish, tokens = [], {}, "", 0
    chunks = await client.chat.completions.create(**req, stream=True,
                                                  stream_options={"include_usage": True})
    async for chunk in chunks:
        if chunk.usage:
            tokens = chunk.usage.completion_tokens
        for ch in chunk.choices:
            if ch.delta.content:
                content.append(ch.delta.content)
            for tc in ch.delta.tool_calls or ():
                slot = slots.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                slot["id"] = tc.id or slot["id"]
                if tc.function:
                    slot["name"] += tc.function.name or ""
                    slot["arguments"] += tc.function.arguments or ""
            finish = ch.finish_reason or finish
    calls = [slots[i] for i in sorted(slots)]
    return Round(time.perf_counter() - t0, finish, "".join(content), calls, tokens)


async def run_scenario(client: Any, model: str, sc: dict[str, Any], arm: str, a: Any,
                       sample: int) -> Run:
    import openai

    run = Run(sc["id"], sc["kind"], arm, sample)
    messages = [dict(m) for m in sc["messages"]]
    answered = answered_calls(messages)
    req: dict[str, Any] = {"model": model, "tools": sc["tools"], "tool_choice": "auto",
                           "temperature": a.temperature, "max_tokens": a.max_tokens}
    if a.temperature > 0:
        req["seed"] = sample
    t0 = time.perf_counter()
    try:
        for n in range(1, a.max_rounds + 1):
            r = await ask(client, {**req, "messages": messages}, a.stream)
            run.rounds.append(r)
            if not r.calls:
                run.answer, run.finish = r.content, r.finish
                break
            messages.append({"role": "assistant", "content": r.content or None, "tool_calls": [
                {"id": c["id"] or f"call_{n}_{i}", "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}}
                for i, c in enumerate(r.calls)]})
            keys = []
            for i, c in enumerate(r.calls):
                args = parse_args(c["arguments"])
                key = canonical(c["name"], args if args is not None else c["arguments"])
                c["args"] = args
                c["result"] = NOT_JSON if args is None else lookup(sc["functions"], c["name"],
                                                                   args)
                c["loop"] = key in answered
                run.loops += c["loop"]
                run.empty += placeholder(sc["tools"], c["name"], args)
                keys.append(key)
                messages.append({"role": "tool", "tool_call_id": c["id"] or f"call_{n}_{i}",
                                 "content": json.dumps(c["result"], ensure_ascii=False)})
            answered.update(keys)
    except openai.APIError as exc:
        status = getattr(exc, "status_code", None)
        run.error = f"{type(exc).__name__}{f' {status}' if status else ''}: {str(exc)[:300]}"
    run.latency = time.perf_counter() - t0
    if run.answer is not None:
        run.degenerate = degenerate(run.answer, run.finish)
        run.text_calls = text_calls(run.answer)
    score(run, sc)
    return run


def placeholder(tools: list[dict[str, Any]], name: str, args: Any) -> bool:
    """A required string parameter given as "" or blank: what a small model writes when the
    grammar holds it to a call it has no value for."""
    spec = next((t["function"] for t in tools if t["function"]["name"] == name), None)
    if spec is None or not isinstance(args, dict):
        return False
    params = spec.get("parameters") or {}
    props = params.get("properties", {})
    return any(props.get(k, {}).get("type") == "string" and isinstance(args.get(k), str)
               and not args[k].strip() for k in params.get("required", []))


def score(run: Run, sc: dict[str, Any]) -> None:
    if run.error:
        run.problems = [run.error]
        return
    if run.answer is None:
        run.problems = [f"no answer in {len(run.rounds)} rounds"]
        return
    outcomes = [("expect", sc), *((f"accept {i}", o) for i, o in enumerate(sc.get("accept", ())))]
    for label, outcome in outcomes:
        if label != "expect":  # an accepted outcome keeps the scenario's no_calls
            outcome = {"no_calls": sc.get("no_calls", False), **outcome}
        problems = outcome_problems(outcome, run.answer, run.calls)
        if not problems:
            run.success, run.matched, run.problems = True, label, []
            return
        if label == "expect":
            run.problems = problems


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


# --- servers ------------------------------------------------------------------------------

def start(arm: str, a: Any) -> Server:
    if arm == "llamacpp":
        return xserver(model_path(a.model), a.threads, a.parallel, a.ctx_size * a.parallel,
                       jinja=True)
    cmd = ("{python} -m openmini.cli.main serve --model {model} --port {port} --threads "
           "{threads} --parallel {parallel} --ctx-size " + str(a.ctx_size))
    return openmini_server(a.model, a.threads, a.parallel, cmd=cmd)


def served_model(url: str, fallback: str) -> str:
    try:
        data = httpx.get(url.rstrip("/") + "/v1/models", timeout=10).json()["data"]
        return str(data[0]["id"])
    except (httpx.HTTPError, KeyError, IndexError, ValueError):
        return fallback


# --- main ---------------------------------------------------------------------------------

async def run_arm(url: str, arm: str, scenarios: list[dict[str, Any]],
                  a: Any) -> tuple[list[Run], float]:
    from openai import AsyncOpenAI

    model = served_model(url, a.model)
    client = AsyncOpenAI(base_url=url.rstrip("/") + "/v1", api_key="unused", max_retries=0,
                         timeout=3600)  # max_tokens bounds a request
    gate = asyncio.Semaphore(a.parallel)
    done = 0

    async def one(sc: dict[str, Any], sample: int) -> Run:
        nonlocal done
        async with gate:
            run = await run_scenario(client, model, sc, arm, a, sample)
        done += 1
        if a.show:
            print(transcript(run, sc), flush=True)
        else:
            mark = "ok" if run.success else "FAIL"
            extra = (" LOOP" if run.loops else "") + (" DEGENERATE" if run.degenerate else "")
            print(f"  [{done}/{len(scenarios) * a.samples}] {run.id}#{sample} {mark}{extra} "
                  f"rounds {len(run.rounds)} {run.latency:.1f} s", flush=True)
        return run

    print(f"\n{arm}: {url} (model {model!r}), {len(scenarios)} scenarios x {a.samples} "
          f"sample(s), {a.parallel} at once", flush=True)
    t0 = time.perf_counter()
    try:
        runs = await asyncio.gather(*(one(sc, s) for s in range(a.samples) for sc in scenarios))
    finally:
        await client.close()
    return list(runs), time.perf_counter() - t0


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--arm", nargs="+", choices=ARMS, default=["openmini"],
                   help="servers to run, one after the other (default openmini)")
    p.add_argument("--base-url", help="an already running server (one arm: its label)")
    p.add_argument("--scenarios", type=Path, default=SCENARIOS)
    p.add_argument("--ids", nargs="+", help="only these scenario ids")
    p.add_argument("--kinds", nargs="+", choices=KINDS, help="only these kinds")
    p.add_argument("--limit", type=int, help="N scenarios, one kind at a time in turn")
    p.add_argument("--temperature", type=float, default=0.0, help="0 (default) is greedy")
    p.add_argument("--samples", type=int, default=1,
                   help="runs of each scenario, seeds 0..K-1 (with --temperature > 0)")
    p.add_argument("--stream", action="store_true", help="every request streaming")
    p.add_argument("--max-rounds", type=int, default=6, help="requests per scenario at most")
    p.add_argument("--max-tokens", type=int, default=512, help="per request")
    p.add_argument("--parallel", type=int, default=4,
                   help="scenarios at once (and the server's sequences/slots)")
    p.add_argument("--ctx-size", type=int, default=8192, help="context per sequence")
    p.add_argument("--show", action="store_true", help="print every transcript")
    a = p.parse_args()
    if a.quick:
        a.limit, a.max_tokens = min(a.limit or len(KINDS), len(KINDS)), min(a.max_tokens, 256)
    if a.samples < 1 or (a.samples > 1 and a.temperature == 0):
        p.error("--samples K > 1 needs --temperature > 0 (greedy runs repeat themselves)")
    if a.base_url and len(a.arm) > 1:
        p.error("--base-url is one server: give one --arm (its label)")
    scenarios = pick(load(a.scenarios), a.ids, a.kinds, a.limit)
    by_id = {s["id"]: s for s in scenarios}
    print(f"{len(scenarios)} scenarios: {dict(Counter(s['kind'] for s in scenarios))}")

    results: dict[str, list[Run]] = {}
    walls: dict[str, float] = {}
    for arm in a.arm:
        if a.base_url:
            results[arm], walls[arm] = await run_arm(a.base_url, arm, scenarios, a)
            continue
        print(f"\nstarting {arm} ({a.model}, {a.threads} threads, {a.parallel} sequences, "
              f"ctx {a.ctx_size} each)...", flush=True)
        t0 = time.perf_counter()
        with start(arm, a) as server:
            print(f"{arm} ready in {time.perf_counter() - t0:.1f} s", flush=True)
            results[arm], walls[arm] = await run_arm(server.url, arm, scenarios, a)

    summaries = {arm: report(arm, runs, a, walls[arm]) for arm, runs in results.items()}
    if len(summaries) > 1:
        kinds = [k for k in [*KINDS, "all"] if k in next(iter(summaries.values()))]
        rows = []
        for k in kinds:
            cells = []
            for arm in summaries:
                s = summaries[arm][k]
                cells.append(f"{s['success']}/{s['loop']}/{s['degenerate']} of {s['runs']}")
            rows.append([k, *cells])
        table("success / loop / degenerate, per arm", ["kind", *summaries], rows)
    if "llamacpp" in results:
        print(f"note: {AVX2_NOTE}")
    if not a.show:
        bad = [r for runs in results.values() for r in runs if r.loops or r.degenerate
               or r.error]
        if bad:
            print("\nTranscripts with a loop, a degenerate answer or an error:")
            for r in bad:
                print(transcript(r, by_id[r.id]))
    save(f"agent_loop-{'-'.join(results)}{'-stream' if a.stream else ''}", a,
         {"summary": summaries, "wall_s": walls,
          "runs": [asdict(r) for runs in results.values() for r in runs]})


if __name__ == "__main__":
    asyncio.run(main())
