"""A bounded, thread-safe LRU for what is computed from an image (perception facts, resized
pixels, embeddings), keyed by the image's pixel digest plus a kind ("perception:<digest>").

The bound is in bytes, as the caller sizes its values: an entry larger than the whole bound is
not stored; otherwise the least recently used entries go until the total fits again.
`get_or_compute` runs the computation in a thread and shares it: concurrent callers for one
key await the first one's task, which is never cancelled by a caller giving up (its result
still lands in the cache). Owned by whoever builds it (the vision stage): no module state.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int


class BoundedCache(Generic[V]):
    """LRU keyed by str, bounded by the sum of the entries' declared sizes (bytes)."""

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, not {max_bytes}")
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[V, int]] = OrderedDict()
        self._bytes = self._hits = self._misses = 0
        self._pending: dict[str, asyncio.Task[V]] = {}

    def get(self, key: str) -> V | None:
        """The value, now the most recently used; None on a miss."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return entry[0]

    def put(self, key: str, value: V, size: int) -> None:
        """Store (or replace) `key`; evict oldest-first until under the bound. A value larger
        than the bound is not stored (and a previous value for the key is dropped)."""
        if size < 0:
            raise ValueError(f"size must be >= 0, not {size}")
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._hits, self._misses, len(self._entries), self._bytes)

    async def get_or_compute(self, key: str, compute: Callable[[], V],
                             size_of: Callable[[V], int]) -> V:
        """The cached value, or `compute()` run in a thread (`asyncio.to_thread`), stored with
        `size_of(value)`. Concurrent calls for one key on one event loop share one computation;
        its exception reaches every caller waiting on it, and nothing is stored."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return entry[0]
            self._misses += 1
            task = self._pending.get(key)
            loop = asyncio.get_running_loop()
            if task is None or task.get_loop() is not loop:  # another loop's task: compute anew
                task = loop.create_task(self._compute(key, compute, size_of))
                self._pending[key] = task
                task.add_done_callback(lambda t: self._settled(key, t))
        return await asyncio.shield(task)

    async def _compute(self, key: str, compute: Callable[[], V],
                       size_of: Callable[[V], int]) -> V:
        def work() -> tuple[V, int]:
            value = compute()
            return value, size_of(value)

        value, size = await asyncio.to_thread(work)
        self.put(key, value, size)
        return value

    def _settled(self, key: str, task: asyncio.Task[V]) -> None:
        with self._lock:
            if self._pending.get(key) is task:
                del self._pending[key]
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" log when every caller left
