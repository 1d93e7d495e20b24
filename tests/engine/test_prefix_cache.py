"""PrefixCache: longest-prefix lookup, containment on add, LRU eviction, bounds, hit rate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from openmini.engine.prefix_cache import PrefixCache, common_prefix


def toks(values: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.int32)


def cache(budget: int = 1000, entries: int = 10) -> PrefixCache:
    return PrefixCache(budget_tokens=budget, max_entries=entries)


# --- common_prefix -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "n"),
    [
        ([], [], 0),
        ([], [1, 2], 0),
        ([1, 2, 3], [], 0),
        ([1, 2, 3], [1, 2, 3], 3),
        ([1, 2, 3], [1, 2], 2),
        ([1, 2], [1, 2, 3, 4], 2),
        ([1, 2, 3], [1, 9, 3], 1),
        ([5, 2, 3], [1, 2, 3], 0),
        (list(range(1000)), [*range(999), -1], 999),
    ],
)
def test_common_prefix(a: list[int], b: list[int], n: int) -> None:
    assert common_prefix(toks(a), toks(b)) == n
    assert common_prefix(toks(b), toks(a)) == n


# --- lookup ------------------------------------------------------------------------------------


def test_lookup_on_empty_cache() -> None:
    assert cache().lookup(toks([1, 2, 3])) == (None, 0)


def test_lookup_returns_the_longest_match() -> None:
    c = cache()
    assert c.add(10, toks([1, 2, 9, 9])) == []
    assert c.add(11, toks([1, 2, 3, 4, 8])) == []
    assert c.add(12, toks([7, 7, 7])) == []
    assert c.lookup(toks([1, 2, 3, 4, 5, 6])) == (11, 4)
    assert c.lookup(toks([1, 2, 9])) == (10, 3)
    assert c.lookup(toks([7, 1])) == (12, 1)
    assert c.lookup(toks([5, 5])) == (None, 0)


def test_lookup_can_match_the_whole_prompt() -> None:
    c = cache()
    c.add(3, toks([1, 2, 3, 4, 5]))
    assert c.lookup(toks([1, 2, 3])) == (3, 3)


# --- add: containment --------------------------------------------------------------------------


def test_add_drops_entries_contained_in_the_new_one() -> None:
    c = cache()
    c.add(1, toks([1, 2]))
    c.add(2, toks([1, 2, 3]))  # contains entry 1
    assert set(c.entries) == {2}
    c.add(3, toks([5, 6]))
    assert sorted(c.add(4, toks([1, 2, 3, 4, 5]))) == [2]
    assert set(c.entries) == {3, 4}


def test_add_refuses_a_new_one_contained_in_an_entry() -> None:
    c = cache()
    c.add(1, toks([1, 2, 3, 4]))
    assert c.add(2, toks([1, 2, 3])) == [2]  # the caller frees the new id
    assert c.add(3, toks([1, 2, 3, 4])) == [3]  # identical counts as contained
    assert set(c.entries) == {1}
    assert c.entries[1].tokens.tolist() == [1, 2, 3, 4]


def test_add_keeps_diverging_entries() -> None:
    c = cache()
    assert c.add(1, toks([1, 2, 3])) == []
    assert c.add(2, toks([1, 2, 4])) == []
    assert c.add(3, toks([1, 5])) == []
    assert set(c.entries) == {1, 2, 3}
    assert c.size_tokens == 8


def test_add_empty_or_disabled_cache_returns_the_id() -> None:
    assert cache().add(7, toks([])) == [7]
    c0 = cache(budget=0)
    assert c0.add(7, toks([1])) == [7] and not c0.entries
    c1 = cache(entries=0)
    assert c1.add(7, toks([1])) == [7] and not c1.entries


# --- LRU eviction ------------------------------------------------------------------------------


def test_evict_lru_follows_insertion_order_without_lookups() -> None:
    c = cache()
    for seq_id, first in ((1, 10), (2, 20), (3, 30)):
        c.add(seq_id, toks([first, 0]))
    assert [c.evict_lru(), c.evict_lru(), c.evict_lru(), c.evict_lru()] == [1, 2, 3, None]


def test_lookup_refreshes_recency() -> None:
    c = cache()
    for seq_id, first in ((1, 10), (2, 20), (3, 30)):
        c.add(seq_id, toks([first, 0]))
    assert c.lookup(toks([10, 0, 5]))[0] == 1
    assert c.evict_lru() == 2
    assert c.lookup(toks([30]))[0] == 3
    assert c.evict_lru() == 1
    assert c.evict_lru() == 3


def test_failed_lookup_refreshes_nothing() -> None:
    c = cache()
    c.add(1, toks([10]))
    c.add(2, toks([20]))
    assert c.lookup(toks([99])) == (None, 0)
    assert c.evict_lru() == 1


def test_refused_add_refreshes_the_containing_entry() -> None:
    c = cache()
    c.add(1, toks([1, 2, 3]))
    c.add(2, toks([4, 5]))
    assert c.add(3, toks([1, 2])) == [3]  # entry 1 now most recent
    assert c.evict_lru() == 2


# --- bounds ------------------------------------------------------------------------------------


def test_max_entries_evicts_least_recently_used() -> None:
    c = cache(entries=2)
    assert c.add(1, toks([1])) == []
    assert c.add(2, toks([2])) == []
    c.lookup(toks([1]))
    assert c.add(3, toks([3])) == [2]
    assert set(c.entries) == {1, 3}


def test_token_budget_evicts_until_it_fits() -> None:
    c = cache(budget=10)
    c.add(1, toks([1] * 4))
    c.add(2, toks([2] * 4))
    assert c.size_tokens == 8
    assert sorted(c.add(3, toks([3] * 5))) == [1]  # 13 > 10: drop the oldest
    assert c.size_tokens == 9
    assert sorted(c.add(4, toks([4] * 9))) == [2, 3]
    assert set(c.entries) == {4} and c.size_tokens == 9


def test_entry_larger_than_the_budget_evicts_itself_last() -> None:
    c = cache(budget=5)
    c.add(1, toks([1, 1]))
    assert sorted(c.add(2, toks([2] * 6))) == [1, 2]
    assert not c.entries and c.size_tokens == 0


def test_dropped_contained_entries_and_evictions_are_both_returned() -> None:
    c = cache(budget=5, entries=10)
    c.add(1, toks([1]))
    c.add(2, toks([2, 2, 2]))
    freed = c.add(3, toks([1, 3, 3, 3]))  # contains 1; then 2 + 4 tokens > 5: evict 2
    assert sorted(freed) == [1, 2]
    assert set(c.entries) == {3} and c.size_tokens == 4


@pytest.mark.parametrize("n", [1, 5, 40])
def test_bounds_hold_after_many_adds(n: int) -> None:
    c = cache(budget=50, entries=4)
    alive: set[int] = set()
    rng = np.random.default_rng(n)
    for seq_id in range(200):
        tokens = toks(rng.integers(0, 3, size=int(rng.integers(1, n + 1))))
        alive.add(seq_id)
        for freed in c.add(seq_id, tokens):
            assert freed in alive  # never frees an id twice or one it never held
            alive.discard(freed)
        assert set(c.entries) == alive
        assert len(c.entries) <= 4 and c.size_tokens <= 50


# --- hit rate ----------------------------------------------------------------------------------


def test_hit_rate_accounting() -> None:
    c = cache()
    assert c.hit_rate() == 0.0
    c.record(10, 0)
    c.record(20, 15)
    c.record(10, 5)
    assert (c.lookup_tokens, c.hits_tokens) == (40, 20)
    assert c.hit_rate() == pytest.approx(0.5)


def test_lookup_alone_does_not_count_towards_hit_rate() -> None:
    c = cache()
    c.add(1, toks([1, 2, 3]))
    c.lookup(toks([1, 2, 3, 4]))
    assert c.hit_rate() == 0.0 and c.lookup_tokens == 0


def test_batch_entries_are_evicted_before_live_ones() -> None:
    import numpy as np

    from openmini.engine.prefix_cache import PrefixCache

    cache = PrefixCache(budget_tokens=30, max_entries=8)
    live = np.arange(10, dtype=np.int32)
    assert cache.add(1, live) == []
    for seq_id in range(2, 6):  # batch lines churn: each evicts an older batch entry
        freed = cache.add(seq_id, np.arange(100 * seq_id, 100 * seq_id + 10, dtype=np.int32),
                          background=True)
        assert 1 not in freed
    assert 1 in cache.entries
    # a live request's hit makes a batch entry live
    src, n = cache.lookup(np.arange(500, 512, dtype=np.int32))
    assert src == 5 and n == 10 and not cache.entries[5].background
    # absorbing a live entry keeps the new one live
    assert cache.add(9, np.arange(12, dtype=np.int32), background=True) == [1, 4]  # 4: batch
    assert not cache.entries[9].background
