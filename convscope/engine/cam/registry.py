"""The one table of map methods: name, aliases, title, tip, kind, what it needs, how it is
computed. Keras-free (numpy only), so the GUI and the CLI read names, titles and tips
from here before TensorFlow has loaded (tests/test_layering.py checks it in a subprocess).

How to add a method
-------------------
Add ONE `register(Method(...))` call below (or in your own module, named in ENTRY_MODULES at
the end of this file) and write its function:

- a channel weighting of the target layer's activations A (N, h, w, K) -- say which
  inputs it needs and give `weights`, a pure numpy function in engine/cam/weights.py:
      needs="gradients":   weights(A, g) -> (raw (N, h, w), channel weights (N, K) or None)
      needs="activations": weights(A) -> (raw, weights)
      needs="dense":       weights(A, dense_w) -> (raw, weights)   (GAP + Dense heads)
      needs="masked":      weights(A, channels, scores) -> (raw, weights)
                           (Score-CAM family: one masked forward pass per channel)
  That is all: engine/cam/runners.py runs the forward / backward passes (compiled, cached,
  nested layers, progress, cancel) and engine/cam/api.py normalises the maps.
- anything else (pixel attributions: saliency, SmoothGrad, Integrated Gradients, guided
  backprop, occlusion, RISE, Ablation-CAM ...): needs="compute" and
  `compute="convscope.engine.cam.your_module:function"` (a "module:function" string, imported only
  when the method runs, so this table stays light; a callable works too). The function is
  called as `function(ctx: Context) -> Maps` (see below); `ctx.options` holds the method's
  options with their defaults filled in, `ctx.progress(done, total)` reports progress and
  `ctx.cancel` is the CancelToken to check between steps. `kind="pixel"` says the map is
  at input resolution (layer=None unless `layer="any"`), `signed=True` that it keeps its
  sign (scaled by the largest magnitude to [-1, 1] rather than ReLU + min-max).

Per-method options are keyword arguments of compute_cam / ConvModel.cam: declare them
with their defaults in `options` (e.g. `{"samples": 50, "sigma": 0.15, "seed": 0}`); an
option some other method declares is accepted and ignored, an option no method declares is
a UserError. Spell the CLI flag the same (`--samples`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from ..errors import UserError
from . import weights as W

KINDS = ("cam", "pixel")
NEEDS = ("gradients", "activations", "dense", "masked", "compute")
LAYER_RULES = ("any", "gap", "none")
DEFAULT_METHOD = "gradcam"
DEFAULT_ALPHA = 0.4  # overlay opacity: the seeds' "40 % heatmap"
DEFAULT_COLORMAP = "jet"  # as the seeds
# Options every kind="cam" method takes (engine.attribution.smoothing): test-time
# augmentation and the first principal component of the weighted activations.
CAM_SMOOTHING = {"aug_smooth": False, "eigen_smooth": False}


@dataclass(frozen=True)
class Method:
    name: str  # canonical, as results and settings carry it
    title: str  # as the window shows it
    tip: str  # one sentence for tool tips
    needs: str  # see NEEDS and the module docstring
    weights: Callable | None = None  # for needs != "compute"
    compute: Callable | str | None = None  # for needs == "compute": fn(ctx) -> Maps
    kind: str = "cam"  # "cam": a map at the target layer's resolution; "pixel": input resolution
    signed: bool = False  # the map keeps its sign (pixel attributions such as IG)
    aliases: tuple = ()  # other spellings (the title and the name's own spellings always match)
    options: Mapping[str, Any] = field(default_factory=dict)  # option name -> default
    layer: str = "any"  # "any": a spatial layer (default rule); "gap": the layer GAP reads; "none"
    slow: bool = False  # one forward pass per channel / sample: the GUI streams its progress

    @property
    def all_options(self) -> dict:
        """Its options with their defaults, CAM smoothing included for kind="cam"."""
        return {**(CAM_SMOOTHING if self.kind == "cam" else {}), **self.options}

    def __post_init__(self):
        if self.kind not in KINDS or self.needs not in NEEDS or self.layer not in LAYER_RULES:
            raise ValueError(f"method {self.name}: bad kind/needs/layer "
                             f"({self.kind}, {self.needs}, {self.layer})")
        if (self.needs == "compute") != (self.compute is not None) or (
                self.needs != "compute" and self.weights is None):
            raise ValueError(f"method {self.name}: needs={self.needs!r} takes "
                             + ("compute=" if self.needs == "compute" else "weights="))
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def resolve_compute(self) -> Callable:
        """The compute function (imported now if it was given as 'module:function')."""
        if callable(self.compute):
            return self.compute
        import importlib

        module, _, attr = str(self.compute).partition(":")
        return getattr(importlib.import_module(module), attr)


class Context(NamedTuple):
    """What a method's compute function gets (engine.cam.api builds it)."""

    model: Any  # engine.model.ConvModel
    images: list  # engine.images.Image
    layer: str | None  # the target layer path (None for layer="none")
    unit: np.ndarray  # (N,) int32 output unit per image; -1: the top prediction
    sign: np.ndarray  # (N,) float32 sign applied to it (class 0 of a single sigmoid: -1)
    options: Mapping[str, Any]  # the method's options, defaults filled in
    progress: Callable | None  # progress(done, total)
    cancel: Any  # engine.cancel.CancelToken or None
    # a bound non-class target (engine.targets.scorers.Scorer), None: the class (unit, sign)
    scorer: Any = None


