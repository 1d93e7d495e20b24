"""BFCL sample: function-calling accuracy per category, constrained vs prompt-only, same model.

Data: /work/shared/benchmarks/bfcl (first 60 cases of simple, multiple, parallel,
parallel_multiple, irrelevance), scored with BFCL's AST checker (bench/bfcl_check.py).
openmini runs in-process behind its HTTP app (httpx ASGITransport, no network); greedy by
default, the same max_tokens for every arm; up to --parallel requests at once. With
--temperature T --samples K every case is run K times in every arm, sample s with `seed` s (the
engine's sampler is per sequence; batched logits still differ in their last bits from run to
run, so a close draw can change between runs); accuracy is then the share of all K x N runs,
with each sample's own accuracy shown beside it. Arms:

- auto: `tools` (BFCL's schemas mapped to JSON Schema: dict->object, float->number,
  tuple->array, any->no type, `optional` dropped; dots in names -> "_", as BFCL does for
  OpenAI-style APIs), `tool_choice: "auto"`; the calls are `message.tool_calls`.
- prompt: no `tools`; the same tools described in a system message exactly as the model's chat
  template writes them (Qwen2.5 hermes: `# Tools`, `<tools>`, `<tool_call>`; the prompts are
  checked identical to the auto arm's), no constraint; the text is parsed with openmini's
  parsers (hermes, else fenced, else bare). Unparseable calls are not well-formed.
- required: `tool_choice: "required"`, only where a call is expected (not irrelevance). It is
  told that a call is expected: it shows what the grammar buys once the decision to call is
  made; the fair comparison is auto vs prompt.

`parallel_tool_calls` is true for parallel*, false otherwise. The server runs with
`tool_call_retries` 0 (--retries): an invalid constrained call is an error, never retried.
Well-formed: a call that parsed and names a declared function; valid: its arguments pass
jsonschema (formats checked) against the mapped schema. A call cut by max_tokens is not
counted in either arm (the server drops it; the parser finds it unreadable).
Irrelevance, as BFCL: correct when no call could be read from the output.

In auto, whether to call is decided on the first token's share of prose against the model's
tool_text_threshold (src/openmini/tools/decision.py), which bench/tool_decision.py picks on
cases 30-59; score on cases 0-29 (`--limit 30`) so the figures are held out.

    .venv/bin/python bench/bfcl.py --model fast --limit 30
    .venv/bin/python bench/bfcl.py --model default --limit 20
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx

from bfcl_check import Call, check_case
from bfcl_data import Case, load
from common import parser, ratio, save, table, verdict

CATEGORIES = ("simple", "multiple", "parallel", "parallel_multiple", "irrelevance")
ARMS = ("auto", "prompt", "required")
LABEL = {"auto": "constrained auto", "prompt": "prompt-only", "required": "constrained required*"}
QWEN_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
HERMES = (  # Qwen2.5's chat template, the part it writes when it is given tools
    "{system}\n\n# Tools\n\nYou may call one or more functions to assist with the user query."
    "\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>"
    "{tools}\n</tools>\n\nFor each function call, return a json object with function name and "
    "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{{"name": <function-name>, "arguments": <args-json-object>}}\n</tool_call>')


@dataclass(slots=True)
class Result:
    id: str
    category: str
    arm: str
    sample: int = 0
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # calls present but unreadable
    content: str = ""
    finish: str = ""
    tokens: int = 0
    via: str = ""  # prompt-only: the parser that read the calls (hermes, fenced, bare)
    in_text: int = 0  # constrained arms: calls readable in the text, outside tool_calls
    error: str = ""  # not a 200, or an exception: request and response in `detail`
    detail: str = ""
    well_formed: int = 0
    valid: int = 0
    wrong: str = ""  # "" = correct (BFCL's AST checker)

    @property
    def attempted(self) -> int:  # a call cut by max_tokens is not one (unreadable by nature)
        return len(self.calls) + (len(self.problems) if self.finish != "length" else 0)


def system_prompt(tools: list[dict[str, Any]]) -> str:
    listed = "".join("\n" + json.dumps(t, ensure_ascii=False) for t in tools)
    return HERMES.format(system=QWEN_SYSTEM, tools=listed)


def same_prompt(template: Any, case: Case) -> bool:
    """Whether the prompt-only arm's prompt is the auto arm's, token for token."""
    described = [{"role": "system", "content": system_prompt(case.tools)}, *case.messages]
    return bool(template.render(described) == template.render(case.messages, tools=case.tools))


# --- one request --------------------------------------------------------------------------

def body(case: Case, arm: str, model: str, max_tokens: int, temperature: float = 0.0,
         seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {"model": model, "messages": case.messages,
                           "temperature": temperature, "max_tokens": max_tokens}
    if temperature > 0:
        out["seed"] = seed
    if arm == "prompt":
        system = {"role": "system", "content": system_prompt(case.tools)}
        return {**out, "messages": [system, *case.messages]}
    return {**out, "tools": case.tools, "tool_choice": "required" if arm == "required" else
            "auto", "parallel_tool_calls": case.category.startswith("parallel")}


def parse_text(text: str) -> tuple[list[Call], list[str], str]:
    """Calls in free text: hermes tags, else fenced JSON, else bare JSON."""
    from openmini.tools.parsers import TOOL_PARSERS

    problems: list[str] = []
    for name in ("hermes", "fenced", "bare"):
        parsed = TOOL_PARSERS.create(name).parse(text)
        if parsed.calls:
            return list(parsed.calls), parsed.problems, name
        problems = problems or parsed.problems
    return [], problems, ""


def text_calls(text: str) -> int:
    """`{"name": ..., "arguments": {...}}` objects anywhere in free text (a diagnostic)."""
    decoder, found, i = json.JSONDecoder(), 0, text.find("{")
    while i >= 0:
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        found += isinstance(obj, dict) and obj.keys() == {"name", "arguments"}
        i = text.find("{", end)
    return found


def api_calls(message: dict[str, Any]) -> tuple[list[Call], list[str]]:
    calls: list[Call] = []
    problems: list[str] = []
    for tc in message.get("tool_calls") or []:
        fn = tc.get("function") or {}
        try:
            calls.append((fn["name"], json.loads(fn["arguments"])))
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{type(exc).__name__}: {str(tc)[:200]}")
    return calls, problems


def well_formed_and_valid(case: Case, calls: list[Call]) -> tuple[int, int]:
    from jsonschema import Draft202012Validator as V

    schemas = {t["function"]["name"]: t["function"]["parameters"] for t in case.tools}
    known = [(n, a) for n, a in calls if n in schemas and isinstance(a, dict)]
    valid = sum(V(schemas[n], format_checker=V.FORMAT_CHECKER).is_valid(a) for n, a in known)
    return len(known), valid


async def run_case(client: httpx.AsyncClient, case: Case, arm: str, model: str,
                   a: Any, sample: int = 0) -> Result:
    res = Result(case.id, case.category, arm, sample)
    req = body(case, arm, model, a.max_tokens, a.temperature, sample)
    try:
        resp = await client.post("/v1/chat/completions", json=req)
        if resp.status_code != 200:
            res.error, res.detail = f"HTTP {resp.status_code}", f"response: {resp.text[:1500]}"
    except Exception as exc:  # the app raised: an openmini bug
        res.error, res.detail = type(exc).__name__, traceback.format_exc(limit=8)
    if res.error:
        res.detail = f"request: {json.dumps(req)}\n{res.detail}"
        res.wrong = res.error
        return res
    data = resp.json()
    choice = data["choices"][0]
    message = choice["message"]
    res.content, res.finish = message.get("content") or "", choice["finish_reason"]
    res.tokens = data["usage"]["completion_tokens"]
    if arm == "prompt":
        res.calls, res.problems, res.via = parse_text(res.content)
    else:
        res.calls, res.problems = api_calls(message)
        res.in_text = text_calls(res.content)
    res.well_formed, res.valid = well_formed_and_valid(case, res.calls)
    res.wrong = check_case(case.category, case.functions, res.calls, case.answers)
    if res.problems and not res.wrong:  # BFCL reads no call from it: right for irrelevance
        res.wrong = "" if case.category == "irrelevance" else "; ".join(res.problems)[:300]
    return res


async def run_arm(client: httpx.AsyncClient, cases: list[Case], arm: str, model: str,
                  a: Any) -> tuple[list[Result], float]:
    gate = asyncio.Semaphore(a.parallel)

    async def one(case: Case, sample: int) -> Result:
        async with gate:
            res = await run_case(client, case, arm, model, a, sample)
        if a.show:
            verdict_ = "ok" if not res.wrong else "WRONG " + res.wrong[:120]
            print(f"  {case.id}#{sample} {arm}: {verdict_} "
                  f"| calls {res.calls!r:.160} | text {res.content[:80]!r}", flush=True)
        return res

    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(c, s) for s in range(a.samples) for c in cases))
    return list(results), time.perf_counter() - t0


# --- report -------------------------------------------------------------------------------

def share(k: int, n: int) -> str:
    return f"{k}/{n} ({100 * k / n:.0f}%)" if n else "-"


REASONS = (("wrong number", "wrong number of calls"),
           ("wrong function", "wrong function"), ("unexpected param", "unexpected parameter"),
           ("missing required", "missing required parameter"),
           ("missing optional", "left out a parameter without default"),
           ("items of", "wrong item type"), (": expected ", "wrong type"),
           ("is not one of", "wrong value"), ("answer ", "parallel: calls unmatched"),
           ("cannot be matched", "parallel: calls unmatched"), ("HTTP ", "HTTP error"))


def reason(wrong: str) -> str:
    if wrong.startswith("called "):
        return "called a function"
    return next((label for needle, label in REASONS if needle in wrong), wrong[:50])


def accuracy(rs: list[Result]) -> float:
    return ratio(sum(not r.wrong for r in rs), len(rs))


def cell(rs: list[Result]) -> str:
    """Accuracy over all runs; with several samples, each sample's own after it."""
    if not rs:
        return "-"
    samples = sorted({r.sample for r in rs})
    each = "/".join(f"{100 * accuracy([r for r in rs if r.sample == s]):.1f}" for s in samples)
    return f"{100 * accuracy(rs):.1f}%" + (f" ({each})" if len(samples) > 1 else "")


