"""Calibrate tool_text_threshold and the relevance probe's tool_fit_weight / tool_fit_center.

In `tool_choice: "auto"` openmini decides between a call and a text answer on the whole
distribution of the first answer token (src/openmini/tools/decision.py): text when the share
of probability on prose tokens reaches the model's threshold. This bench measures that share
(`p_text`, exact: the sum over every allowed prose token, after the grammar mask) on BFCL
cases, where irrelevance cases should get text and the four call categories a call, and picks
the threshold with the most right decisions over the split (ties: the lowest), from the
midpoints between measured values; Youden's J's choice is printed beside it. With the
threshold the model is served with (the catalogue's) it then fits the relevance probe
(src/openmini/tools/relevance.py): the probe's yes share (`p_fit`) of every case is
measured too, and the weight and center fitted by logistic regression of "no tool fits" on
the two log-odds (`fit_probe`). A weight of 0 means the probe does not help.

Pick it on cases the accuracy figures do not use (`--offset 30 --limit 30`, the tuning
split), then score with `bench/bfcl.py --limit 30` (cases 0-29). Each request is one prompt
evaluation and one token (max_tokens 1), after the probe's, sent one at a time so each share
is its case's.

    .venv/bin/python bench/tool_decision.py --model fast --offset 30 --limit 30
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from typing import Any

import httpx
import numpy as np

from bfcl import CATEGORIES, body
from bfcl_data import Case, load
from common import median, parser, save, table

SHARES: list[float] = []
FITS: list[float] = []


def _keep_first(cls: Any, attr: str, into: list[float]) -> None:
    """Wrap `cls.process` so each instance's first computed `attr` lands in `into`."""
    process = cls.process

    def recording(self: Any, generated: Any, logits: Any) -> None:
        process(self, generated, logits)
        if getattr(self, attr) is not None and not getattr(self, "_recorded", False):
            into.append(getattr(self, attr))
            self._recorded = True

    cls.process = recording


def record_shares() -> None:
    """Keep each decision's p_text and each probe's p_fit (what the processors computed)."""
    from openmini.tools import decision, relevance

    _keep_first(decision.TextDecision, "p_text", SHARES)
    _keep_first(relevance.FitReader, "share", FITS)


async def share(client: httpx.AsyncClient, case: Case, model: str
                ) -> tuple[float, float] | None:
    SHARES.clear()
    FITS.clear()
    req = body(case, "auto", model, 1)
    resp = await client.post("/v1/chat/completions", json=req)
    resp.raise_for_status()
    return (SHARES[0], FITS[0]) if SHARES and FITS else None


def cuts(values: list[float]) -> list[float]:
    """Midpoints between the distinct measured shares: every threshold that makes a difference."""
    ordered = sorted(set(values))
    return [(a + b) / 2 for a, b in itertools.pairwise(ordered)] or ordered


def in_text(shares: list[float], t: float) -> int:
    return sum(p >= t for p in shares)


def right_decisions(irrelevant: list[float], calls: list[float], t: float) -> int:
    """Irrelevance cases in text plus call cases calling, at threshold t."""
    return in_text(irrelevant, t) + len(calls) - in_text(calls, t)


def best_threshold(irrelevant: list[float], calls: list[float]) -> float:
    """The threshold with the most right decisions over the split (irrelevance in text, call
    cases calling: BFCL's sample weighs its five categories alike); ties go to the lowest."""
    score = {t: right_decisions(irrelevant, calls, t)
             for t in cuts(irrelevant + calls)}
    top = max(score.values())
    return min(t for t, s in score.items() if s == top)


def youden(irrelevant: list[float], calls: list[float]) -> float:
    """Largest (share of irrelevance in text - share of call cases in text), for reference."""
    return max(cuts(irrelevant + calls), key=lambda t: in_text(irrelevant, t) / len(irrelevant)
               - in_text(calls, t) / len(calls))


