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
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import httpx

from agent_report import Round, Run, report, transcript
from agent_scenarios import (
    ARMS,
    KINDS,
    NOT_JSON,
    SCENARIOS,
    answered_calls,
    canonical,
    degenerate,
    load,
    lookup,
    outcome_problems,
    parse_args,
    pick,
    placeholder,
)
from bfcl import text_calls
from common import (
    AVX2_NOTE,
    Server,
    model_path,
    openmini_server,
    parser,
    save,
    table,
    xserver,
)

# --- one scenario -------------------------------------------------------------------------

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
