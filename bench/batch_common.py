"""Shared pieces of the batch benchmarks (batch_throughput, batch_live, batch_kill).

- `workload`: a seeded batch of chat requests shaped like real batch work: support tickets
  to classify, most of them under one of four long system prompts (instructions plus a
  few-shot block, ~300-600 tokens), a share of exact duplicates, temperature 0 everywhere.
- `serve`: `openmini serve` in a child process with its own --data-dir (and OPENMINI_*
  variables), on a free port, healthy before it returns (common.Server).
- `run_batch` / `wait_batch`: the Batch API through the official `openai` SDK.
- `check_output`: an output (and error) file checked against the input: every custom_id
  exactly once, each with a response or an error, response ids distinct.
- `db_lines`: a batch's lines as the state database holds them (read-only look).
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import Server, free_port

ENDPOINT = "/v1/chat/completions"
TERMINAL = {"completed", "failed", "expired", "cancelled"}

# --- the workload -------------------------------------------------------------------------

PRODUCTS = ["the mobile app", "the web dashboard", "the billing portal", "the API",
            "the desktop client", "the router firmware", "the smart thermostat",
            "the checkout page", "the admin console", "the sync service", "the printer driver",
            "the password manager", "the video player", "the export tool"]
PROBLEMS = ["crashes on startup", "shows a blank screen after login",
            "charged me twice this month", "is very slow since the last update",
            "will not accept my password", "lost all my saved settings",
            "sends me duplicate emails", "times out when I upload large files",
            "shows prices in the wrong currency", "logs me out every few minutes",
            "does not let me cancel my subscription", "keeps asking me to verify my phone",
            "displays the wrong invoice total", "fails with error code {code}",
            "stopped syncing with my calendar", "refuses my coupon code"]
CONTEXT = ["I am on version {ver}.", "This started {when}.", "I already reinstalled it.",
           "My whole team is affected.", "It only happens on Wi-Fi.",
           "I need this fixed before {when2}.", "Nothing in the FAQ helped.",
           "My account email is {user}@example.com.", "I have been a customer for {years} years.",
           "", "", ""]
MOODS = ["", "Please help.", "This is really frustrating!", "Thanks in advance.",
         "I want a refund if this is not fixed.", "Not urgent, just letting you know.",
         "URGENT!!!", "Could you look into it?"]
WHEN = ["yesterday", "this morning", "two days ago", "after the update", "last week"]
WHEN2 = ["Friday", "the end of the month", "tomorrow", "my flight on Monday"]
USERS = ["ana", "bo", "chen", "dmitri", "eve", "farah", "gus", "hiro", "ines", "jo"]


def ticket(rng: random.Random, number: int) -> str:
    problem = rng.choice(PROBLEMS).format(code=rng.randint(100, 999))
    context = rng.choice(CONTEXT).format(ver=f"{rng.randint(1, 9)}.{rng.randint(0, 20)}",
                                         when=rng.choice(WHEN), when2=rng.choice(WHEN2),
                                         user=rng.choice(USERS), years=rng.randint(1, 12))
    parts = [f"Ticket #{number}: {rng.choice(PRODUCTS).capitalize()} {problem}.", context,
             rng.choice(MOODS)]
    return " ".join(p for p in parts if p)


# Four tasks, each a long system prompt: instructions, labels, then a few-shot block.
TASKS: list[dict[str, Any]] = [
    {"name": "category", "shots": 6,
     "head": "You are the triage assistant of a software company's support desk. Read the "
             "customer ticket and classify it into exactly one category. Categories: "
             "BILLING (charges, invoices, refunds, subscriptions, coupons, currencies), "
             "ACCOUNT (login, passwords, verification, sessions, profile settings), "
             "BUG (crashes, errors, wrong behaviour, data loss, sync problems), "
             "PERFORMANCE (slowness, timeouts, high resource use), "
             "OTHER (anything else, including feedback and questions). "
             "Rules: pick the category of the customer's main problem, not of side remarks; "
             "when a ticket mentions money being taken wrongly it is always BILLING; "
             "when a ticket is about being unable to get in, it is ACCOUNT even if an error "
             "code is shown. Answer with the category name in capitals, then one short "
             "sentence explaining the choice. Do not greet the customer and do not apologise.",
     "labels": ["BILLING", "ACCOUNT", "BUG", "PERFORMANCE", "OTHER"]},
    {"name": "urgency", "shots": 8,
     "head": "You assess the urgency of incoming support tickets for an on-call rota. Output "
             "one of: P1 (a customer cannot work at all, money is lost, or many users are "
             "affected), P2 (a major feature is broken but there is a workaround), P3 (a "
             "minor problem or an annoyance), P4 (feedback, questions, no action needed "
             "soon). Consider the customer's stated deadline, the number of people affected "
             "and whether data or money is at risk. Shouting in capitals alone does not make "
             "a ticket P1. Reply in the form 'Priority: P<n>. Reason: <one sentence>.' and "
             "nothing else.",
     "labels": ["P1", "P2", "P3", "P4"]},
    {"name": "routing", "shots": 10,
     "head": "Route each ticket to the team that owns the product it is about. Teams: "
             "MOBILE (the mobile app), WEB (the web dashboard, the checkout page, the admin "
             "console), PAYMENTS (the billing portal, anything about charges), PLATFORM (the "
             "API, the sync service, the export tool), DEVICES (the router firmware, the "
             "smart thermostat, the printer driver), DESKTOP (the desktop client, the video "
             "player, the password manager). If the product is unclear, route by the problem: "
             "payment problems to PAYMENTS, login problems to WEB. Reply with the team name "
             "and a confidence between 0 and 1, like 'WEB 0.8'.",
     "labels": ["MOBILE", "WEB", "PAYMENTS", "PLATFORM", "DEVICES", "DESKTOP"]},
    {"name": "summary", "shots": 5,
     "head": "Summarise the ticket for the engineer who will pick it up. Write a single line "
             "of at most twelve words naming the product, the symptom and, if given, when it "
             "started or the version. No pleasantries, no customer details such as email "
             "addresses, no speculation about the cause. Use the present tense. Examples of "
             "the style follow; match them exactly in tone and length.",
     "labels": None},
]


def system_prompt(task: dict[str, Any], rng: random.Random) -> str:
    lines = [task["head"], "", "Examples:"]
    for i in range(task["shots"]):
        text = ticket(rng, 9000 + i)
        label = rng.choice(task["labels"]) if task["labels"] else \
            "Product reports a problem; details in the ticket."
        lines += [f"Ticket: {text}", f"Answer: {label}", ""]
    lines.append("Now the ticket to handle:")
    return "\n".join(lines)


PLAIN = ["Write a one-line reply acknowledging this ticket: {t}",
         "Is this ticket polite or rude? One word. {t}",
         "Translate into French: {t}"]


def workload(n: int, model: str, max_tokens: int, dup_share: float = 0.2,
             system_share: float = 0.85, seed: int = 1234) -> list[dict[str, Any]]:
    """`n` batch input lines (OpenAI's JSONL objects), in a shuffled order: about
    `dup_share` of them exact duplicates (same body, own custom_id) of earlier ones; of the
    rest, `system_share` under one of the four long system prompts (weights 4:3:2:1), the
    others a short plain request. Temperature 0 everywhere."""
    rng = random.Random(seed)
    prompts = [system_prompt(task, random.Random(seed + 1 + i)) for i, task in enumerate(TASKS)]
    n_dup = round(n * dup_share)
    bodies: list[dict[str, Any]] = []
    for i in range(n - n_dup):
        text = ticket(rng, 1000 + i)
        if rng.random() < system_share:
            k = rng.choices(range(len(TASKS)), weights=[4, 3, 2, 1])[0]
            messages = [{"role": "system", "content": prompts[k]},
                        {"role": "user", "content": text}]
        else:
            messages = [{"role": "user", "content": rng.choice(PLAIN).format(t=text)}]
        bodies.append({"model": model, "messages": messages, "max_tokens": max_tokens,
                       "temperature": 0})
    bodies += [rng.choice(bodies) for _ in range(n_dup)]
    rng.shuffle(bodies)
    return [{"custom_id": f"req-{i:05d}", "method": "POST", "url": ENDPOINT, "body": body}
            for i, body in enumerate(bodies)]


def describe(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """What the workload holds: lines, exact duplicates, lines per system prompt."""
    canon = [json.dumps(x["body"], sort_keys=True) for x in lines]
    systems = Counter(next((m["content"][:40] for m in x["body"]["messages"]
                            if m["role"] == "system"), None) for x in lines)
    return {"lines": len(lines), "duplicates": len(canon) - len(set(canon)),
            "with_system_prompt": len(lines) - systems.get(None, 0),
            "system_prompts": sum(1 for k in systems if k is not None)}


def write_jsonl(lines: list[dict[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


# --- servers ------------------------------------------------------------------------------

def serve(model: str, threads: int, parallel: int, data_dir: Path,
          env: dict[str, str] | None = None, name: str = "openmini") -> Server:
    """`openmini serve` with --data-dir in a child process (the variables in `env` set for it
    alone: `env` execs the server, so the child's pid is the server's)."""
    port = free_port()
    prefix = ["env", *(f"{k}={v}" for k, v in (env or {}).items())] if env else []
    argv = [*prefix, sys.executable, "-m", "openmini.cli.main", "serve", "--model", model,
            "--port", str(port), "--threads", str(threads), "--parallel", str(parallel),
            "--data-dir", str(data_dir)]
    return Server(name, argv, port)


def sdk(server: Server) -> Any:
    from openai import OpenAI

    return OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=1800)


def served_model(server: Server) -> str:
    from common import model_id

    return model_id(server)


# --- the Batch API ------------------------------------------------------------------------

def submit(client: Any, lines: list[dict[str, Any]], name: str = "batch.jsonl") -> str:
    """Upload the lines and create a batch on them; its id."""
    data = "".join(json.dumps(x) + "\n" for x in lines).encode()
    uploaded = client.files.create(file=(name, data, "application/jsonl"), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint=ENDPOINT,
                                  completion_window="24h")
    return str(batch.id)


def get_batch(client: Any, batch_id: str) -> dict[str, Any]:
    """The batch object as a dict (with openmini's extensions: deduplication, priority)."""
    got: dict[str, Any] = client.batches.retrieve(batch_id).to_dict()
    return got


def wait_batch(client: Any, batch_id: str, until: Callable[[dict[str, Any]], bool] | None = None,
               poll_s: float = 0.5, timeout: float = 7200) -> dict[str, Any]:
    """Poll until the batch is terminal (or `until(batch)` holds); the last batch object."""
    deadline = time.monotonic() + timeout
    while True:
        batch = get_batch(client, batch_id)
        if batch["status"] in TERMINAL or (until is not None and until(batch)):
            return batch
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch {batch_id} still {batch['status']} after {timeout} s: "
                               f"{batch['request_counts']}")
        time.sleep(poll_s)


def download(client: Any, file_id: str | None) -> list[dict[str, Any]]:
    if file_id is None:
        return []
    data = client.files.content(file_id).content
    return [json.loads(x) for x in data.splitlines() if x.strip()]


# --- checking results ---------------------------------------------------------------------

def check_output(inputs: list[dict[str, Any]], out: list[dict[str, Any]]) -> dict[str, Any]:
    """Every input custom_id exactly once in `out` (output and error lines together), each
    with a response or an error; response body ids distinct (dedup copies have their own)."""
    want = Counter(x["custom_id"] for x in inputs)
    got = Counter(x.get("custom_id") for x in out)
    ok = [x for x in out if (x.get("response") or {}).get("status_code") == 200
          and isinstance(x["response"].get("body"), dict)]
    errors = [x for x in out if x.get("error") or
              ((x.get("response") or {}).get("status_code") or 200) >= 400]
    neither = [x.get("custom_id") for x in out if x not in ok and x not in errors]
    body_ids = Counter(x["response"]["body"].get("id") for x in ok)
    line_ids = Counter(x.get("id") for x in out)
    return {
        "lines": len(out),
        "missing": sorted(set(want) - set(got)),
        "unknown": sorted(str(k) for k in set(got) - set(want)),
        "repeated": sorted(str(k) for k, c in got.items() if c > 1),
        "responses": len(ok), "errors": len(errors), "neither": neither,
        "distinct_response_ids": len(body_ids),
        "repeated_response_ids": sorted(str(k) for k, c in body_ids.items() if c > 1),
        "repeated_line_ids": sorted(str(k) for k, c in line_ids.items() if c > 1),
    }


def output_ok(check: dict[str, Any], n: int) -> bool:
    return (check["lines"] == n and not check["missing"] and not check["unknown"]
            and not check["repeated"] and not check["neither"]
            and not check["repeated_response_ids"] and not check["repeated_line_ids"])


def db_lines(db: Path, batch_id: str | None = None) -> list[dict[str, Any]]:
    """Every line of a batch (the only one if `batch_id` is None) from the state database,
    opened read-only (WAL: the writer may be running, or have been killed)."""
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        if batch_id is None:
            row = conn.execute("SELECT id FROM batches ORDER BY created_at DESC LIMIT 1"
                               ).fetchone()
            if row is None:
                return []
            batch_id = row["id"]
        return [dict(r) for r in conn.execute(
            "SELECT line, custom_id, state, status_code, request_id, response, dedup_of, "
            "input_tokens, cached_tokens, output_tokens FROM lines WHERE batch_id = ? "
            "ORDER BY line", (batch_id,))]
    except sqlite3.OperationalError:  # not created yet (the migration runs at start)
        return []
    finally:
        conn.close()


def db_batch(db: Path) -> dict[str, Any] | None:
    """The newest batch row of the state database (read-only)."""
    if not db.exists():
        return None
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM batches ORDER BY created_at DESC LIMIT 1").fetchone()
        return dict(row) if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def fmt_counts(batch: dict[str, Any]) -> str:
    c = batch["request_counts"]
    return f"{batch['status']} {c['completed']}+{c['failed']}/{c['total']}"
