"""EngineRequest ordering (priority, then deadline, then arrival) and Seq's prefill state."""

from __future__ import annotations

import itertools

from openmini.engine.sampling import Sampler
from openmini.engine.sequence import EngineRequest, Seq
from openmini.types import Event, SamplingParams

_ids = itertools.count()


def request(prompt: list[int], **kw: object) -> EngineRequest:
    events: list[Event] = []
    return EngineRequest(request_id=f"q{next(_ids)}", prompt=prompt, params=SamplingParams(),
                         max_tokens=8, sink=events.extend, **kw)


def test_engine_request_ordering() -> None:
    a = request([1], priority=1)
    b = request([1], priority=0, deadline=9.0)
    c = request([1], priority=0)
    d = request([1], priority=0, deadline=2.0)
    assert b < a and d < b and b < c and not c < b
    assert sorted([a, b, c, d]) == [d, b, c, a]
    assert d.sort_key() == (0, 2.0, d.arrival) and c.sort_key()[1] == float("inf")
    assert a.arrival < b.arrival < c.arrival < d.arrival


def test_arrival_is_unique_and_increasing() -> None:
    reqs = [request([1]) for _ in range(5)]
    arrivals = [r.arrival for r in reqs]
    assert arrivals == sorted(arrivals) and len(set(arrivals)) == 5
    assert sorted(reversed(reqs)) == reqs


def test_requests_compare_by_identity() -> None:
    a, b = request([1]), request([1])
    assert a != b and a == a
    assert a in [a] and a not in [b]


def test_seq_prefilling_and_pending() -> None:
    req = request([1, 2, 3])
    seq = Seq(req=req, index=0, seq_id=0, tokens=list(req.prompt),
              sampler=Sampler(req.params, 16, req.prompt))
    assert seq.prompt_len == 3 and seq.prefilling and seq.pending() == [1, 2, 3]
    seq.n_past = 2
    assert not seq.prefilling and seq.pending() == [3]
    seq.tokens.append(9)
    seq.n_past = 4
    seq.tokens.append(10)
    assert not seq.prefilling and seq.pending() == [10]
    assert seq.stops.push("text") == ("text", None)  # no stop strings by default
