"""The compiled TensorFlow computations behind the CAM methods, and their caches.

Three computations, each a tf.function built once per (kind, layer) and traced per
input shape (reduce_retracing: after two shapes, one general trace), always running the
model inside engine.hooks.Intercept
(entered inside the function, so its patches apply at trace time):

- `fused`: one forward pass recording the target layer's output A, plus the gradient of
  the target score with respect to A. The tape does not watch variables
  (watch_accessed_variables=False) and sees only A (watched when the layer produces it),
  so it records the head above A and nothing below it: the backward pass runs from the
  score down to the target layer only.
- `head`: the same gradient from activations already known: the target layer's call is
  patched to return the cached A, so the layers below it are dead code in the graph and
  are pruned; used when only the class changes.
- `masked`: Score-CAM's scores for a chunk of masked copies of the input. Each chunk
  upsamples its low-resolution channels, min-max normalises them, multiplies the input
  and runs the model, inside the graph; only one chunk of masked copies ever exists.

Caches (per model, least recently used first out): the prepared input per image tuple,
the target layer's activations and logits per (images, layer), and gradients per
(images, layer, targets). Images are keyed by identity (engine.images.Image is not
hashed by value); the cache keeps the images alive so an identity is never reused while
cached. Switching method or class on the same image therefore skips the forward pass.

Targets other than a class (engine.targets: a region, an output, a channel, a similarity)
pass a `scorer`: the compiled functions are keyed (kind, layer, scorer.key) and their
gradients (image key, layer, scorer.key, units, signs); they never read the all-layer
cache, whose gradients are a class's.
"""
from __future__ import annotations

import weakref
import numpy as np

from .. import cancel as cancel_mod
from ..explore import cache as explore
from ..errors import UserError
from ..hooks import Intercept, first_output
from ..lru import Lru
from . import targets

DEFAULT_CHUNK = 32  # masked copies per forward pass at 224 x 224; scaled for other sizes
MAX_CHUNK = 64

_states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


MAX_FUNCTIONS = 16  # compiled functions kept per model: a script walking 200 layers keeps 16


class _State:
    def __init__(self):
        self.fns = Lru(MAX_FUNCTIONS)  # (kind, layer) -> tf.function (its traces freed on eviction)
        self.inputs = Lru(4)  # image key -> (images, x)
        self.acts = Lru(4)  # (image key, layer) -> (A, logits)
        self.grads = Lru(8)  # (image key, layer, units, signs) -> (g, unit, sign, score)


def state(m) -> _State:
    s = _states.get(m)
    if s is None:
        s = _states[m] = _State()
    return s


def clear(m) -> None:
    """Forget cached inputs, activations and gradients (compiled functions stay), here
    and in the all-layer exploration cache (engine/explore/cache.py)."""
    explore.forget(m)
    st = _states.get(m)
    if st is not None:
        st.inputs.clear()
        st.acts.clear()
        st.grads.clear()


def image_key(images) -> tuple:
    return tuple(id(im) for im in images)


# -- cached values -----------------------------------------------------------------------
def prepared(m, images) -> np.ndarray:
    st, key = state(m), image_key(images)
    hit = st.inputs.get(key)
    if hit is None:
        hit = (list(images), m.prepare(list(images)))
        st.inputs.put(key, hit)
    return hit[1]


def activations(m, images, layer: str) -> tuple[np.ndarray, np.ndarray]:
    """(A (N, h, w, K), logits (N, units)) of the target layer, from the cache or one pass."""
    st, key = state(m), (image_key(images), layer)
    hit = st.acts.get(key) or explore.layer_activations(m, images, layer)
    if hit is None:
        x = prepared(m, images)
        try:
            logits, rec = m.forward(x, record=[layer], logits=True)
        except KeyError:
            raise _not_called(layer) from None
        hit = (rec[layer], logits)
        st.acts.put(key, hit)
    return hit