def decoding(a: Any) -> str:
    return "greedy" if a.temperature == 0 else (
        f"temperature {a.temperature}, {a.samples} samples (seeds 0-{a.samples - 1})")


def report(a: Any, results: dict[tuple[str, str], list[Result]],
           walls: dict[tuple[str, str], float], same: dict[str, str]) -> dict[str, Any]:
    cats = [c for c in a.categories if any((c, arm) in results for arm in a.arms)]
    arms = [arm for arm in ARMS if arm in a.arms]
    rows, wins, wins_req = [], 0, Counter[bool]()
    for cat in [*cats, "all"]:
        runs = {arm: [r for (c, m), rs in results.items() if m == arm and cat in (c, "all")
                      for r in rs] for arm in arms}
        acc = {arm: accuracy(runs[arm]) for arm in arms}
        n = max(len(runs[arm]) for arm in arms)
        diff = acc.get("auto", float("nan")) - acc.get("prompt", float("nan"))
        wins += cat != "all" and diff > 0
        if cat not in ("all", "irrelevance") and "required" in arms and "prompt" in arms:
            wins_req[acc["required"] > acc["prompt"]] += 1
        rows.append([cat, n, *(cell(runs[m]) for m in arms),
                     f"{100 * diff:+.1f}" if diff == diff else "-", same.get(cat, "")])
    table(f"BFCL sample accuracy (BFCL AST checker), {a.model}, {decoding(a)}, max_tokens "
          f"{a.max_tokens}", ["category", "cases", *(LABEL[m] for m in arms),
                              "auto - prompt (pts)", "same prompt"], rows)
    if "required" in arms:
        print("* required: tool_choice=\"required\", i.e. told that a call is expected (not run "
              "on irrelevance, where no call is expected); not a fair comparison, shown for what "
              "the grammar does once a call is made; its 'all' leaves irrelevance out")
    qrows = []
    for arm in arms:
        for cat in cats:
            rs = results.get((cat, arm))
            if not rs:
                continue
            att = sum(r.attempted for r in rs)
            qrows.append([LABEL[arm], cat, att, share(sum(r.well_formed for r in rs), att),
                          share(sum(r.valid for r in rs), att),
                          sum(r.in_text for r in rs) if arm != "prompt" else "-",
                          sum(r.finish == "length" for r in rs), sum(bool(r.error) for r in rs),
                          ratio(sum(r.tokens for r in rs), walls[cat, arm])])
    table("Calls: well-formed (parsed, declared function) and schema-valid (a call cut by "
          "max_tokens is not counted)", ["arm", "category", "calls", "well-formed", "schema-valid",
                                  "calls in text**", "truncated", "errors",
                                  "tok/s (completion tok / wall)"], qrows)
    print('** {"name", "arguments"} objects in the text of a constrained answer: calls the '
          "model wrote as text, outside the grammar, and the API did not return as tool_calls")
    if "prompt" in arms:
        via = Counter(r.via or "none" for (_, m), rs in results.items() if m == "prompt"
                      for r in rs)
        print(f"prompt-only outputs by the format their calls were read in: {dict(via)}")
    if "auto" in arms and "prompt" in arms:
        print(f"\nconstrained (auto) > prompt-only in every category: {wins}/{len(cats)} "
              f"categories, {verdict(wins, len(cats), True)}")
    if wins_req:
        print(f"(informative only) constrained required* > prompt-only: {wins_req[True]}/"
              f"{wins_req.total()} categories where a call is expected")
    for arm in arms:
        why = Counter(reason(r.wrong) for rs in
                      (v for (c, m), v in results.items() if m == arm) for r in rs if r.wrong)
        if why:
            table(f"Why {LABEL[arm]} cases were wrong (top 8)", ["reason", "cases"],
                  why.most_common(8))
    return {f"{c}/{m}": {"accuracy": accuracy(rs), "cases": len(rs), "wall_s": walls[c, m],
                         "tokens": sum(r.tokens for r in rs)} for (c, m), rs in results.items()}


