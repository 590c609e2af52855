"""The compiled TensorFlow computations behind the pixel attributions, and chunked runs.

Every pixel attribution works in *pixel space*: float32 (B, H, W, C) in [0, 255], the
image fitted to the model's input but not yet preprocessed. The model's preprocessing
(engine.preprocess.apply) is part of each compiled function, so gradients are with
respect to the pixels a user sees, baselines ("black", noise) are pixel values, and
occlusion / RISE masks act on pixels — whatever preprocessing the model uses.

Computations (each a tf.function built once per model and kind, traced once per batch
shape; the model always runs inside engine.hooks.Intercept, entered *inside* the
function so its patches apply at trace time and never outlive the call):

- `grad`: the target score and its gradient with respect to the pixels, for a batch.
  With `guided=True` the ReLUs' backward pass is the guided one (engine.attribution.guided)
  — a separate compiled function, so no other method ever sees the override.
- `occluded`: scores of the image with a square patch filled, one patch position per
  batch row; the occluded copies are built inside the graph from the positions.
- `rise`: target probabilities of the image multiplied by RISE masks; the masks are
  upsampled from low-resolution grids and shifted inside the graph.
- `ablated`: scores with one channel of a layer's output zeroed, one channel per batch
  row (Ablation-CAM); the layer's call returns the ablated activations, so only the
  layers above it run.

Scores are pre-softmax / pre-sigmoid (engine.cam.targets); `rise` uses the bounded
probability (engine.cam.targets.probability_tf), as the RISE paper does.
"""
from __future__ import annotations

import weakref

import numpy as np

from .. import cancel as cancel_mod
from .. import preprocess as prep
from ..cam import targets
from ..hooks import Intercept, first_output
from ..lru import Lru

# Copies per batch for a 224 x 224 input, scaled by area for other sizes: forward-only
# work keeps no activations for a backward pass, so it can take bigger batches.
GRAD_CHUNK, FORWARD_CHUNK, MAX_CHUNK = 16, 32, 128

