"""One memory budget for what a process keeps, the exploration cache included.

engine.memory.budget() (CONVSCOPE_MEMORY_BUDGET, or a quarter of the RAM, at most 4 GiB) is
what ConvScope allows itself. A process that explores (the window) keeps, besides one job's
working set: TensorFlow itself, the open model's weights and its traced passes, and the
exploration cache (engine.explore). The cache gets what is left:

    cache budget = min(cap, budget() - resident set now - working set of one job)

measured when a model has been opened and its passes traced (engine.worker), so the model's
weights and traces are counted as what they really occupy (the resident set), not
estimated. `cap` is the cache's own setting (a fraction of the available RAM, the window's
`explore/memory_fraction`). The working set of one job is a forward and a backward pass of
one image (engine.memory.forward_bytes, twice). A big model (EfficientNetV2M at 480 px)
therefore leaves the cache too little for every layer of an image, and is explored layer by
layer, as the command line does.
"""
from __future__ import annotations

from . import memory


def resident_bytes() -> int:
    """This process's resident set now (0 if it cannot be read)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # pragma: no cover - psutil is a dependency; /proc may be closed
        return 0


def weights_bytes(m) -> int:
    """Bytes of the model's weights (what its variables hold)."""
    total = 0
    for v in getattr(m.keras_model, "weights", ()) or ():
        n = 1
        for d in v.shape:
            n *= int(d)
        total += n * _itemsize(v.dtype)
    return total


def _itemsize(dtype) -> int:
    import numpy as np

    try:
        return np.dtype(str(getattr(dtype, "name", dtype))).itemsize
    except TypeError:
        return 4


def job_bytes(m) -> int:
    """A forward and a backward pass of one image at the model's input size."""
    h, w, _ = m.input_shape
    return 2 * memory.forward_bytes(m, 1, h or 224, w or 224)


def cache_budget(m, cap: int) -> int:
    """The exploration cache's share (see the module docstring), in bytes, >= 0."""
    left = memory.budget() - resident_bytes() - job_bytes(m)
    return int(max(0, min(int(cap), left)))