def gradients(m, images, layer: str, unit: np.ndarray, sign: np.ndarray, scorer=None):
    """(A, logits, g, unit, sign, score): activations and d score / d A for each image.

    `unit = -1` entries are resolved to the top prediction. scorer: a bound non-class
    target (engine.targets.scorers), None for the class path; a target's gradients are
    cached under its key and never come from the class-keyed all-layer cache.
    """
    if scorer is not None:
        return _target_gradients(m, images, layer, unit, sign, scorer)
    every = explore.gradients(m, images, layer, unit, sign)  # every layer, one backward pass
    if every is not None:
        return every
    st, ikey = state(m), image_key(images)
    binary = m.head.binary_sigmoid
    cached = st.acts.get((ikey, layer))
    if cached is not None:
        unit, sign, _ = targets.select_np(cached[1], unit, sign, binary)
    gkey = (ikey, layer, tuple(unit.tolist()), tuple(sign.tolist()))
    hit = st.grads.get(gkey)
    if hit is not None and cached is not None:
        return (cached[0], cached[1]) + hit
    x = prepared(m, images)
    if cached is None:
        fn = _fn(m, "fused", layer)
        m.passes.update(("forward", "backward"))
        try:
            out = fn(x, unit, sign)
        except UserError as exc:  # raised while tracing; TensorFlow adds its traceback to the text
            if "does not run" in str(exc):
                raise _not_called(layer) from None
            raise
        A, logits, g, unit, sign, score = (t.numpy() for t in out)
        st.acts.put((ikey, layer), (A, logits))
        gkey = (ikey, layer, tuple(unit.tolist()), tuple(sign.tolist()))
    else:
        A, logits = cached
        fn = _fn(m, "head", layer)
        m.passes.update(("head", "backward"))  # the layers above `layer` only
        g, score = (t.numpy() for t in fn(x, A, unit, sign))
    hit = (g, unit, sign, score)
    st.grads.put(gkey, hit)
    return (A, logits) + hit


def _target_gradients(m, images, layer, unit, sign, scorer):
    st, ikey = state(m), image_key(images)
    gkey = (ikey, layer, scorer.key, tuple(unit.tolist()), tuple(sign.tolist()))
    hit = st.grads.get(gkey)
    cached = st.acts.get((ikey, layer))
    if hit is not None and cached is not None:
        return (cached[0], cached[1]) + hit
    fn = _fn(m, "fused", layer, scorer)
    m.passes.update(("forward", "backward"))
    try:
        out = fn(prepared(m, images), unit, sign)
    except UserError as exc:
        if "does not run" in str(exc):
            raise _not_called(layer) from None
        raise
    A, logits, g, unit, sign, score = (t.numpy() for t in out)
    st.acts.put((ikey, layer), (A, logits))
    hit = (g, unit, sign, score)
    st.grads.put(gkey, hit)
    return (A, logits) + hit


