"""Filter patterns (design §5, seed 003 §5.4.2): gradient ascent on the input image to
maximise the mean activation of one channel, for all requested channels at once.

`filter_patterns(model, layer, filters, size, steps, mode=..., ...)` returns
(N, H, W, 3) uint8, one pattern per filter (gray models: the channel replicated).

How it runs
- One image per filter in one batch; the loss is the sum of the per-image channel means,
  so each image gets exactly the gradient of its own filter's mean (inference mode: no
  image influences another). Gradients are taken with respect to the input image only.
- The optimised image lives in pixel space ([0, 255], before preprocessing); the model's
  preprocessing (engine.preprocess.apply) is part of the compiled step.
- Several ascent steps run inside one tf.function call (a tf.while_loop), so Python runs
  once per `every` steps (the progress interval), not once per step. Cancellation is
  still checked at every step: the loop condition asks the CancelToken (a py_function).
- The model runs inside engine.hooks.Intercept (records the target layer's output, nested
  models included; rewrites 1x1 stride-2 convolutions so the oneDNN gradient crash cannot
  happen). With `truncate=True` (default) the forward pass stops right after the target
  layer has run, so the compiled step holds no layer above it (a shared layer: its first call).
- Batches that would not fit in memory are split into chunks (`batch_size`, or an
  estimate from the per-image size of the activations the step keeps). Chunks advance
  in turns, `every` steps at a time, so progress always shows all N patterns.

Class-model visualisation (Simonyan et al. 2014, sec. 2: arg max_I S_c(I) - lambda ||I||^2,
tf-keras-vis' ActivationMaximization on the output): `layer` may also be a Dense layer
(any layer whose output is (N, units)) or "output" (the layer producing the model's
output). The objective is then the unit itself, per image; a softmax / sigmoid on that
layer is stripped, so a class's *logit* is raised (maximising a softmax probability can
be won by lowering the other classes). The same ascent, classic or regularized, runs.

Pattern size: a model with a free input size is run at `size` x `size`. A model whose
input size is fixed can only see that size: its patterns have the model's input size and
`size` is ignored (`plan_size` says so, for the CLI and GUI to show).

Modes
- `classic`: the seed's recipe exactly. Start: uniform noise * 20 + 128 (pixel space),
  drawn per filter index from (seed, filter), so a pattern does not depend on the batch
  it was computed in. 40 steps of x += step * g / (RMS(g) + 1e-5), RMS per image.
  Deprocessing per image: standardise, * 0.1, + 0.5, clip to [0, 1], * 255 -> uint8.
- `regularized`: see engine.filters.params (Fourier + decorrelated colour parametrisation,
  jitter/zoom/rotation each step, total variation and L2 penalties, Adam).

In code, a mode is a recipe object (`_Classic`, `_Regularized`: its compiled steps, start
state, update and deprocessing); the regularized recipe's parametrisation (Fourier, Pixel)
and optimiser (Adam, Normalized) are objects of engine.filters.params. A chunk's state
between compiled calls is a typed `_State`.
"""
from __future__ import annotations

import logging
import os
import re
import weakref
from dataclasses import dataclass, replace

import numpy as np

from . import params as fp
from .params import classic_noise, deprocess
from .. import preprocess as prep
from ..cancel import check as check_cancel
from ..errors import UserError
from .spec import DEFAULT_MODE, DEFAULT_SIZE, DEFAULT_STEPS, MODES  # noqa: F401  (re-exported)
from ..hooks import Intercept, Patches
from ..lru import Lru
from .plan import (_check_memory, _filter_list, _is_vector,  # noqa: F401
                   held_bytes, resolve_layer, units_of)

log = logging.getLogger(__name__)

DEFAULT_EVERY = 5
MEMORY_BUDGET = min(2 << 30, (os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) // 8
                    if hasattr(os, "sysconf") else 2 << 30)
# Bytes kept per float of a layer output during one step: the forward value, kept for the
# backward pass, its gradient and the convolution's scratch space.
_BYTES_PER_FLOAT = 4 * 3

_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_CACHE_SIZE = 6


def plan_size(model, size: int = DEFAULT_SIZE) -> tuple[int, int, str | None]:
    """(height, width, note) of the patterns for `model`; note is None unless `size` is ignored."""
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise UserError(f"size {size!r}: give a number of pixels, e.g. 64") from None
    if size < 1:
        raise UserError(f"size must be at least 1 pixel, not {size}")
    fixed_h, fixed_w, _ = model.input_shape
    h = fixed_h if fixed_h is not None else size
    w = fixed_w if fixed_w is not None else size
    note = None
    if (h, w) != (size, size):
        note = (f"this model only accepts {fixed_h or 'any'}x{fixed_w or 'any'} input, so the patterns "
                f"are {h}x{w} (size {size} ignored)")
    return h, w, note