def suspicious(results: dict[tuple[str, str], list[Result]]) -> list[Result]:
    """Errors anywhere, and constrained calls that are not well-formed and valid."""
    return [r for rs in results.values() for r in rs if r.error or (
        r.arm != "prompt" and (r.problems or r.valid < len(r.calls)))]


# --- main ---------------------------------------------------------------------------------

async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, default=60, help="N cases of each category")
    p.add_argument("--offset", type=int, default=0, help="from this case on (0-based)")
    p.add_argument("--tool-text-threshold", type=float, default=None,
                   help="engine tool_text_threshold (default: the model's)")
    p.add_argument("--tool-fit-weight", type=float, default=None,
                   help="engine tool_fit_weight (default: the model's; 0: no relevance probe)")
    p.add_argument("--categories", nargs="+", choices=CATEGORIES, default=list(CATEGORIES))
    p.add_argument("--arms", nargs="+", choices=ARMS, default=list(ARMS))
    p.add_argument("--max-tokens", type=int, default=256, help="per response, every arm")
    p.add_argument("--parallel", type=int, default=4, help="engine sequences = requests at once")
    p.add_argument("--ctx-size", type=int, default=4096, help="context per sequence")
    p.add_argument("--retries", type=int, default=0, help="server tool_call_retries")
    p.add_argument("--show", action="store_true", help="print every case's outcome")
    p.add_argument("--temperature", type=float, default=0.0,
                   help="every arm; 0 (default) is greedy, 1 is the API's default")
    p.add_argument("--samples", type=int, default=1,
                   help="runs of each case per arm, seeds 0..K-1 (with --temperature > 0)")
    a = p.parse_args()
    if a.quick:
        a.limit, a.max_tokens = min(a.limit, 2), min(a.max_tokens, 128)
    if a.samples < 1 or (a.samples > 1 and a.temperature == 0):
        p.error("--samples K > 1 needs --temperature > 0 (greedy runs repeat themselves)")

    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig, ServerConfig
    from openmini.server.app import create_app

    engine = EngineConfig(model=a.model, threads=a.threads, parallel=a.parallel,
                          ctx_size=a.ctx_size, tool_text_threshold=a.tool_text_threshold,
                          tool_fit_weight=a.tool_fit_weight)
    backend = LocalBackend(engine)
    app = create_app(ServerConfig(engine=engine, tool_call_retries=a.retries), backend)
    model = backend.model_ids()[0]
    t0 = time.perf_counter()
    backend.compiler()  # llguidance's tokenizer, once per model: kept out of the timings
    print(f"tool_text_threshold {backend.tool_text_threshold}, relevance probe "
          f"(weight, center) {backend.tool_fit}")
    print(f"{a.model}: llguidance tokenizer built in {time.perf_counter() - t0:.1f} s")
    cases = {cat: load(cat, a.limit, a.offset) for cat in a.categories}
    n_same = {cat: sum(same_prompt(backend.template, c) for c in cs) for cat, cs in cases.items()}
    same = {cat: share(n_same[cat], len(cs)) for cat, cs in cases.items()}
    results: dict[tuple[str, str], list[Result]] = {}
    walls: dict[tuple[str, str], float] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench",
                                 timeout=None) as client:
        for k, cat in enumerate(a.categories):
            arms = [m for m in ARMS if m in a.arms and not (m == "required"
                                                             and cat == "irrelevance")]
            for arm in arms if k % 2 == 0 else arms[::-1]:  # alternate against drift
                rs, wall = await run_arm(client, cases[cat], arm, model, a)
                results[cat, arm], walls[cat, arm] = rs, wall
                print(f"{cat:17s} {LABEL[arm]:22s} {share(sum(not r.wrong for r in rs), len(rs))}"
                      f" correct, {wall:6.1f} s", flush=True)
    await backend.close()

    print(f"\nprompt-only prompts identical to the auto arm's (chat template render): {same}")
    if any(n_same[cat] < len(cs) for cat, cs in cases.items()):
        print("NOTE: not identical: this model's chat template does not write tools the Qwen2.5 "
              "way (SmolLM2, `tiny`, ignores them: its auto arm sees no tool descriptions)")
    summary = report(a, results, walls, same)
    bugs = suspicious(results)
    for r in bugs:
        print(f"\nCHECK {r.id} {r.arm}: {r.error or 'invalid constrained call'} "
              f"calls={r.calls!r:.300} problems={r.problems}\n{r.detail[:3000]}")
    print(f"\n{len(bugs)} suspicious results (errors, invalid constrained calls)")
    save("bfcl", a, {"summary": summary, "same_prompt": same,
                     "results": [asdict(r) for rs in results.values() for r in rs]})


if __name__ == "__main__":
    asyncio.run(main())