def masked_scores(m, x: np.ndarray, A: np.ndarray, channels: np.ndarray, unit: np.ndarray,
                  sign: np.ndarray, layer: str, chunk_size: int | None = None,
                  progress=None, cancel=None, done: int = 0, total: int | None = None,
                  scorer=None) -> np.ndarray:
    """Score-CAM: the target probability of x[n] masked by each channel A[n, ..., k].

    channels: (N, n) channel indices per image. Returns (N, n). Work is split into chunks
    of about `chunk_size` masked copies (balanced, the last one padded so every chunk has
    one shape); `cancel` is checked and `progress(done, total)` called between chunks.
    """
    n_img, n_ch = channels.shape
    img_idx = np.repeat(np.arange(n_img, dtype=np.int32), n_ch)
    ch_idx = channels.reshape(-1)
    count = len(img_idx)
    chunk_size = max(1, min(chunk_for(m, x.shape[1:3], chunk_size), count))
    n_chunks = -(-count // chunk_size)
    size = -(-count // n_chunks)  # balanced: padding < n_chunks copies in all
    total = n_chunks if total is None else total
    fn = _fn(m, "masked", layer) if scorer is None else _fn(m, "masked", layer, scorer)
    out = np.empty(count, np.float32)
    for c in range(n_chunks):
        cancel_mod.check(cancel)
        sel = np.arange(c * size, min((c + 1) * size, count))
        pad = np.concatenate([sel, np.full(size - len(sel), sel[0])]) if len(sel) < size else sel
        low = np.ascontiguousarray(A[img_idx[pad], :, :, ch_idx[pad]])  # (B, h, w)
        probs = fn(x, low, img_idx[pad], unit[img_idx[pad]], sign[img_idx[pad]]).numpy()
        out[sel] = probs[:len(sel)]
        if progress is not None:
            progress(done + c + 1, total)
    return out.reshape(n_img, n_ch)


def auto_chunk(hw) -> int:
    h, w = (int(s) if s else 224 for s in hw)
    return int(max(1, min(MAX_CHUNK, DEFAULT_CHUNK * 224 * 224 // max(1, h * w))))


def chunk_for(m, hw, chunk_size: int | None = None) -> int:
    """Masked copies per forward pass: `chunk_size` or auto_chunk, capped so one chunk's
    forward pass fits the memory budget (engine.memory)."""
    from .. import memory

    size = int(chunk_size or auto_chunk(hw))
    h, w = (int(s) for s in hw)
    fits = memory.budget() // max(1, memory.per_image_bytes(m, h, w))
    return max(1, min(size, fits))


def n_chunks(m, count: int, chunk_size: int | None, hw) -> int:
    size = max(1, min(chunk_for(m, hw, chunk_size), count))
    return -(-count // size)


# -- compiled functions -------------------------------------------------------------------
def _fn(m, kind: str, layer: str, scorer=None):
    """The compiled `kind` pass for `layer`; per target key for a non-class target (the
    class path's functions take the class as a tensor: no retrace when it changes)."""
    st = state(m)
    key = (kind, layer) if scorer is None else (kind, layer, scorer.key)
    fn = st.fns.get(key)
    if fn is None:
        fn = _BUILDERS[kind](m, layer) if scorer is None else _BUILDERS[kind](m, layer, scorer)
        st.fns.put(key, fn)
    return fn


def _parts(m) -> tuple:
    """What the compiled functions need of a model. Never the ConvModel itself: the state
    holding these functions is keyed weakly on it, and a value that refers to its key
    keeps it alive forever (every model ever opened would stay, with its caches)."""
    return m.keras_model, m.layer_index, m.head.binary_sigmoid


def _score_gradient(parts, layer, x, unit, sign, A=None, scorer=None):
    """The skeleton `fused` and `head` share: run the model inside Intercept under a tape
    that watches only the target layer's output, take the target score (pre-softmax) and
    its gradient with respect to that output.

    A is None: record the layer's output while the model runs (fused). A given: the layer's
    call returns A instead, so the layers below it are dead code and pruned (head).
    Returns (A, logits, g, unit, sign, score) as tensors.
    """
    import tensorflow as tf

    model, index, binary = parts
    extra = [] if scorer is None else [p for p in scorer.record if p != layer]
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        if A is None:
            hooks = {"record": [layer] + extra, "tape": tape}
        else:
            tape.watch(A)
            hooks = {"replace": {layer: A}}
            if extra:
                hooks["record"] = extra
        with Intercept(model, logits=True, index=index, **hooks) as ic:
            y = model(x, training=False)
            logits = first_output(y)
        if A is None:
            if layer not in ic.outputs:
                raise _not_called(layer)
            A = ic.outputs[layer]
        if scorer is None:
            unit, sign, score = targets.select_tf(logits, unit, sign, binary)
        else:  # a target (engine.targets.scorers): every output, recorded inner layers
            unit, sign, score = scorer.select(y, ic.outputs, unit, sign)
        total = tf.reduce_sum(score)
    g = tape.gradient(total, A, unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return A, logits, g, unit, sign, score


def _build_fused(m, layer, scorer=None):
    import tensorflow as tf

    parts = _parts(m)

    @tf.function(reduce_retracing=True)  # free-size models: general shapes, few traces
    def fused(x, unit, sign):
        return _score_gradient(parts, layer, x, unit, sign, scorer=scorer)

    return fused


def _build_head(m, layer, scorer=None):
    import tensorflow as tf

    parts = _parts(m)

    @tf.function(reduce_retracing=True)
    def head(x, A, unit, sign):
        _, _, g, _, _, score = _score_gradient(parts, layer, x, unit, sign, A=A, scorer=scorer)
        return g, score

    return head


def _build_masked(m, layer, scorer=None):
    import tensorflow as tf

    model, index, activation = m.keras_model, m.layer_index, m.head.activation

    @tf.function(reduce_retracing=True)
    def masked(x, low, img, unit, sign):
        size = tf.shape(x)[1:3] if None in x.shape[1:3] else (x.shape[1], x.shape[2])
        up = tf.image.resize(low[..., None], size, method="bilinear")  # (B, H, W, 1)
        lo = tf.reduce_min(up, axis=(1, 2, 3), keepdims=True)
        hi = tf.reduce_max(up, axis=(1, 2, 3), keepdims=True)
        span = hi - lo
        ok = span > 0.0
        mask = tf.where(ok, (up - lo) / tf.where(ok, span, 1.0), 0.0)
        inputs = tf.gather(x, img) * mask
        if scorer is not None:  # the target's own bounded confidence (engine.targets.scorers)
            with Intercept(model, logits=True, index=index, record=scorer.record) as ic:
                y = model(inputs, training=False)
            return scorer.confidence(y, ic.outputs, unit, sign)
        with Intercept(model, logits=True, index=index):
            logits = first_output(model(inputs, training=False))
        return targets.probability_tf(logits, unit, sign, activation)

    return masked


_BUILDERS = {"fused": _build_fused, "head": _build_head, "masked": _build_masked}


def _not_called(layer: str) -> UserError:
    return UserError(f"layer {layer!r} does not run when the model is called (an input "
                     "layer?); choose a later layer with a spatial output")