def filter_patterns(model, layer: str, filters=None, size: int = DEFAULT_SIZE, steps: int | None = None, *,
                    mode: str = DEFAULT_MODE, seed: int = 0, step: float = 1.0,
                    batch_size: int | None = None, progress=None, every: int = DEFAULT_EVERY,
                    cancel=None, truncate: bool = True, **options) -> np.ndarray:
    """Patterns that maximise each filter of `layer`: (N, H, W, 3) uint8.

    filters: channel indices (default: all). size: side in pixels for free-size models.
    steps: ascent steps (default 40 classic, 128 regularized). seed: start noise and
    transforms, drawn per filter index. step: classic step size. batch_size: images per
    compiled call (default: as many as fit in ~MEMORY_BUDGET). progress(step, steps,
    patterns_uint8) is called every `every` steps and at the end. cancel: a CancelToken,
    checked at every step (raises engine.errors.Cancelled). truncate: stop the forward
    pass at the layer. Regularized knobs: see engine.filters.params.Regularized (lr,
    optimizer, param, decorrelate, decay, jitter, scale, rotate, tv, l2, pre_activation).
    A fixed-size model ignores `size` (see plan_size).
    """
    model.require_layers("filter patterns")
    layer = resolve_layer(model, layer)
    info = model.layer(layer)
    if not (info.spatial or _is_vector(info)):
        model.layer(layer, spatial=True)  # the usual error: no (H, W, C) output
    channels = info.channels if info.spatial else int(info.output_shape[-1])
    if mode not in MODES:
        raise UserError(f"mode {mode!r}: use classic or regularized")
    cfg = fp.Regularized.from_options(options) if mode == "regularized" else None
    if options:
        raise UserError(f"unknown option(s) for {mode} filter patterns: {', '.join(sorted(options))}")
    filters = _filter_list(filters, channels, layer)
    steps = DEFAULT_STEPS[mode] if steps is None else int(steps)
    if steps < 0:
        raise UserError(f"steps must be >= 0, not {steps}")
    h, w, note = plan_size(model, size)
    if note:
        log.info(note)
    _check_memory(model, len(filters), h, w, mode)
    ascent = _ascent_for(model, layer, h, w, cfg, bool(truncate))
    check_cancel(cancel)
    bs = int(batch_size) if batch_size else ascent.auto_batch(len(filters))
    if bs < 1:
        raise UserError(f"batch_size must be at least 1, not {batch_size}")
    chunks = [filters[i:i + bs] for i in range(0, len(filters), bs)]
    states = [ascent.start(chunk, seed, steps) for chunk in chunks]
    every = steps if progress is None else max(1, int(every))
    done = 0
    while done < steps:
        k = min(every, steps - done)
        states = [ascent.advance(s, done, k, cancel, step) for s in states]
        done += k
        if progress is not None and done < steps:
            progress(done, steps, ascent.patterns(states))
    check_cancel(cancel)
    result = ascent.patterns(states)
    if progress is not None:
        progress(steps, steps, result)
    return result


def _ascent_for(model, layer, h, w, cfg, truncate) -> "_Ascent":
    per_model = _cache.get(model)
    if per_model is None:
        per_model = _cache[model] = Lru(_CACHE_SIZE)
    key = (layer, h, w, cfg, truncate)
    ascent = per_model.get(key)
    if ascent is None:
        ascent = _Ascent(model, layer, h, w, cfg, truncate)
    per_model.put(key, ascent)
    return ascent


class _Stop(Exception):
    """Raised after the target layer has run, to end the forward pass there."""


def _stop_after(call):
    def stopping(*args, **kwargs):
        call(*args, **kwargs)
        raise _Stop()

    return stopping


def _skip_activation(patches: Patches, layer) -> None:
    """Make `layer` output its pre-activation (conv + bias, or an activation layer's input)."""
    import keras

    act = getattr(layer, "activation", None)
    if callable(act) and act is not keras.activations.linear:
        patches.set(layer, "activation", keras.activations.linear)
    elif type(layer).__name__ in ("ReLU", "LeakyReLU", "ELU", "PReLU", "Softmax"):
        patches.set(layer, "call", lambda inputs, *a, **k: inputs)


@dataclass
class _State:
    """One chunk's ascent between compiled calls."""

    filt: object  # tf int32 (N,): the filter of each image
    params: object  # tf float32: classic: the pixel image (N, H, W, C); regularized: the
    #                 parametrisation's numbers (engine.filters.params.Fourier / Pixel)
    m: object = None  # regularized: the optimiser's first and second moments (Adam)
    v: object = None
    transforms: object = None  # regularized: (N, steps, 4) jitter / zoom / rotation per step
    image: object = None  # regularized: the pixel image after the last call (None: no step yet)