class Maps(NamedTuple):
    """What a method computes for N images (before ReLU / min-max or signed scaling)."""

    raw: np.ndarray  # (N, h, w) float32
    weights: np.ndarray | None  # (N, K) channel weights, or None
    unit: np.ndarray  # (N,) resolved output unit
    sign: np.ndarray  # (N,)
    score: np.ndarray  # (N,) the score explained (pre-softmax / pre-sigmoid)
    info: list | None = None  # per image: a dict of method details (engine.cam.result.CamResult.info)
    display: list | None = None  # per image: the map to draw at input size, or None


_METHODS: dict[str, Method] = {}
_KEYS: dict[str, str] = {}  # spelling key -> canonical name


def key(text: str) -> str:
    """Spelling-insensitive key: any case, with or without - _ and spaces, + as p."""
    return re.sub(r"[-_ ]", "", str(text).strip().lower()).replace("+", "p")


def register(method: Method) -> Method:
    if method.name in _METHODS:
        raise ValueError(f"method {method.name!r} is registered twice")
    spellings = {key(s) for s in (method.name, method.title, *method.aliases)}
    taken = {s: _KEYS[s] for s in spellings if s in _KEYS}
    if taken:
        raise ValueError(f"method {method.name!r}: spellings already taken: {taken}")
    _METHODS[method.name] = method
    _KEYS.update({s: method.name for s in spellings})
    return method


def names(kind: str | None = None) -> tuple[str, ...]:
    """Canonical names in registration order (optionally only one kind)."""
    return tuple(n for n, m in _METHODS.items() if kind is None or m.kind == kind)


def get(method: str) -> Method:
    """The Method named `method` (any spelling, or its title); UserError listing them."""
    found = find(method)
    if found is None:
        raise UserError(f"unknown CAM method {method!r}; choose one of {', '.join(names())}")
    return _METHODS[found]


def find(wanted: str, among=None) -> str | None:
    """The canonical name `wanted` spells (any case, - _ + spaces, or the title), or None;
    with `among`, only a name in it."""
    name = _KEYS.get(key(wanted))
    if name is None or (among is not None and name not in among):
        return None
    return name


def title(method: str) -> str:
    m = _METHODS.get(method)
    return m.title if m else method


def tip(method: str) -> str:
    m = _METHODS.get(method)
    return m.tip if m else method


def option_names() -> frozenset:
    """Every option some method declares (compute_cam accepts these and no others)."""
    return frozenset(o for m in _METHODS.values() for o in m.all_options)


# -- the methods (engine/cam/weights.py holds the formulas) --------------------------------
register(Method(
    "cam", "CAM", "CAM: the Dense weights of the class × the last feature maps (GAP + Dense "
    "heads only)", needs="dense", weights=W.cam, layer="gap"))
register(Method(
    "gradcam", "Grad-CAM", "Grad-CAM: feature maps weighted by the mean gradient of the class "
    "score", needs="gradients", weights=W.gradcam))
register(Method(
    "gradcam++", "Grad-CAM++", "Grad-CAM++: pixel-wise weighted gradients (better for several "
    "objects)", needs="gradients", weights=W.gradcam_pp, aliases=("gradcamplusplus",)))
register(Method(
    "scorecam", "Score-CAM", "Score-CAM: each feature map masks the image; weight = the class "
    "probability (one forward pass per channel — slow on big layers)", needs="masked",
    weights=W.scorecam, options={"max_n": None, "chunk_size": None}, slow=True))
register(Method(
    "faster-scorecam", "Faster Score-CAM", "Faster Score-CAM: Score-CAM on the N channels with "
    "the largest spread", needs="masked", weights=W.scorecam,
    options={"max_n": 10, "chunk_size": None}, slow=True))
register(Method(
    "layercam", "LayerCAM", "LayerCAM: positive gradients weight each position (works on early "
    "layers)", needs="gradients", weights=W.layercam))
register(Method(
    "hirescam", "HiResCAM", "HiResCAM: gradients × activations element-wise (faithful to the "
    "model)", needs="gradients", weights=W.hirescam))
register(Method(
    "xgradcam", "XGrad-CAM", "XGrad-CAM: gradients weighted by normalised activations",
    needs="gradients", weights=W.xgradcam))
register(Method(
    "eigencam", "Eigen-CAM", "Eigen-CAM: first principal component of the feature maps "
    "(class-agnostic)", needs="activations", weights=W.eigencam))

# -- methods defined in other modules -----------------------------------------------------
# Each module below calls register() when imported. The registry names them here and loads
# them in one function, by name: it imports none of them (no import circle: they import
# this module). Keep them free of module-level TensorFlow imports, so the table stays light.
ENTRY_MODULES = (
    "convscope.engine.attribution.entries",  # pixel attributions and Ablation-CAM (issue 10)
)


def load_entries() -> None:
    import importlib

    for module in ENTRY_MODULES:
        importlib.import_module(module)


load_entries()
