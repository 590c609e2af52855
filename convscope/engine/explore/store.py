"""A least-recently-used store of numpy results, bounded by a memory budget in bytes.

The exploration cache (engine/explore/cache.py) keeps here, per image the model has seen, the
activations of every spatial layer from one recorded forward pass, and per (image, class)
the gradients of the class score at every spatial layer from one backward pass. Each
entry knows its size (the sum of its arrays' `nbytes`); inserting an entry evicts the
least recently used ones until the total fits the budget. An entry larger than the whole
budget is not stored (the caller computes per layer instead, and says so).

The process's store (engine.explore.STORE) starts with API_BUDGET bytes: a Python
session calling m.cam 300 times must not grow by a quarter of the RAM. The window, where
the cache is what makes clicking through layers instant, sets a fraction of the RAM
available (DEFAULT_FRACTION, or its setting) when it opens; `configure(fraction=..)` or
`configure(budget=..)` changes either. Thread-safe: the engine thread
fills it, idle prefetch runs on the same thread, and statistics may be read elsewhere.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

import numpy as np

DEFAULT_FRACTION = 0.25  # of the RAM available at start-up (the window's default)
API_BUDGET = 256 << 20  # bytes: the default of a Python (API) process


def available_bytes() -> int:
    """RAM available to this process now (psutil; 4 GiB if it cannot say)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except Exception:  # pragma: no cover - psutil is a dependency; a sandbox may refuse /proc
        return 4 << 30


def nbytes(value: Any) -> int:
    """Bytes held by the numpy arrays in `value` (arrays, dicts, lists, tuples of them)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(nbytes(v) for v in value)
    return 0


class LruBudget:
    """key -> value, least recently used first out, total size <= `budget` bytes."""

    def __init__(self, budget: int | None = None, fraction: float = DEFAULT_FRACTION):
        self._lock = threading.RLock()
        self._items: "OrderedDict[Hashable, tuple[Any, int]]" = OrderedDict()
        self.used = 0
        self.evictions = 0
        self.refused = 0  # entries too big for the whole budget
        self.budget = 0
        self.configure(budget=budget, fraction=fraction)

    def configure(self, budget: int | None = None, fraction: float | None = None) -> None:
        """Set the budget in bytes, or as a fraction of the RAM available now; evict to fit."""
        with self._lock:
            if budget is None:
                f = DEFAULT_FRACTION if fraction is None else float(fraction)
                budget = int(max(0.0, min(f, 0.9)) * available_bytes())
            self.budget = max(0, int(budget))
            self._evict(0)

    # -- access ---------------------------------------------------------------------------
    def get(self, key: Hashable, default=None):
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return default
            self._items.move_to_end(key)
            return item[0]

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def keys(self) -> list:
        """Keys, least recently used first."""
        with self._lock:
            return list(self._items)

    def fits(self, size: int, evicting: bool = True) -> bool:
        """Would an entry of `size` bytes be stored (evicting others, or not)?"""
        with self._lock:
            return size <= (self.budget if evicting else self.budget - self.used)

    def put(self, key: Hashable, value: Any, size: int | None = None) -> bool:
        """Store `value` (its size counted from its arrays unless given), evicting the least
        recently used entries to fit; False (nothing stored) if it exceeds the budget."""
        size = nbytes(value) if size is None else int(size)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.used -= old[1]
            if size > self.budget:
                self.refused += 1
                return False
            self._evict(size)
            self._items[key] = (value, size)
            self.used += size
            return True

    def discard(self, predicate: Callable[[Hashable], bool]) -> int:
        """Remove every entry whose key satisfies `predicate`; how many."""
        with self._lock:
            gone = [k for k in self._items if predicate(k)]
            for k in gone:
                self.used -= self._items.pop(k)[1]
            return len(gone)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.used = 0

    def _evict(self, incoming: int) -> None:
        while self._items and self.used + incoming > self.budget:
            _, (_, size) = self._items.popitem(last=False)
            self.used -= size
            self.evictions += 1