class _Classic:
    """The seed's recipe: pixels, x += step * g / (RMS(g) + 1e-5), the seed's deprocessing."""

    pre_activation = False  # the seed maximises the layer's output as it is

    def __init__(self, ascent: "_Ascent"):
        self.a = ascent

    def signature(self, n, hw):
        import tensorflow as tf

        return [tf.TensorSpec((n,) + hw, tf.float32), tf.TensorSpec([n], tf.int32),
                tf.TensorSpec([], tf.int32), tf.TensorSpec([], tf.float32)]

    def start(self, chunk, seed, steps) -> _State:
        import tensorflow as tf

        a = self.a
        x = np.stack([classic_noise(seed, f, a.h, a.w, a.c) for f in chunk])
        return _State(filt=tf.constant(chunk, tf.int32), params=tf.constant(x))

    def advance(self, state: _State, done, k, step) -> _State:
        import tensorflow as tf

        x, _ = self.a._call(state.params, state.filt, tf.constant(k), tf.constant(step, tf.float32))
        return replace(state, params=x)

    def pixels(self, states) -> np.ndarray:
        return deprocess(np.concatenate([s.params.numpy() for s in states]))

    def steps(self, x, filt, k, step):
        import tensorflow as tf

        a = self.a

        def body(i, x):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                loss = tf.reduce_sum(a._channel_means(x, filt))
            g = tape.gradient(loss, x)
            if g is None:
                raise UserError(f"layer {a.path!r} does not depend on the input image")
            return (x + fp.rms_normalise(g) * step,)

        (x,), n = a._loop(k, body, (x,))
        return x, n


class _Regularized:
    """Parametrised image, random transforms, penalties, an optimiser (engine.filters.params)."""

    def __init__(self, ascent: "_Ascent", cfg: fp.Regularized):
        self.a, self.cfg = ascent, cfg
        self.param = cfg.parametrisation
        self.pre_activation = cfg.pre_activation

    def signature(self, n, hw):
        import tensorflow as tf

        a = self.a
        p = tf.TensorSpec((n,) + self.param.shape(a.h, a.w, a.c), tf.float32)
        scalar = tf.TensorSpec([], tf.int32)
        return [p, p, p, tf.TensorSpec([n], tf.int32), tf.TensorSpec([n, None, 4], tf.float32),
                scalar, scalar]

    def start(self, chunk, seed, steps) -> _State:
        import tensorflow as tf

        a, cfg = self.a, self.cfg
        params = tf.constant(fp.init_params(cfg, chunk, seed, a.h, a.w, a.c))
        zeros = tf.zeros_like(params)
        return _State(filt=tf.constant(chunk, tf.int32), params=params, m=zeros, v=zeros,
                      transforms=tf.constant(fp.transform_params(cfg, chunk, seed, steps, a.h, a.w)))

    def advance(self, state: _State, done, k, step) -> _State:
        import tensorflow as tf

        p, m, v, img, _ = self.a._call(state.params, state.m, state.v, state.filt,
                                       state.transforms, tf.constant(done), tf.constant(k))
        return replace(state, params=p, m=m, v=v, image=img)

    def pixels(self, states) -> np.ndarray:
        a, imgs = self.a, []
        for s in states:
            img = s.image if s.image is not None else self.param.to_image(s.params, a.h, a.w, a.c)
            imgs.append(img.numpy())
        return np.clip(np.rint(np.concatenate(imgs)), 0, 255).astype(np.uint8)

    def steps(self, p, m, v, filt, tp, t0, k):
        a, cfg = self.a, self.cfg

        def activation(seen):
            return a._channel_means(seen, filt)

        def body(i, p, m, v):
            return fp.ascent_step(p, m, v, t0 + i, tp, activation, cfg, a.h, a.w, a.c, a.path)

        (p, m, v), n = a._loop(k, body, (p, m, v))
        return p, m, v, self.param.to_image(p, a.h, a.w, a.c), n


def _squashes(layer) -> bool:
    """A softmax / sigmoid layer, or a layer with that activation."""
    if type(layer).__name__ == "Softmax":
        return True
    name = getattr(getattr(layer, "activation", None), "__name__", "")
    return name in ("softmax", "sigmoid")


