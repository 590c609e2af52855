"""Idle prefetch: what the user is likely to ask next, computed while the engine is idle.

The window sends a `PrefetchHint` (the current image first, then the next images of the
strip) whenever the image or the strip changes. When the engine thread has no job, it
asks `Prefetcher.next_task()` for ONE unit of work and runs it (engine/qt_bridge.py), in
this order:

1. the current image's activations at every layer (one recorded forward pass);
2. the gradients at every layer for its top-`top` classes (one backward pass each);
3. for each next image: its activations, then the gradients for its top class.

A unit is one compiled pass (it cannot be interrupted inside TensorFlow); the bridge stops
asking the moment a real job is queued, so a real request waits at most for the unit
already running. Prefetch never evicts: a unit runs only if its result fits in the free
part of the budget (engine.explore.cache.ensure), and a unit that fails is not retried.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import cache as explore

DEFAULT_TOP = 5
NEXT_IMAGES = 2  # images of the strip after the current one


@dataclass(frozen=True, eq=False)
class PrefetchHint:
    images: tuple = ()  # engine.images.Image: the current one first, then the next ones
    top: int = DEFAULT_TOP  # classes whose gradients to prefetch for the current image


class Prefetcher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hint = PrefetchHint()
        self._failed: set = set()  # units that raised or could not fit (not retried)
        self.done = 0  # units computed (tests and the benchmark read it)

    def hint(self, hint: PrefetchHint) -> None:
        with self._lock:
            self._hint = hint
            self._failed = set()

    def current_images(self) -> tuple:
        """The hinted images, the current one first."""
        with self._lock:
            return tuple(self._hint.images)

    def clear(self) -> None:
        self.hint(PrefetchHint())

    def next_task(self, model) -> Callable[[object], None] | None:
        """The next unit of work for `model` as a callable(cancel_token), or None."""
        if model is None or not explore.usable(model):
            return None
        with self._lock:
            hint, failed = self._hint, set(self._failed)
        for unit in self._units(model, hint):
            key = (id(unit[0]),) + unit[1:]
            if key in failed or self._have(model, unit):
                continue
            return lambda token, unit=unit, key=key: self._run(model, unit, key, token)
        return None

    # -- internals ------------------------------------------------------------------------
    @staticmethod
    def _units(model, hint: PrefetchHint):
        """(image, unit, sign) in order; unit None means the activations."""
        images = list(hint.images[:1 + NEXT_IMAGES])
        for i, image in enumerate(images):
            yield (image, None, 1.0)
            if not explore.has_activations(model, image):
                return  # its classes are known only once its activations are
            probs = explore.scores(model, image)[0]
            for unit, sign in _top_targets(model, probs, hint.top if i == 0 else 1):
                yield (image, unit, sign)

    @staticmethod
    def _have(model, unit) -> bool:
        image, u, sign = unit
        if u is None:
            return explore.has_activations(model, image)
        return explore.has_gradients(model, image, u, sign)

    def _run(self, model, unit, key, token) -> None:
        if token is not None and token.cancelled:
            return
        image, u, sign = unit
        try:
            computed = explore.ensure(model, image, u, sign)
        except Exception:  # a failing prefetch must never disturb the user's work
            computed = False
        with self._lock:
            if computed:
                self.done += 1
            else:
                self._failed.add(key)


def _top_targets(model, probs: np.ndarray, k: int):
    """(unit, sign) of the top-k classes, as engine.cam.targets.resolve would give them."""
    if model.head.binary_sigmoid:
        p1 = float(probs[0])
        order = [1, 0] if p1 >= 0.5 else [0, 1]
        return [(0, 1.0 if c == 1 else -1.0) for c in order[:k]]
    order = np.argsort(-probs, kind="stable")[:k]
    return [(int(c), 1.0) for c in order]