_states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def auto_chunk(hw, kind: str = "forward") -> int:
    h, w = (int(s) if s else 224 for s in hw)
    base = GRAD_CHUNK if kind == "grad" else FORWARD_CHUNK
    return int(max(1, min(MAX_CHUNK, base * 224 * 224 // max(1, h * w))))


def run_chunked(count: int, chunk: int, run, progress=None, cancel=None, done: int = 0,
                total: int | None = None) -> list:
    """Call run(indices) on balanced chunks of range(count); return the list of results.

    Every chunk has the same length (the last one padded by repeating its first index,
    so one traced shape serves all); run gets the padded indices and the result rows past
    the real ones are dropped. `cancel` is checked before each chunk, `progress(done,
    total)` called after it.
    """
    chunk = max(1, min(int(chunk), count))
    n = -(-count // chunk)
    size = -(-count // n)
    total = n + done if total is None else total
    out = []
    for c in range(n):
        cancel_mod.check(cancel)
        sel = np.arange(c * size, min((c + 1) * size, count))
        idx = np.concatenate([sel, np.full(size - len(sel), sel[0])]) if len(sel) < size else sel
        res = run(idx)
        out.append(tuple(r[:len(sel)] for r in res) if isinstance(res, tuple) else res[:len(sel)])
        if progress is not None:
            progress(done + c + 1, total)
    return out


def n_chunks(count: int, chunk: int) -> int:
    return -(-count // max(1, min(int(chunk), count)))


# -- the functions ------------------------------------------------------------------------
MAX_FUNCTIONS = 16  # compiled functions kept per model ((kind, layer) pairs)


def _fn(m, kind: str, *key, scorer=None):
    """The compiled `kind` function; one per target key for a non-class target
    (engine.targets.scorers), the class path's take the class as a tensor."""
    st = _states.get(m)
    if st is None:
        st = _states[m] = Lru(MAX_FUNCTIONS)  # per model; an evicted function frees its traces
    full = (kind,) + key + (() if scorer is None else (scorer.key,))
    fn = st.get(full)
    if fn is None:
        fn = _BUILDERS[kind](m, *key, scorer=scorer)
        st.put(full, fn)
    return fn


def _score(scorer, model, index, x, unit, sign, binary, guided=None, replace=None):
    """Run the model on x (inside Intercept; GuidedRelu when given) and return
    (unit, sign, score): the class path (engine.cam.targets) or the target's scorer."""
    import contextlib

    record = () if scorer is None else scorer.record
    with (guided or contextlib.nullcontext()), \
            Intercept(model, logits=True, index=index, record=record, replace=replace) as ic:
        y = model(x, training=False)
    if scorer is None:
        return targets.select_tf(first_output(y), unit, sign, binary)
    return scorer.select(y, ic.outputs, unit, sign)


def gradient(m, xpix: np.ndarray, unit: np.ndarray, sign: np.ndarray, guided: bool = False,
             resolved: bool = False, scorer=None):
    """(d score / d pixels (B, H, W, C), score (B,)) for a batch of pixel images.

    unit / sign: per row (engine.cam.targets); `unit = -1` is the row's top prediction.
    With resolved=True, returns (g, unit, sign, score), the targets resolved.
    """
    g, unit, sign, score = _fn(m, "grad", bool(guided), scorer=scorer)(
        np.asarray(xpix, np.float32), unit, sign)
    if resolved:
        return g.numpy(), unit.numpy(), sign.numpy(), score.numpy()
    return g.numpy(), score.numpy()


def occluded_scores(m, xpix: np.ndarray, positions: np.ndarray, patch: int, fill: float,
                    unit: np.ndarray, sign: np.ndarray, scorer=None) -> np.ndarray:
    """Scores (B,) of xpix (1, H, W, C) with a patch x patch square from each (row, col)
    in positions (B, 2) set to `fill`."""
    fn = _fn(m, "occluded", scorer=scorer)
    return fn(xpix, positions.astype(np.int32), np.int32(patch), np.float32(fill),
              unit, sign).numpy()


def rise_scores(m, xpix: np.ndarray, grids: np.ndarray, shifts: np.ndarray, cell: int,
                unit: np.ndarray, sign: np.ndarray, scorer=None):
    """(probabilities (B,), masks (B, H, W)) of xpix (1, H, W, C) times RISE masks.

    grids: (B, s, s) binary float32 low-resolution grids; shifts (B, 2) int32 in [0, cell).
    """
    fn = _fn(m, "rise", scorer=scorer)
    p, masks = fn(xpix, grids.astype(np.float32), shifts.astype(np.int32), np.int32(cell),
                  unit, sign)
    return p.numpy(), masks.numpy()


def ablated_scores(m, x: np.ndarray, A: np.ndarray, channels: np.ndarray, layer: str,
                   unit: np.ndarray, sign: np.ndarray, scorer=None) -> np.ndarray:
    """Scores (B,) with channel channels[b] of `layer`'s output A (1, h, w, K) set to zero.

    x: the model's (preprocessed) input (1, H, W, C), repeated for layers above `layer`
    that also read from below it (a residual shortcut)."""
    fn = _fn(m, "ablated", layer, scorer=scorer)
    return fn(x, A, channels.astype(np.int32), unit, sign).numpy()


def _build_grad(m, guided: bool, scorer=None):
    import tensorflow as tf

    from .guided import GuidedRelu

    model, index, binary, mode = m.keras_model, m.layer_index, m.head.binary_sigmoid, m.preprocess

    @tf.function(reduce_retracing=True)
    def grad(xpix, unit, sign):
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(xpix)
            x = prep.apply(xpix, mode)
            unit, sign, score = _score(scorer, model, index, x, unit, sign, binary,
                                       guided=GuidedRelu(model, index, enabled=guided))
            total = tf.reduce_sum(score)
        g = tape.gradient(total, xpix, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return g, unit, sign, score

    return grad


def _build_occluded(m, scorer=None):
    import tensorflow as tf

    model, index, binary, mode = m.keras_model, m.layer_index, m.head.binary_sigmoid, m.preprocess

    @tf.function(reduce_retracing=True)
    def occluded(xpix, positions, patch, fill, unit, sign):
        h, w = tf.shape(xpix)[1], tf.shape(xpix)[2]
        r, c = positions[:, 0:1], positions[:, 1:2]
        rows = tf.range(h)[None, :]
        cols = tf.range(w)[None, :]
        in_r = (rows >= r) & (rows < r + patch)  # (B, H)
        in_c = (cols >= c) & (cols < c + patch)  # (B, W)
        inside = (in_r[:, :, None] & in_c[:, None, :])[..., None]  # (B, H, W, 1)
        copies = tf.where(inside, fill, xpix)
        return _score(scorer, model, index, prep.apply(copies, mode), unit, sign, binary)[2]

    return occluded


def _build_rise(m, scorer=None):
    import tensorflow as tf

    model, index, mode, activation = m.keras_model, m.layer_index, m.preprocess, m.head.activation

    @tf.function(reduce_retracing=True)
    def rise(xpix, grids, shifts, cell, unit, sign):
        h, w = tf.shape(xpix)[1], tf.shape(xpix)[2]
        s = tf.shape(grids)[1]
        big = (s + 1) * cell
        # bilinear upsampling of the grid to (s + 1) * cell (half-pixel centres, as cv2)
        up = tf.image.resize(grids[..., None], tf.stack([big, big]), method="bilinear")[..., 0]
        rows = shifts[:, 0:1] + tf.range(h)[None, :]  # (B, H)
        cols = shifts[:, 1:2] + tf.range(w)[None, :]
        masks = tf.gather(tf.gather(up, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
        copies = xpix * masks[..., None]
        if scorer is not None:  # the target's own bounded confidence (engine.targets.scorers)
            with Intercept(model, logits=True, index=index, record=scorer.record) as ic:
                y = model(prep.apply(copies, mode), training=False)
            return scorer.confidence(y, ic.outputs, unit, sign), masks
        with Intercept(model, logits=True, index=index):
            logits = first_output(model(prep.apply(copies, mode), training=False))
        return targets.probability_tf(logits, unit, sign, activation), masks

    return rise


def _build_ablated(m, layer: str, scorer=None):
    import tensorflow as tf

    model, index, binary = m.keras_model, m.layer_index, m.head.binary_sigmoid

    @tf.function(reduce_retracing=True)
    def ablated(x, A, channels, unit, sign):
        k = tf.shape(A)[-1]
        keep = 1.0 - tf.one_hot(channels, k, dtype=A.dtype)  # (B, K)
        acts = A * keep[:, None, None, :]
        xs = tf.repeat(x, tf.shape(channels)[0], axis=0)
        return _score(scorer, model, index, xs, unit, sign, binary, replace={layer: acts})[2]

    return ablated


_BUILDERS = {"grad": _build_grad, "occluded": _build_occluded, "rise": _build_rise,
             "ablated": _build_ablated}
