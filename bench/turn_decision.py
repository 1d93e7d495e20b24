"""Calibrate the call/text decision after tool results on labelled multi-turn states.

The decision after tool results (src/openmini/backends/local_decision.py, `_after_results`)
reads two shares before the answer: `p_text`, the first token's prose share under the
grammar, and `p_repeat`, the share of calls that would repeat one of the last batch
(tools/repeat.py); text when p_text + (1 - p_text) * p_repeat reaches the model's threshold.
This bench builds the states an agent loop passes through from the scenarios of
bench/agent_loop.py (bench/data/agent_scenarios.json), each labelled with the right next
step, and records both shares and the decision served for each:

- after the first call of a `dependent` scenario, with its scripted result: call (the
  second call needs that result);
- after one of the two calls of a `parallel` scenario: call (the other one is missing);
- after every expected call (single, dependent, parallel, followup) and in `answer_result`
  scenarios: text;
- error states are left out (an answer that says so and a corrected call are both right).

Each state is one request with `max_tokens` 1 (the decision, then one token), sent one at a
time. `--exclude-limit 21` leaves out the scenarios `bench/agent_loop.py --limit 21` reports
(the held-out split), so a threshold is picked on the rest.

    .venv/bin/python bench/turn_decision.py --model default --exclude-limit 21
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from agent_scenarios import SCENARIOS, load, lookup, matches, pick
from common import parser, save, table
from tool_decision import cuts

RECORD: dict[str, float] = {}


def record() -> None:
    """Keep each request's first p_text and its repeat share (what the backend computed)."""
    from openmini.tools import decision, repeat

    process = decision.TextDecision.process

    def recording(self: Any, generated: Any, logits: Any) -> None:
        process(self, generated, logits)
        if self.p_text is not None and "p_text" not in RECORD:
            RECORD["p_text"] = self.p_text

    decision.TextDecision.process = recording  # type: ignore[method-assign]
    share = repeat.repeat_share

    async def sharing(*args: Any, **kw: Any) -> float:
        RECORD["p_repeat"] = value = await share(*args, **kw)
        return value

    repeat.repeat_share = sharing  # type: ignore[assignment]


def concrete(scenario: dict[str, Any], want: dict[str, Any]) -> dict[str, Any]:
    """Arguments for an expected call: the first scripted entry they match (expected calls
    may give only some of their arguments, or alternatives)."""
    for entry in scenario["functions"].get(want["name"], ()):
        if entry["args"] != "*" and matches(want.get("args", {}), entry["args"]):
            return dict(entry["args"])
    return {k: (v["one_of"][0] if isinstance(v, dict) and "one_of" in v else v)
            for k, v in want.get("args", {}).items()}


def batch(scenario: dict[str, Any], wants: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """An assistant message making `wants` and one tool message per call with its result."""
    calls, results = [], []
    for i, want in enumerate(wants):
        args = concrete(scenario, want)
        cid = f"call_{n}_{i}"
        calls.append({"id": cid, "type": "function",
                      "function": {"name": want["name"], "arguments": json.dumps(args)}})
        results.append({"role": "tool", "tool_call_id": cid,
                        "content": json.dumps(lookup(scenario["functions"], want["name"], args))})
    return [{"role": "assistant", "content": None, "tool_calls": calls}, *results]


def states(scenario: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(name, label, messages) of the states after tool results, labelled call or text."""
    kind, opening = scenario["kind"], list(scenario["messages"])
    wants = list(scenario.get("calls", ()))
    if kind == "answer_result":
        return [("results", "text", opening)]
    if kind == "dependent" and len(wants) >= 2:
        first = opening + batch(scenario, wants[:1], 0)
        return [("after first", "call", first),
                ("after all", "text", first + batch(scenario, wants[1:], 1))]
    if kind == "parallel" and len(wants) >= 2:
        return [("after one", "call", opening + batch(scenario, wants[:1], 0)),
                ("after all", "text", opening + batch(scenario, wants, 0))]
    if kind in ("single", "followup") and wants:
        return [("after all", "text", opening + batch(scenario, wants, 0))]
    return []


async def decide(client: httpx.AsyncClient, model: str, scenario: dict[str, Any],
                 messages: list[dict[str, Any]]) -> dict[str, Any]:
    RECORD.clear()
    body = {"model": model, "messages": messages, "tools": scenario["tools"],
            "tool_choice": "auto", "max_tokens": 1, "temperature": 0}
    resp = await client.post("/v1/chat/completions", json=body)
    resp.raise_for_status()
    choice = resp.json()["choices"][0]
    return {"p_text": RECORD.get("p_text"), "p_repeat": RECORD.get("p_repeat", 0.0),
            "served": "call" if choice["finish_reason"] == "tool_calls"
            or choice["message"].get("tool_calls") else "text"}


def combined(row: dict[str, Any]) -> float:
    return float(row["p_text"] + (1 - row["p_text"]) * row["p_repeat"])


def right(rows: list[dict[str, Any]], t: float) -> int:
    return sum((combined(r) >= t) == (r["label"] == "text") for r in rows)


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--exclude-limit", type=int, default=0,
                   help="leave out the scenarios `agent_loop.py --limit N` picks")
    p.add_argument("--ctx-size", type=int, default=8192, help="context per sequence")
    a = p.parse_args()

    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig, ServerConfig
    from openmini.server.app import create_app

    record()
    scenarios = load(SCENARIOS)
    held = {s["id"] for s in pick(scenarios, None, None, a.exclude_limit)} if a.exclude_limit \
        else set()
    chosen = [s for s in scenarios if s["id"] not in held]
    if a.quick:
        chosen = chosen[:3]
    engine = EngineConfig(model=a.model, threads=a.threads, parallel=1, ctx_size=a.ctx_size)
    backend = LocalBackend(engine)
    app = create_app(ServerConfig(engine=engine, tool_call_retries=0), backend)
    model = backend.model_ids()[0]
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench", timeout=None) as client:
        for s in chosen:
            for name, label, messages in states(s):
                row = {"id": s["id"], "state": name, "label": label,
                       **await decide(client, model, s, messages)}
                if row["p_text"] is None:
                    continue
                rows.append(row)
                print(f"{s['id']:26s} {name:11s} want {label:4s} served {row['served']:4s} "
                      f"p_text {row['p_text']:.3f} p_repeat {row['p_repeat']:.3f}", flush=True)
    await backend.close()
    served = backend.tool_text_threshold
    grid = sorted({0.05, 0.1, 0.14, 0.2, 0.24, 0.3, 0.4, 0.5, served,
                   *(round(c, 3) for c in cuts([combined(r) for r in rows]))})
    best = max(grid, key=lambda t: (right(rows, t), -t))
    table(f"right decisions after tool results, {a.model}, {len(rows)} states",
          ["threshold", "right", "calls kept", "texts kept"],
          [[f"{t:.3f}" + (" (served)" if t == served else ""), f"{right(rows, t)}/{len(rows)}",
            sum(combined(r) < t for r in rows if r["label"] == "call"),
            sum(combined(r) >= t for r in rows if r["label"] == "text")]
           for t in grid if t in (best, served) or t in (0.05, 0.1, 0.2, 0.3, 0.5)])
    print(f"\nserved decisions right: {sum(r['served'] == r['label'] for r in rows)}/{len(rows)}; "
          f"best threshold on the combined share {best:.3f} "
          f"({time.perf_counter() - t0:.0f} s)")
    save("turn_decision", a, {"rows": rows, "best": best, "served": served})


if __name__ == "__main__":
    asyncio.run(main())