def fit_probe(irrelevant: list[tuple[float, float]], calls: list[tuple[float, float]],
              threshold: float) -> tuple[float, float, int]:
    """(weight, center, right decisions) of the probe's lean, by logistic regression
    (maximum likelihood, Newton's method) of "no tool fits" on logit(p_text) and
    logit(p_fit): its boundary a * logit(p_text) + b * logit(p_fit) + k = 0 is the decision's
    text when logit(p_text) + w * (logit(center) - logit(p_fit)) >= logit(threshold), with
    w = -b / a. A smooth fit: the most-right-decisions cut sat a hair above a crowd of call
    cases and lost two of them on the held-out split."""
    from openmini.tools.decision import logit

    x = np.array([[logit(t), logit(f), 1.0] for t, f in irrelevant + calls])
    y = np.array([1.0] * len(irrelevant) + [0.0] * len(calls))
    coef = np.zeros(3)
    for _ in range(100):
        p = 1 / (1 + np.exp(-x @ coef))
        step = np.linalg.solve((x.T * (p * (1 - p))) @ x, x.T @ (p - y))
        coef -= step
        if np.abs(step).max() < 1e-9:
            break
    a, b, k = coef
    if a <= 0 or b >= 0:  # the probe does not point the right way: no lean
        return 0.0, 0.5, right_decisions([t for t, _ in irrelevant], [t for t, _ in calls],
                                         threshold)
    w = float(-b / a)
    center = 1 / (1 + math.exp(-(k / a + logit(threshold)) / w))
    z = x @ coef
    right = int(((z >= 0) & (y == 1)).sum() + ((z < 0) & (y == 0)).sum())
    return w, float(center), right


async def main() -> None:
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--limit", type=int, default=30, help="N cases of each category")
    p.add_argument("--offset", type=int, default=30, help="from this case on (0-based)")
    p.add_argument("--ctx-size", type=int, default=4096, help="context per sequence")
    a = p.parse_args()
    if a.quick:
        a.limit = min(a.limit, 2)

    from openmini.backends.local import LocalBackend
    from openmini.config import EngineConfig, ServerConfig
    from openmini.server.app import create_app

    record_shares()
    engine = EngineConfig(model=a.model, threads=a.threads, parallel=1, ctx_size=a.ctx_size,
                          # any values: the shares are read before they are used
                          tool_text_threshold=0.5, tool_fit_weight=1.0, tool_fit_center=0.5)
    backend = LocalBackend(engine)
    app = create_app(ServerConfig(engine=engine, tool_call_retries=0), backend)
    model = backend.model_ids()[0]
    shares: dict[str, list[float]] = {}
    pairs: dict[str, list[tuple[float, float]]] = {}
    t0 = time.perf_counter()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench", timeout=None) as client:
        for cat in CATEGORIES:
            found = [await share(client, c, model) for c in load(cat, a.limit, a.offset)]
            pairs[cat] = [s for s in found if s is not None]
            shares[cat] = [s[0] for s in pairs[cat]]
            print(f"{cat:17s} {len(shares[cat])} shares, median {median(shares[cat]):.3f}",
                  flush=True)
    await backend.close()
    rows = [[cat, len(v), f"{min(v):.3f}", f"{median(v):.3f}", f"{max(v):.3f}"]
            for cat, v in shares.items() if v]
    table(f"p_text at the first token, {a.model}, cases {a.offset}-{a.offset + a.limit - 1}",
          ["category", "cases", "min", "median", "max"], rows)
    calls = [s for cat, v in shares.items() if cat != "irrelevance" for s in v]
    t, j = best_threshold(shares["irrelevance"], calls), youden(shares["irrelevance"], calls)
    grid = sorted({0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, round(t, 3), round(j, 3)})
    table("cases that would answer in text, per threshold", ["threshold", *shares,
                                                             "right decisions"],
          [[f"{g:.3f}", *(f"{in_text(v, g)}/{len(v)}" for v in shares.values()),
            right_decisions(shares["irrelevance"], calls, g)] for g in grid])
    print(f"\nbest threshold (most right decisions): {t:.3f}; Youden's J would take {j:.3f} "
          f"({time.perf_counter() - t0:.0f} s)")
    call_pairs = [p for cat, v in pairs.items() if cat != "irrelevance" for p in v]
    from openmini.backends.local import tool_text_threshold

    used = tool_text_threshold(EngineConfig(model=a.model))  # the catalogue's, as served
    w, c, right = fit_probe(pairs["irrelevance"], call_pairs, used)
    alone = right_decisions(shares["irrelevance"], calls, used)
    print(f"relevance probe, with the served threshold {used:g}: weight {w:g}, center {c:.4f}: "
          f"{right} right decisions "
          f"(the share alone: {alone}); p_fit medians " + ", ".join(
              f"{cat} {median([p[1] for p in v]):.3f}" for cat, v in pairs.items() if v))
    save("tool_decision", a, {"shares": shares, "pairs": pairs, "threshold": t, "youden": j,
                              "fit_weight": w, "fit_center": c})


if __name__ == "__main__":
    asyncio.run(main())
