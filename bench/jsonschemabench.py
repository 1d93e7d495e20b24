"""JSONSchemaBench sample: schema coverage, output compliance, constrained/free decode tok/s.

llama.cpp's server (xllamacpp, `response_format` json_schema) is the coverage peer.

Coverage: the schema passes openmini's own checks (the JSON Schema meta-schema, as the HTTP
path does) and compiles; an `InvalidRequest` naming what it cannot enforce is "not covered".
Compile time is the meta-schema check plus the llguidance matcher build, timed alone.
Compliance: each covered schema is generated greedily (in-process, chat prompt "Produce a
realistic JSON instance of this schema" + the schema; --parallel at once) and the output is
validated with python `jsonschema` (the schema's `$schema` draft, else 2020-12; formats
checked). An output cut by max_tokens is "truncated", not judged. Speed: for the first N
covered schemas whose output has at least 16 tokens, the same prompt with and without the
constraint, one at a time, the same number of tokens (EOS ignored when free), order
alternating; decode tok/s constrained / free >= 0.95. The peer only answers whether it
accepts each schema (a few tokens are generated, short prompt).

    .venv/bin/python bench/jsonschemabench.py --model fast --max-tokens 256 --speed-schemas 40
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import traceback
import warnings
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from common import (
    AVX2_NOTE,
    Run,
    median,
    model_path,
    openmini,
    parser,
    pct,
    ratio,
    save,
    table,
    verdict,
    xserver,
)

DATA = Path("/work/shared/benchmarks/jsonschemabench/schemas.jsonl")
PROMPT = "Produce a realistic JSON instance of this schema.\n\n"
PARAM = "response_format.json_schema.schema"
MIN_SPEED_TOKENS = 16
JUDGED = ("valid", "invalid", "not_json")  # outputs that finished and could be judged


@dataclass(slots=True)
class Item:
    subset: str
    name: str
    schema: Any
    compiled: bool = False
    reason: str = ""  # why openmini did not compile it (normalised), message in `detail`
    compile_ms: float = float("nan")
    status: str = ""  # valid invalid not_json truncated validator_error too_long error
    detail: str = ""
    output: str = ""
    n_tokens: int = 0
    peer: str = ""  # accepted / refused / crashed / "" (not asked)
    peer_reason: str = ""
    peer_detail: str = ""


# --- openmini -----------------------------------------------------------------------------

def reason_of(message: str) -> str:
    """A short, countable reason from a refusal message."""
    if m := re.search(r"Unimplemented keys: \[([^\]]*)\]", message):
        return "unimplemented: " + m.group(1).replace('"', "")
    if m := re.search(r"Unknown format: (\S+)", message):
        return "unknown format: " + m.group(1)
    text = re.sub(r"'[^']*'|\"[^\"]*\"|#/\S*", "…", message.rsplit(": ", 1)[-1])
    text = re.sub(r"\d+", "N", text)
    return re.split(r"[{\[\n]|\. ", text.strip())[0][:80].strip() or message[:80]


def compile_one(om: Any, item: Item) -> Any:
    """The Constraint when covered (compile time in item), else None with the reason."""
    from openmini.decoding.constraint import Constraint
    from openmini.errors import InvalidRequest
    from openmini.server.constraints import checked_schema

    t0 = time.perf_counter()
    try:
        schema = checked_schema(item.schema, PARAM)
    except InvalidRequest as exc:  # as the HTTP path checks it
        item.reason, item.detail = "fails the JSON Schema meta-schema", exc.message
        return None
    try:
        constraint = Constraint.json_schema(schema, PARAM)
        om.backend.compiler().matcher(constraint)
    except InvalidRequest as exc:
        item.reason, item.detail = reason_of(exc.message), exc.message
        return None
    except Exception as exc:  # not a 400: an openmini bug
        item.reason, item.status = f"crash: {type(exc).__name__}", "error"
        item.detail = traceback.format_exc(limit=6)
        return None
    item.compiled, item.compile_ms = True, (time.perf_counter() - t0) * 1000
    return constraint


def messages(item: Item) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPT + json.dumps(item.schema)}]


async def generate(om: Any, msgs: Any, constraint: Any, **kw: Any) -> tuple[Run, str, str]:
    """One greedy request: (timing, text, finish_reason)."""
    from openmini.types import ChoiceFinished, Failed, TextDelta

    req = om.request(msgs, constraint=constraint, temperature=0.0, **kw)
    run, parts, finish = Run(), list[str](), ""
    t0 = time.perf_counter()
    async for ev in om.events(req):
        if isinstance(ev, TextDelta):
            if ev.token_ids and not run.n_tokens:
                run.ttft = time.perf_counter() - t0
            run.n_tokens += len(ev.token_ids)
            parts.append(ev.text)
        elif isinstance(ev, ChoiceFinished):
            finish = ev.finish_reason
        elif isinstance(ev, Failed):
            raise ev.error
    run.total = time.perf_counter() - t0
    return run, "".join(parts), finish


def judge(schema: Any, text: str) -> tuple[str, str]:
    from jsonschema import Draft202012Validator, validators
    from jsonschema.exceptions import best_match

    try:
        instance = json.loads(text)
    except ValueError as exc:
        return "not_json", str(exc)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unknown $schema -> default, with a warning
            cls = validators.validator_for(schema, default=Draft202012Validator)
            validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
            error = best_match(validator.iter_errors(instance))
    except Exception as exc:  # unresolvable $ref, a regex python cannot compile, ...
        return "validator_error", f"{type(exc).__name__}: {str(exc)[:300]}"
    if error is None:
        return "valid", ""
    return "invalid", f"{error.json_path}: {error.message[:300]}"


async def comply(om: Any, item: Item, constraint: Any, max_tokens: int) -> None:
    from openmini.errors import ContextLengthExceeded

    try:
        run, text, finish = await generate(om, messages(item), constraint, max_tokens=max_tokens)
    except ContextLengthExceeded as exc:
        item.status, item.detail = "too_long", exc.message
        return
    except Exception:  # InvalidRequest after a successful compile is a bug too
        item.status, item.detail = "error", traceback.format_exc(limit=6)
        return
    item.output, item.n_tokens = text[:4000], run.n_tokens
    if finish == "length":
        item.status = "truncated"
    elif finish != "stop":
        item.status, item.detail = "error", f"finish_reason {finish!r}"
    else:
        item.status, item.detail = judge(item.schema, text)


async def speed(om: Any, items: list[tuple[Item, Any]], rounds: int) -> list[dict[str, Any]]:
    """Constrained vs free on the same prompt and token count, order alternating."""
    rows = []
    for i, (item, constraint) in enumerate(items):
        got: dict[str, list[Run]] = {"constrained": [], "free": []}
        for r in range(rounds):
            for kind in ("constrained", "free") if (i + r) % 2 == 0 else ("free", "constrained"):
                c, eos = (constraint, False) if kind == "constrained" else (None, True)
                run, _, _ = await generate(om, messages(item), c, max_tokens=item.n_tokens,
                                           ignore_eos=eos)
                got[kind].append(run)
        con, free = got["constrained"], got["free"]
        tps = (median([x.decode_tps for x in con]), median([x.decode_tps for x in free]))
        rows.append({"name": f"{item.subset}/{item.name}", "tps": tps, "ratio": ratio(*tps),
                     "ttft_ms": tuple(median([x.ttft * 1000 for x in k]) for k in (con, free)),
                     "decode_tokens": tuple(sum(x.n_tokens - 1 for x in k) for k in (con, free)),
                     "decode_s": tuple(sum(x.total - x.ttft for x in k) for k in (con, free))})
        print(f"speed {i + 1}/{len(items)} {rows[-1]['name']}: {tps[0]:6.1f} vs "
              f"{tps[1]:6.1f} tok/s ({rows[-1]['ratio']:.3f})", flush=True)
    return rows


# --- llama.cpp's server -------------------------------------------------------------------

def peer_coverage(items: list[Item], path: str, threads: int, tokens: int) -> None:
    """Ask llama.cpp's server to run each schema as `response_format` json_schema on
    /v1/chat/completions (its own schema converter; a 400 names what it cannot convert). Its
    /completion `json_schema` field is not used: in this build it goes to llguidance and a
    schema llguidance refuses runs unconstrained with HTTP 200. A dead server is "crashed"."""
    server = xserver(path, threads, parallel=1, n_ctx=1024)
    client = httpx.Client(timeout=600)
    try:
        for k, item in enumerate(items):
            fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": item.schema}}
            body = {"messages": [{"role": "user", "content": PROMPT.strip()}],
                    "response_format": fmt, "max_tokens": tokens, "temperature": 0.0}
            try:
                r = client.post(server.url + "/v1/chat/completions", json=body)
            except httpx.HTTPError as exc:
                if server.proc.poll() is None:
                    item.peer, item.peer_reason, item.peer_detail = "refused", "no answer", str(exc)
                    continue
                item.peer, item.peer_reason = "crashed", "server died"
                item.peer_detail = server.tail(1500)
                server.stop()
                server = xserver(path, threads, parallel=1, n_ctx=1024)
                continue
            if r.status_code == 200:
                item.peer = "accepted"
            else:
                try:
                    msg = str(r.json().get("error", {}).get("message", r.text))
                except ValueError:
                    msg = r.text
                item.peer, item.peer_detail = "refused", f"HTTP {r.status_code}: {msg[:500]}"
                item.peer_reason = f"HTTP {r.status_code}: {reason_of(msg)}"
            if (k + 1) % 25 == 0:
                print(f"llama.cpp: {k + 1}/{len(items)} asked", flush=True)
    finally:
        client.close()
        server.stop()


# --- main ---------------------------------------------------------------------------------

def share(a: int, b: int) -> str:
    return f"{a}/{b} ({100 * a / b:.0f}%)" if b else "-"


def report(items: list[Item], peer: bool) -> dict[str, Any]:
    subsets = list(dict.fromkeys(it.subset for it in items))
    rows, summary = [], {}
    for name in [*subsets, "TOTAL"]:
        its = items if name == "TOTAL" else [it for it in items if it.subset == name]
        n, comp = len(its), [it for it in its if it.compiled]
        st = Counter(it.status for it in comp)
        judged = sum(st[s] for s in JUDGED)
        acc = sum(it.peer == "accepted" for it in its)
        rows.append([name, n, share(len(comp), n), share(acc, n) if peer else "-",
                     share(st["valid"], len(comp)), share(st["valid"], judged),
                     st["truncated"], st["invalid"] + st["not_json"],
                     st["validator_error"] + st["too_long"] + st["error"]])
        summary[name] = {"schemas": n, "compiled": len(comp), "peer_accepted": acc,
                         "judged": judged, **st}
    table("JSONSchemaBench sample: coverage and compliance (greedy)",
          ["subset", "schemas", "compiled openmini", "accepted llama.cpp*", "valid/compiled",
           "valid/finished", "truncated", "INVALID", "unjudged"], rows)
    print("valid/finished: over outputs that ended by themselves (not truncated, judged); "
          "unjudged: validator could not run, prompt too long, or an error")
    if peer:
        print("* llama.cpp's server (xllamacpp), response_format json_schema on "
              f"/v1/chat/completions, accepted = HTTP 200 ({AVX2_NOTE}). It drops keywords it "
              "cannot enforce (uniqueItems, format, ...) instead of refusing the schema")
    for who, key in (("openmini", "reason"), ("llama.cpp", "peer_reason")):
        tally = Counter(getattr(it, key) for it in items if getattr(it, key))
        if tally:
            table(f"Why {who} did not cover a schema (top 12)", ["reason", "schemas"],
                  tally.most_common(12))
    if peer:
        only_om = sum(it.compiled and it.peer != "accepted" for it in items)
        only_peer = sum(not it.compiled and it.peer == "accepted" for it in items)
        print(f"\ncompiled by openmini only: {only_om}; accepted by llama.cpp only: {only_peer}")
    ms = [it.compile_ms for it in items if it.compiled]
    if ms:
        table("openmini compile time (meta-schema check + llguidance matcher), ms",
              ["median", "p90", "max"], [[median(ms), pct(ms, 90), max(ms)]])
    return summary


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=DATA, help="schemas.jsonl")
    p.add_argument("--limit", type=int, default=0, help="first N schemas only (0 = all)")
    p.add_argument("--per-subset", type=int, default=0, help="first N of each subset only")
    p.add_argument("--max-tokens", type=int, default=256, help="tokens per output at most")
    p.add_argument("--speed-schemas", type=int, default=40,
                   help=f"covered schemas (output >= {MIN_SPEED_TOKENS} tokens) timed with and "
                        "without the constraint (0 = all of them)")
    p.add_argument("--speed-rounds", type=int, default=1,
                   help="runs of each kind per timed schema (median)")
    p.add_argument("--parallel", type=int, default=1,
                   help="outputs generated at once in the compliance pass (speed runs alone)")
    p.add_argument("--prefix-cache-tokens", type=int, default=0,
                   help="openmini's prefix cache; 0 (off) keeps greedy outputs independent of "
                        "what ran before (a cached prefix shifts llama.cpp's numerics)")
    p.add_argument("--ctx-size", type=int, default=0,
                   help="context per sequence (0: the model's, at most 16384)")
    p.add_argument("--peer-tokens", type=int, default=4, help="tokens llama.cpp generates")
    p.add_argument("--no-peer", action="store_true", help="skip llama.cpp's server")
    p.add_argument("--compile-only", action="store_true",
                   help="coverage and refusal reasons only: compile every schema, generate nothing")
    a = p.parse_args()
    if a.quick:
        a.limit, a.max_tokens = a.limit or 12, min(a.max_tokens, 32)
        a.speed_schemas, a.peer_tokens = min(a.speed_schemas or 2, 2), 1
    items = [Item(r["subset"], r["name"], r["schema"])
             for r in map(json.loads, a.data.read_text().splitlines()) if r]
    if a.per_subset:
        items = [it for k, it in enumerate(items)
                 if sum(x.subset == it.subset for x in items[:k]) < a.per_subset]
    items = items[:a.limit] if a.limit else items
    path = model_path(a.model)

    from openmini.models.catalogue import CATALOGUE

    spec = CATALOGUE.get(a.model)
    ctx = a.ctx_size or min(16384, spec.context_length if spec else 8192)
    om = openmini(a.model, a.threads, parallel=a.parallel, ctx_size=ctx,
                  prefix_cache_tokens=a.prefix_cache_tokens)
    t0 = time.perf_counter()
    om.backend.compiler()  # the llguidance tokenizer, once per model
    tok_s = time.perf_counter() - t0
    print(f"{len(items)} schemas; llguidance tokenizer built in {tok_s:.2f} s; ctx {ctx}")

    constraints = [compile_one(om, it) for it in items]  # alone on the machine: clean timing
    covered = [(it, c) for it, c in zip(items, constraints, strict=True) if c is not None]
    print(f"compiled {len(covered)}/{len(items)}", flush=True)
    if a.compile_only:
        tally = Counter(it.reason for it in items if it.reason)
        table("Why openmini did not compile a schema", ["reason", "schemas"], tally.most_common())
        return
    gate, done = asyncio.Semaphore(a.parallel), 0

    async def one(item: Item, constraint: Any) -> None:
        nonlocal done
        async with gate:
            await comply(om, item, constraint, a.max_tokens)
        done += 1
        print(f"[{done}/{len(covered)}] {item.subset}/{item.name}: {item.status} "
              f"({item.n_tokens} tokens) {item.detail[:100]}", flush=True)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(it, c) for it, c in covered))
    print(f"compliance pass: {time.perf_counter() - t0:.0f} s", flush=True)

    timed = [(it, c) for it, c in covered if it.n_tokens >= MIN_SPEED_TOKENS
             and it.status not in ("error", "too_long")]
    rows = await speed(om, timed[:a.speed_schemas] if a.speed_schemas else timed, a.speed_rounds)
    await om.close()
    if not a.no_peer:
        peer_coverage(items, path, a.threads, a.peer_tokens)

    summary = report(items, not a.no_peer)
    med = median([r["ratio"] for r in rows])
    agg = [ratio(sum(r["decode_tokens"][k] for r in rows), sum(r["decode_s"][k] for r in rows))
           for k in (0, 1)]
    ttft = [median([r["ttft_ms"][k] for r in rows]) for k in (0, 1)]
    table(f"Decode tok/s, constrained vs free (free: EOS ignored), {len(rows)} schemas x "
          f"{a.speed_rounds}, same prompt and token count",
          ["measure", "constrained", "free", "ratio", "verdict"],
          [["median of per-schema ratios", "", "", med, verdict(med, 0.95, True)],
           ["aggregate tokens / decode seconds", agg[0], agg[1], ratio(*agg),
            verdict(ratio(*agg), 0.95, True)],
           ["median TTFT ms", ttft[0], ttft[1], ratio(*ttft), ""]])
    bugs = [it for it in items if it.status in ("invalid", "not_json", "error")]
    for it in bugs:
        print(f"\nCHECK {it.subset}/{it.name}: {it.status}: {it.detail}\n  output: "
              f"{it.output[:300]!r}")
    save("jsonschemabench", a, {
        "ctx_size": ctx, "tokenizer_build_s": tok_s, "summary": summary,
        "speed": {"median_ratio": med, "aggregate_tps": agg, "ttft_ms": ttft, "rows": rows},
        "items": [{k: v for k, v in asdict(it).items() if k != "schema"} for it in items]})


if __name__ == "__main__":
    asyncio.run(main())