class _Ascent:
    """The compiled ascent for one (layer, size, mode) of one model, and its state handling.
    What differs between the modes is its recipe (_Classic or _Regularized)."""

    def __init__(self, model, path, h, w, cfg, truncate):
        import tensorflow as tf

        # Not the ConvModel itself: the cache is keyed weakly on it.
        self.keras_model, self.index = model.keras_model, model.layer_index
        self.preprocess, self.name = model.preprocess, model.name
        self.path, self.cfg, self.truncate = path, cfg, truncate
        self.h, self.w, self.c = h, w, int(model.input_shape[2])
        self.per_image_floats: int | None = None
        self._cancel = [None]  # the token the running call checks (read by the graph)
        self.recipe = _Classic(self) if cfg is None else _Regularized(self, cfg)
        self._fn = tf.function(self.recipe.steps, autograph=False,
                               input_signature=self.recipe.signature(None, (h, w, self.c)))
        self._traced = False

    # -- state -------------------------------------------------------------------------
    def start(self, chunk, seed, steps) -> _State:
        return self.recipe.start(chunk, seed, steps)

    def advance(self, state: _State, done, k, cancel, step) -> _State:
        """Run k steps from step `done`; raises Cancelled if the token fires."""
        check_cancel(cancel)
        self._cancel[0] = cancel
        try:
            state = self.recipe.advance(state, done, k, step)
        finally:
            self._cancel[0] = None
        check_cancel(cancel)
        return state

    def patterns(self, states) -> np.ndarray:
        return fp.to_rgb(self.recipe.pixels(states))

    # -- memory --------------------------------------------------------------------------
    def auto_batch(self, n: int) -> int:
        self._trace()
        per_image = max(1, self.per_image_floats or 1) * _BYTES_PER_FLOAT
        return int(max(1, min(n, MEMORY_BUDGET // per_image)))

    def _trace(self):
        if not self._traced:
            try:
                self._fn.get_concrete_function()
            except ValueError as e:  # a too small input: "Negative dimension size ..."
                if "dimension" not in str(e).lower():
                    raise
                raise self._size_error(e) from e
            self._traced = True

    def _call(self, *args):
        self._trace()
        return self._fn(*args)

    def _size_error(self, e):
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # Keras colours its messages
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "dimension" in ln.lower()), lines[-1] if lines else "")
        reason = reason.split(" for '{{node")[0][:160]
        return UserError(f"a {self.h}x{self.w} pattern is too small for layer {self.path!r} of "
                         f"{self.name} ({reason}); try a larger size")

    # -- the compiled steps -------------------------------------------------------------
    def _cancelled(self):
        token = self._cancel[0]
        return bool(token is not None and token.cancelled)

    def _loop(self, k, body, loop_vars):
        """Run body k times, stopping early when the cancel token fires."""
        import tensorflow as tf

        def cond(i, *_):
            asked = tf.py_function(self._cancelled, [], tf.bool)
            asked.set_shape([])
            return tf.logical_and(i < k, tf.logical_not(asked))

        out = tf.while_loop(cond, lambda i, *v: (i + 1,) + tuple(body(i, *v)),
                            (tf.constant(0),) + tuple(loop_vars), parallel_iterations=1)
        return out[1:], out[0]

    def _channel_means(self, x_pix, filt):
        """Per-image mean of its own filter's channel at the target layer: (N,)."""
        import tensorflow as tf

        x = prep.apply(x_pix, self.preprocess)
        act = self._forward(x)
        if act.shape.rank == 2:  # a Dense / output unit: the (pre-softmax) unit itself
            return tf.cast(tf.gather(act, filt, axis=1, batch_dims=1), tf.float32)
        sel = tf.gather(act, filt, axis=3, batch_dims=1)  # (N, h, w)
        return tf.reduce_mean(tf.cast(sel, tf.float32), axis=[1, 2])

    def _forward(self, x):
        """The target layer's output for x (the model stops there when truncating)."""
        import keras

        index = self.index
        record = [self.path] + [p for p, l in index.items()
                                if p != self.path and not isinstance(l, keras.Model)]
        target = index[self.path]
        with Patches() as outer:
            if self.recipe.pre_activation:
                _skip_activation(outer, target)
            elif _squashes(target):  # a class's logit, not its softmax probability
                _skip_activation(outer, target)
            with Intercept(self.keras_model, record=record, index=index) as ic, Patches() as inner:
                if self.truncate:  # patched inside Intercept: wraps the recording call
                    inner.set(target, "call", _stop_after(target.call))
                try:
                    self.keras_model(x, training=False)
                except _Stop:
                    pass
        act = ic.outputs[self.path]
        if isinstance(act, (list, tuple)):
            act = act[0]
        if act.shape.rank not in (2, 4) or any(d == 0 for d in act.shape[1:]):
            raise UserError(f"a {self.h}x{self.w} pattern is too small for layer {self.path!r} "
                            f"(its output would be {act.shape[1:]}); try a larger size")
        floats = sum(int(np.prod(t.shape[1:])) for t in ic.outputs.values()
                     if hasattr(t, "shape") and t.shape.rank and t.shape[1:].is_fully_defined())
        self.per_image_floats = floats + self.h * self.w * self.c
        return act
