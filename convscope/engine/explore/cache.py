"""Instant exploration: one pass per image for every layer, one per (image, class) for
every layer's gradients, kept in a memory-budgeted LRU cache (engine/explore/store.py).

- The first question about an image (its predictions, a layer's activations, a map that
  needs only activations) runs ONE forward pass that records every spatial layer
  (engine.hooks.Intercept) and keeps them all with the logits and the model's outputs.
  Any other layer of that image is then a dictionary look-up.
- The first gradient question about (image, class) runs ONE forward + backward pass: the
  tape watches every spatial layer's output, so one `tape.gradient` of the class score
  (before softmax / sigmoid, engine.cam.targets) yields d score / d A at every layer.
  Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM and XGrad-CAM at another layer are then only
  their formula (a weighted sum), no pass.
- A model whose activations and one class's gradients for one image do not fit the budget
  is explored layer by layer as before (engine/model.py, engine/cam/compute.py); `plan`
  says so (the window shows it in the status bar).

Keys: (kind, model token, preprocessing, input shape, BLAKE2b of the model's prepared
input). The token is unique per ConvModel for the life of the process (never an `id`),
so a new model never meets an old model's entries (they are dropped when the model is
garbage-collected); a different preprocessing or a different image gives a different
input, hence a different key. Cached arrays are read-only.

Every forward / backward pass made here or on the per-layer paths is counted in
`m.passes` (a Counter), which tests read instead of timing.
"""
from __future__ import annotations

import hashlib
import itertools
import weakref
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from .store import API_BUDGET, LruBudget

# One budget for the whole process: API_BUDGET (256 MiB) in a Python session or script;
# the window sets its own, larger one (a fraction of the RAM) when it opens.
STORE = LruBudget(budget=API_BUDGET)
_states: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_tokens = itertools.count(1)


_cap = [STORE.budget]  # the configured budget; fit_budget keeps within it


def configure(budget: int | None = None, fraction: float | None = None) -> None:
    """The cache's budget in bytes, or as a fraction of the RAM available now."""
    STORE.configure(budget=budget, fraction=fraction)
    _cap[0] = STORE.budget


def fit_budget(m) -> int:
    """Shrink the cache to what the process budget leaves beside `m` (engine.process_memory:
    CONVSCOPE_MEMORY_BUDGET or the default, minus the resident set with the model's
    weights and traces, minus one job), within the configured budget. Called when a model
    has been opened; returns the cache's budget."""
    from ..process_memory import cache_budget

    STORE.configure(budget=cache_budget(m, _cap[0]))
    return STORE.budget


@dataclass(frozen=True)
class Plan:
    all_layers: bool  # one pass for every layer (else per-layer passes)
    bytes_per_image: int | None  # activations of every spatial layer (None: not known yet)
    budget: int
    note: str  # "" or the sentence for the status bar


class _State:
    def __init__(self, m):
        self.token = next(_tokens)
        self.enabled = True
        self.fns: dict = {}
        self.paths = [i.path for i in m.layers
                      if i.spatial and not i.is_container and i.class_name != "InputLayer"]
        self.path_set = frozenset(self.paths)
        self.density: float | None = None  # bytes per input pixel, measured (free-size models)
        self.cold = False  # just opened in the window: first paint by the per-layer path
        token = self.token
        weakref.finalize(m, STORE.discard, lambda k: k[1] == token)


def state(m) -> _State:
    st = _states.get(m)
    if st is None:
        st = _states[m] = _State(m)
    return st


def enable(m, on: bool = True) -> None:
    """Use the cache for this model (default), or not (its entries are dropped)."""
    st = state(m)
    st.enabled = bool(on)
    if not on:
        forget(m)


@contextmanager
def paused(m):
    """Inside: this model's questions take the per-layer paths and cache nothing here
    (video frames: each is seen once, so every layer would not pay, and it would evict
    what the user explores)."""
    st = state(m)
    was, st.enabled = st.enabled, False
    try:
        yield
    finally:
        st.enabled = was


