"""The one timing helper the benchmarks share (run them as scripts from any folder)."""
from __future__ import annotations

import time


def best(fn, repeat: int, warm: bool = True) -> float:
    """Best wall time of `repeat` calls of fn(), after one warm-up call (traces, caches)
    unless warm=False."""
    if warm:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)
