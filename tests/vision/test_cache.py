"""BoundedCache: LRU order, the byte bound, oversize entries, thread safety, and
get_or_compute sharing one computation between concurrent callers."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from openmini.vision.cache import BoundedCache, CacheStats


def test_lru_order_and_stats() -> None:
    cache: BoundedCache[str] = BoundedCache(30)
    for key in "abc":
        cache.put(key, key.upper(), 10)
    assert cache.get("a") == "A"  # a is now the most recent: b is the oldest
    cache.put("d", "D", 10)
    assert cache.get("b") is None
    assert [cache.get(k) for k in "acd"] == ["A", "C", "D"]
    assert cache.stats() == CacheStats(hits=4, misses=1, entries=3, bytes=30)


def test_byte_bound_evicts_oldest_first_until_under() -> None:
    cache: BoundedCache[int] = BoundedCache(100)
    for i in range(5):
        cache.put(f"k{i}", i, 20)
    cache.put("big", 99, 70)  # 170 bytes: k0..k3 must go (100 -> 90)
    assert [cache.get(f"k{i}") for i in range(5)] == [None, None, None, None, 4]
    assert cache.get("big") == 99
    assert cache.stats().bytes == 90


def test_replacing_a_key_counts_its_new_size() -> None:
    cache: BoundedCache[str] = BoundedCache(100)
    cache.put("a", "old", 60)
    cache.put("a", "new", 30)
    assert (cache.get("a"), cache.stats().bytes, cache.stats().entries) == ("new", 30, 1)


def test_entry_larger_than_the_bound_is_not_stored() -> None:
    cache: BoundedCache[str] = BoundedCache(50)
    cache.put("small", "s", 10)
    cache.put("huge", "h", 51)
    assert cache.get("huge") is None
    assert cache.get("small") == "s"  # nothing evicted for it
    cache.put("small", "s2", 51)  # an oversize replacement drops the stale value
    assert cache.get("small") is None and cache.stats().bytes == 0


def test_bad_sizes_rejected() -> None:
    with pytest.raises(ValueError):
        BoundedCache(-1)
    with pytest.raises(ValueError):
        BoundedCache[int](10).put("k", 1, -5)


def test_threads_keep_the_books_straight() -> None:
    cache: BoundedCache[int] = BoundedCache(1000)

    def churn(t: int) -> None:
        for i in range(2000):
            cache.put(f"{t}:{i % 50}", i, 7)
            cache.get(f"{(t + 1) % 4}:{i % 50}")

    threads = [threading.Thread(target=churn, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stats = cache.stats()
    assert stats.bytes == 7 * stats.entries <= 1000
    assert stats.hits + stats.misses == 8000


async def test_concurrent_get_or_compute_computes_once() -> None:
    cache: BoundedCache[str] = BoundedCache(1000)
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.05)  # in a worker thread: the loop keeps running meanwhile
        return "facts"

    results = await asyncio.gather(*(cache.get_or_compute("img:1", compute, len)
                                     for _ in range(8)))
    assert results == ["facts"] * 8 and len(calls) == 1
    assert await cache.get_or_compute("img:1", compute, len) == "facts"  # now a hit
    assert len(calls) == 1 and cache.stats().entries == 1 and cache.stats().bytes == 5


async def test_get_or_compute_runs_off_the_loop() -> None:
    cache: BoundedCache[int] = BoundedCache(100)
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def compute() -> int:
        seen.append(threading.get_ident())
        return 1

    await cache.get_or_compute("k", compute, lambda v: 1)
    assert seen and seen[0] != loop_thread


async def test_failure_reaches_every_waiter_and_is_not_cached() -> None:
    cache: BoundedCache[str] = BoundedCache(100)
    calls: list[int] = []

    def boom() -> str:
        calls.append(1)
        time.sleep(0.02)
        raise RuntimeError("no")

    outcomes = await asyncio.gather(*(cache.get_or_compute("k", boom, len) for _ in range(3)),
                                    return_exceptions=True)
    assert len(calls) == 1 and all(isinstance(o, RuntimeError) for o in outcomes)
    assert await cache.get_or_compute("k", lambda: "ok", len) == "ok"  # computed anew


async def test_a_caller_giving_up_does_not_cancel_the_shared_work() -> None:
    cache: BoundedCache[str] = BoundedCache(100)
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "done"

    first = asyncio.ensure_future(cache.get_or_compute("k", slow, len))
    second = asyncio.ensure_future(cache.get_or_compute("k", slow, len))
    await asyncio.sleep(0.01)
    first.cancel()
    release.set()
    assert await second == "done"
    with pytest.raises(asyncio.CancelledError):
        await first
    assert cache.get("k") == "done"