def forget(m) -> None:
    """Drop this model's cached activations and gradients (compiled passes stay)."""
    st = _states.get(m)
    if st is not None:
        STORE.discard(lambda k: k[1] == st.token)


def usable(m) -> bool:
    st = state(m)
    return not m.predict_only and st.enabled and not st.cold and STORE.budget > 0


def set_cold(m, cold: bool = True) -> None:
    """First paint first (issue 17): while a model is cold, its questions take the cheap
    per-layer path (the first picture costs what the command line's costs: no tracing of
    the all-layer passes before it); the window's engine warms it in idle time."""
    state(m).cold = bool(cold)


def is_cold(m) -> bool:
    return state(m).cold


# -- sizes and the plan -------------------------------------------------------------------
def bytes_per_image(m, hw=None) -> int | None:
    """float32 bytes of every spatial layer's activations for one image of size `hw`."""
    st = state(m)
    shapes = [m.layer(p).output_shape for p in st.paths]
    if all(None not in s for s in shapes):
        return int(sum(4 * int(np.prod(s)) for s in shapes))
    if st.density is not None and hw is not None:
        return int(st.density * hw[0] * hw[1])
    return None


def plan(m, hw=None) -> Plan:
    """Whether one image's activations and one class's gradients at every layer fit."""
    per = bytes_per_image(m, hw) if not m.predict_only else None
    budget = STORE.budget
    if m.predict_only or not state(m).enabled:
        return Plan(False, per, budget, "")
    if per is not None and 2 * per > budget:
        return Plan(False, per, budget,
                    f"all-layer cache off: one image needs {_mb(2 * per)} for every layer's "
                    f"activations and gradients, over the {_mb(budget)} memory budget — "
                    "each layer is computed on its own")
    return Plan(True, per, budget, "")


def _mb(n: int) -> str:
    return f"{n / 2 ** 20:,.0f} MB"


# -- keys ---------------------------------------------------------------------------------
def _key(m, x: np.ndarray) -> tuple:
    digest = hashlib.blake2b(np.ascontiguousarray(x).tobytes(), digest_size=16).hexdigest()
    return (state(m).token, m.preprocess, tuple(x.shape), digest)


def _view(t) -> np.ndarray:
    """The array of a CPU tensor without a copy. `Tensor.numpy()` copies (so that the
    array may be written), which for every layer of VGG16 and its gradients is ~120 MB
    and 40-170 ms of an image's first analysis; the cache freezes the arrays anyway, and
    the view keeps the tensor's buffer alive. Device tensors are copied to the host."""
    view = getattr(t, "_numpy", None)
    return view() if view is not None else t.numpy()


def _frozen(d: dict) -> dict:
    for a in d.values():
        a.setflags(write=False)
    return d


# -- look-ups (None: not answerable from the cache; the caller computes per layer) --------
def activations(m, image, paths) -> dict | None:
    """{path: (H, W, C)} of one image from the cache, or after one all-layer pass."""
    st = state(m)
    if not usable(m) or any(p not in st.path_set for p in paths):
        return None
    entry = _activation_entry(m, m.prepare(image))
    if entry is None:
        return None
    return {p: entry["acts"][p][0] for p in paths}


def scores(m, image) -> np.ndarray | None:
    """The model's outputs (1, units) for one image if its all-layer pass is cached (a
    prediction alone does not record every layer: a plain forward pass is cheaper)."""
    if not usable(m):
        return None
    entry = STORE.get(("acts",) + _key(m, m.prepare(image)))
    return None if entry is None else entry["probs"]


def analyse(m, image) -> bool:
    """An image's first analysis in the window: ONE forward + backward pass gives its
    predictions, every layer's activations and every layer's gradients for the top class
    (1x forward + 1x backward, where predicting, then recording, then a Grad-CAM would
    cost about 3 forward passes + a backward one). False if cached already or off."""
    if not usable(m):
        return False
    x = m.prepare(image)
    key = _key(m, x)
    if ("acts",) + key in STORE or not plan(m, x.shape[1:3]).all_layers:
        return False
    if not m.head.classifier:  # no class to take gradients of (a U-Net: engine.targets)
        return _activation_entry(m, x) is not None
    _gradient_pass(m, x, key, np.array([-1], np.int32), np.ones(1, np.float32))
    return True


