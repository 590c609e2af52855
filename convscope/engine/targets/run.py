"""One compiled pass for any bound target: (unit, sign, score, confidence) of a batch.

Used where the class path reads cached logits with numpy (engine.cam.targets.select_np):
the target of a clean image, resolved once (so masked / occluded / noisy copies explain
the same class), Score-CAM's and the faithfulness curves' confidence. One tf.function per
(model, target key), a few kept (least recently used out).
"""
from __future__ import annotations

import weakref

import numpy as np

from ..lru import Lru

_states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
KEPT = 8


def scores(m, scorer, x: np.ndarray, unit: np.ndarray, sign: np.ndarray):
    """numpy (unit, sign, score, confidence), each (N,), for the model's prepared input x."""
    st = _states.get(m)
    if st is None:
        st = _states[m] = Lru(KEPT)
    fn = st.get(scorer.key)
    if fn is None:
        fn = _build(m.keras_model, m.layer_index, scorer)
        st.put(scorer.key, fn)
    m.passes["forward"] += 1
    out = fn(np.asarray(x, np.float32), np.asarray(unit, np.int32), np.asarray(sign, np.float32))
    return tuple(t.numpy() for t in out)


def _build(model, index, scorer):
    import tensorflow as tf

    from ..hooks import Intercept

    @tf.function(reduce_retracing=True)
    def fn(x, unit, sign):
        with Intercept(model, logits=True, index=index, record=scorer.record) as ic:
            y = model(x, training=False)
        u, s, score = scorer.select(y, ic.outputs, unit, sign)
        conf = scorer.confidence(y, ic.outputs, u, s)
        return u, s, score, conf

    return fn