def layer_activations(m, images, layer: str):
    """(A (1, h, w, K), logits (1, units)) for a one-image list, or None."""
    if len(images) != 1 or not usable(m) or layer not in state(m).path_set:
        return None
    entry = _activation_entry(m, m.prepare(images[0]))
    return None if entry is None else (entry["acts"][layer], entry["logits"])


def gradients(m, images, layer: str, unit: np.ndarray, sign: np.ndarray):
    """(A, logits, g, unit, sign, score) for a one-image list, as engine.cam.compute
    .gradients returns them, from the cache or ONE forward + backward pass that yields
    the gradient at every spatial layer; None when that does not fit the budget."""
    from ..cam import targets

    if len(images) != 1 or not usable(m) or layer not in state(m).path_set:
        return None
    x = m.prepare(images[0])
    key = _key(m, x)
    acts = STORE.get(("acts",) + key)
    if acts is not None:
        unit, sign, _ = targets.select_np(acts["logits"], unit, sign, m.head.binary_sigmoid)
        grads = STORE.get(("grads",) + key + (int(unit[0]), float(sign[0])))
        if grads is not None:
            return (acts["acts"][layer], acts["logits"], grads["g"][layer], unit, sign,
                    grads["score"])
    if not plan(m, x.shape[1:3]).all_layers:
        return None
    acts, grads = _gradient_pass(m, x, key, unit, sign)
    return (acts["acts"][layer], acts["logits"], grads["g"][layer], grads["unit"],
            grads["sign"], grads["score"])


def cached_activations(m, image, paths) -> dict | None:
    """{path: (H, W, C)} from the cache only — never a pass, so any thread may ask (the
    bridge's fast lane); None when not cached."""
    st = state(m)
    if not usable(m) or any(p not in st.path_set for p in paths):
        return None
    entry = STORE.get(("acts",) + _key(m, m.prepare(image)))
    return None if entry is None else {p: entry["acts"][p][0] for p in paths}


def cached_gradients(m, image, layer: str, unit: np.ndarray, sign: np.ndarray):
    """gradients() from the cache only (never a pass; any thread), or None."""
    from ..cam import targets

    if not usable(m) or layer not in state(m).path_set:
        return None
    key = _key(m, m.prepare(image))
    acts = STORE.get(("acts",) + key)
    if acts is None:
        return None
    unit, sign, _ = targets.select_np(acts["logits"], unit, sign, m.head.binary_sigmoid)
    grads = STORE.get(("grads",) + key + (int(unit[0]), float(sign[0])))
    if grads is None:
        return None
    return (acts["acts"][layer], acts["logits"], grads["g"][layer], unit, sign, grads["score"])


def has_activations(m, image) -> bool:
    return usable(m) and ("acts",) + _key(m, m.prepare(image)) in STORE


def has_gradients(m, image, unit: int, sign: float) -> bool:
    return usable(m) and ("grads",) + _key(m, m.prepare(image)) + (int(unit), float(sign)) in STORE


# -- the passes ---------------------------------------------------------------------------
def _activation_entry(m, x: np.ndarray):
    key = _key(m, x)
    entry = STORE.get(("acts",) + key)
    if entry is not None:
        return entry
    if not plan(m, x.shape[1:3]).all_layers:
        return None
    acts, logits, probs = (_fn(m, "record")(x))
    m.passes["forward"] += 1
    entry = {"acts": _frozen({p: _view(a) for p, a in acts.items()}),
             "logits": logits.numpy(), "probs": probs.numpy()}
    _store(m, ("acts",) + key, entry, x)
    return entry


def _gradient_pass(m, x, key, unit, sign):
    out = _fn(m, "gradients")(x, np.asarray(unit, np.int32), np.asarray(sign, np.float32))
    acts, logits, probs, g, unit, sign, score = out
    m.passes["forward"] += 1
    m.passes["backward"] += 1
    acts = {"acts": _frozen({p: _view(a) for p, a in acts.items()}),
            "logits": logits.numpy(), "probs": probs.numpy()}
    unit, sign = unit.numpy(), sign.numpy()
    grads = {"g": _frozen({p: _view(a) for p, a in g.items()}), "score": score.numpy(),
             "unit": unit, "sign": sign}
    _store(m, ("acts",) + key, acts, x)
    STORE.put(("grads",) + key + (int(unit[0]), float(sign[0])), grads)
    return acts, grads


def _store(m, key, entry, x) -> None:
    st = state(m)
    if st.density is None:
        st.density = sum(a.nbytes for a in entry["acts"].values()) / float(x.shape[1] * x.shape[2])
    STORE.put(key, entry)


def ensure(m, image, unit: int | None = None, sign: float = 1.0) -> bool:
    """Prefetch one thing: the image's activations (unit None), or the gradients for
    (unit, sign). One pass at most; False if nothing was (or could be) computed."""
    if not usable(m):
        return False
    x = m.prepare(image)
    key = _key(m, x)
    hw = x.shape[1:3]
    if not plan(m, hw).all_layers:
        return False
    per = bytes_per_image(m, hw) or 0
    if unit is None:
        if ("acts",) + key in STORE or not STORE.fits(per, evicting=False):
            return False
        return _activation_entry(m, x) is not None
    if ("grads",) + key + (int(unit), float(sign)) in STORE or not STORE.fits(2 * per, evicting=False):
        return False
    if not m.head.classifier:
        return False
    _gradient_pass(m, x, key, np.array([unit], np.int32), np.array([sign], np.float32))
    return True


def warm_up(m) -> Plan:
    """Trace the all-layer passes on a blank image of the model's input size (at model
    load, on the engine thread), so the first real image pays no tracing. Nothing is
    cached; the plan (and its note for the status bar) is returned."""
    h, w, c = m.input_shape
    hw = (h or 64, w or 64)
    p = plan(m, hw)
    if not usable(m) or not p.all_layers:
        return p
    x = np.zeros((1,) + hw + (c or 3,), np.float32)
    _fn(m, "record")(x)
    if m.head.classifier:
        _fn(m, "gradients")(x, np.array([-1], np.int32), np.ones(1, np.float32))
    return p


def _fn(m, kind: str):
    st = state(m)
    fn = st.fns.get(kind)
    if fn is None:
        fn = st.fns[kind] = _build(m, st.paths, gradients=kind == "gradients")
    return fn


def _build(m, paths, gradients: bool):
    import keras
    import tensorflow as tf

    from ..cam import targets
    from ..hooks import Intercept, first_output

    model, index, binary = m.keras_model, m.layer_index, m.head.binary_sigmoid
    # the head's own softmax / sigmoid ("none": a model without a classifier head)
    squash = keras.activations.get(m.head.activation if m.head.activation in ("softmax", "sigmoid")
                                   else "linear")

    def run(x, tape=None):
        with Intercept(model, record=paths, logits=True, index=index, tape=tape) as ic:
            logits = first_output(model(x, training=False))
        acts = {p: ic.outputs[p] for p in paths if p in ic.outputs}
        return acts, logits, squash(logits)

    if not gradients:
        @tf.function(reduce_retracing=True)
        def record(x):
            return run(x)

        return record

    @tf.function(reduce_retracing=True)
    def all_gradients(x, unit, sign):
        # The tape watches only the recorded layer outputs (no variables): the backward
        # pass goes from the score down to the first spatial layer, once, and yields
        # d score / d A_l for every layer l (total derivatives through the layers above).
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            acts, logits, probs = run(x, tape)
            unit, sign, score = targets.select_tf(logits, unit, sign, binary)
            total = tf.reduce_sum(score)
        g = tape.gradient(total, acts, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return acts, logits, probs, g, unit, sign, score

    return all_gradients
