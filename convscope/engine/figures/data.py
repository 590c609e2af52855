"""The arrays a figure draws, computed by the engine's own functions (no second
implementation of any method): ConvModel.cam, .activations, .filter_patterns and
engine.cam.faithfulness.curves.

`compute(model, spec, images, known=...)` returns FigureData. Maps the caller already has
(the window's views) are passed in `known` and reused instead of recomputed.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from .. import cancel as cancel_mod
from ..errors import UserError
from . import naming
from .spec import CAM_KINDS, FigureSpec

DEFAULT_FILTERS = 16


@dataclass
class CamGrid:
    """rows x columns of maps. cells[r][c] is a CamResult, or the reason (str) a method
    does not apply. row_class / row_conf: each row's class index and its confidence."""

    col_titles: list
    cells: list
    row_class: list
    row_conf: list


@dataclass
class FigureData:
    spec: FigureSpec
    images: list  # engine.images.Image
    labels: list  # a name per class of the model
    conf_word: str = "p"  # "p" for a probability, "score" for a linear head
    grid: CamGrid | None = None
    activations: np.ndarray | None = None  # (H, W, C) float32
    channels: np.ndarray | None = None  # indices of the channels drawn
    patterns: np.ndarray | None = None  # (N, s, s, 3) uint8
    filters: list = field(default_factory=list)
    curves: dict = field(default_factory=dict)  # method -> {"deletion": (x, y), "insertion": ..}
    layer: str = ""
    target: str = ""  # the target explained (engine.targets), "" for classes

    def name(self, c) -> str:
        """What a map explains: the class's name, or the target's spec."""
        if self.target:
            return self.target
        return self.labels[c]

    def arrays(self) -> dict:
        """Every array drawn, by a file-name-safe name (for --npy-dir)."""
        out: dict = {}
        if self.grid is not None:
            for r, row in enumerate(self.grid.cells):
                for c, cell in enumerate(row):
                    if not isinstance(cell, str):
                        key = _safe(f"r{r}_{cell.method}_{cell.layer}_c{cell.class_index}")
                        out[f"heatmap_{key}"] = cell.heatmap.astype(np.float32)
            for i, im in enumerate(self.images):
                out[f"image_{i}"] = im.pixels
        if self.activations is not None:
            out["activations"] = self.activations.astype(np.float32)
            out["channels"] = np.asarray(self.channels, np.int64)
        if self.patterns is not None:
            out["patterns"] = self.patterns
            out["filters"] = np.asarray(self.filters, np.int64)
        for method, cv in self.curves.items():
            for mode in ("deletion", "insertion"):
                x, y = cv[mode]
                out[_safe(f"curve_{mode}_{method}")] = np.stack([x, y]).astype(np.float64)
        return out


@dataclass(frozen=True)
class KnownPatterns:
    """Filter patterns the caller already has (the Filters view), reused by a filters figure
    when the layer, filters, size, steps and mode match."""

    layer: str
    filters: tuple
    patterns: np.ndarray
    size: int
    steps: int | None
    mode: str


def image_key(image) -> str:
    """Identity of an image's pixels (SHA-1 of shape and bytes): same pixels, same key."""
    return pixels_key(image.pixels)


def pixels_key(pixels) -> str:
    h = hashlib.sha1(str(pixels.shape).encode())
    h.update(np.ascontiguousarray(pixels).tobytes())
    return h.hexdigest()


def compute(model, spec: FigureSpec, images: list, known=(), progress=None, cancel=None) -> FigureData:
    """The arrays of `spec` for `images` (engine.images.Image, in spec order)."""
    spec.check()
    labels = [model.label(i) for i in range(model.head.classes)]
    conf_word = "p" if model.head.activation in ("softmax", "sigmoid") else "score"
    data = FigureData(spec=spec, images=list(images), labels=labels, conf_word=conf_word)
    pool = _Known(known, getattr(model, "default_cam_layer", None))
    kind = spec.kind
    if kind in CAM_KINDS and not spec.target and not model.head.classifier:
        raise UserError(f"a {kind} figure explains a class, but this model has no classifier "
                        f"head (its output is {model.head.describe_output()}); give --target, "
                        "e.g. region:x0,y0,x1,y1[:C]")
    if spec.target and kind in CAM_KINDS:
        data.grid = _target_grid(model, spec, data.images, progress, cancel)
        first = next((c for row in data.grid.cells for c in row if not isinstance(c, str)), None)
        data.target = first.target if first is not None else spec.target
        data.conf_word = "score"
        if kind == "curves":
            data.curves = _curves(model, spec, data.images[0], data.grid, progress, cancel)
    elif kind in ("cam", "methods", "layers", "classes"):
        data.grid = _cam_grid(model, spec, data.images, pool, progress, cancel)
    elif kind == "curves":
        data.grid = _cam_grid(model, spec, data.images, pool, progress, cancel)
        data.curves = _curves(model, spec, data.images[0], data.grid, progress, cancel)
    elif kind == "activations":
        layer = spec.layers[0]
        model.layer(layer, spatial=True)
        act = model.activations(data.images[0], [layer])[layer]
        data.layer, data.activations = layer, np.asarray(act, np.float32)
        data.channels = top_channels(data.activations, spec.top)
    elif kind == "filters":
        layer = spec.layers[0]
        channels = model.layer(layer, spatial=True).channels
        filters = list(spec.filters) or list(range(min(DEFAULT_FILTERS, channels)))
        data.layer, data.filters = layer, filters
        same = [k for k in known or () if isinstance(k, KnownPatterns) and
                (k.layer, tuple(k.filters), k.size, k.steps, k.mode) ==
                (layer, tuple(filters), spec.filter_size, spec.filter_steps, spec.filter_mode)]
        data.patterns = same[0].patterns if same else model.filter_patterns(
            layer, filters=filters, size=spec.filter_size, steps=spec.filter_steps,
            mode=spec.filter_mode, seed=spec.seed, cancel=cancel,
            progress=(lambda step, steps, *_: progress(step, steps)) if progress else None)
    cancel_mod.check(cancel)
    return data


def top_channels(act: np.ndarray, top: int | None) -> np.ndarray:
    """All channel indices, or the `top` with the largest mean activation (largest first;
    ties by index)."""
    c = act.shape[-1]
    if top is None or top >= c:
        return np.arange(c)
    means = act.reshape(-1, c).mean(axis=0)
    order = np.lexsort((np.arange(c), -means))
    return order[:top]


# -- class activation maps ------------------------------------------------------------------
class _Known:
    """Maps the caller already has, found by image, method, layer and class."""

    def __init__(self, results, default_layer):
        # CamResults (API callers) or the window's CamReady messages (plain arrays: the
        # map and the pixels it was drawn over)
        self.items = []
        for r in results or ():
            if r is None or getattr(r, "heatmap", None) is None:
                continue
            pixels = r.image.pixels if hasattr(r, "image") else getattr(r, "pixels", None)
            if pixels is not None:
                self.items.append((pixels_key(pixels), r))
        self.default_layer = default_layer

    def find(self, image, method, layer, class_index):
        if not self.items:
            return None
        from ..cam import registry

        key = image_key(image)
        layer = layer or self.default_layer
        # CAM has one layer (the one feeding global pooling), whichever was asked, and the
        # pixel attributions none
        any_layer = registry.get(method).layer in ("gap", "none")
        for k, r in self.items:
            if k == key and r.method == method and r.class_index == class_index and (
                    r.layer == layer or any_layer):
                return r if hasattr(r, "image") else _as_result(r, image)
        return None


def _as_result(ready, image):
    """A CamResult (what the figure draws: upsampled map, overlay) around a CamReady's map."""
    from ..cam import registry
    from ..cam.result import CamResult

    spec = registry.get(ready.method)  # how the map is drawn: a CAM, a pixel map, signed
    return CamResult(heatmap=ready.heatmap, raw=ready.heatmap, method=ready.method,
                     layer=ready.layer, class_index=ready.class_index, label=ready.label,
                     score=ready.score, image=image, weights=ready.weights, kind=spec.kind,
                     signed=spec.signed, display=ready.display)


def _confidences(model, images, classes):
    """(class index, confidence) per image for `classes` (None: the top prediction)."""
    from ..cam import targets

    unit, sign, _ = targets.resolve(model, list(classes), len(images))
    logits, _ = model.forward(model.prepare(images), logits=True)
    unit, sign, _ = targets.select_np(logits, unit, sign, model.head.binary_sigmoid)
    conf = targets.probability_np(logits, unit, sign, model.head.activation)
    binary = model.head.binary_sigmoid
    cls = [targets.class_of(int(u), float(s), binary) for u, s in zip(unit, sign)]
    return cls, [float(p) for p in conf]


def _cam_grid(model, spec, images, pool, progress, cancel) -> CamGrid:
    kind = spec.kind
    layer = spec.layers[0] if spec.layers and kind != "layers" else None
    if kind == "classes":
        img = images[0]
        if spec.classes:
            wanted = [model.class_index(c) for c in spec.classes]
        else:
            k = min(spec.top_classes or 3, model.head.classes)
            wanted = [p.index for p in model.predict(img, top=k)]
        cls, conf = _confidences(model, [img] * len(wanted), wanted)
        method = naming.canonical(spec.methods[0])
        extra = {"max_n": spec.max_n} if spec.max_n else {}
        cells = [[_one(model, pool, img, method, layer, c, progress, cancel, extra) for c in cls]]
        titles = [f"{model.label(c)} ({_fmt_conf(p, model)})" for c, p in zip(cls, conf)]
        return CamGrid(titles, cells, [cls[0]], [conf[0]])

    if kind == "methods" and len(spec.classes) == len(images) and len(images) > 1:
        wanted = list(spec.classes)
    else:
        wanted = [spec.classes[0] if spec.classes else None] * len(images)
    wanted = [None if c is None else model.class_index(c) for c in wanted]
    cls, conf = _confidences(model, images, wanted)
    if kind == "layers":
        method = naming.canonical(spec.methods[0])
        for path in spec.layers:
            model.layer(path, spatial=True)
        extra = {"max_n": spec.max_n} if spec.max_n else {}
        cells = [[_one(model, pool, images[0], method, path, cls[0], progress, cancel, extra)
                  for path in spec.layers]]
        return CamGrid(list(spec.layers), cells, cls, conf)
    methods = [naming.canonical(m) for m in spec.methods]
    if layer is not None:
        model.layer(layer, spatial=True)
    extra = {"max_n": spec.max_n} if spec.max_n else {}
    columns = [_column(model, pool, images, m, layer, cls, progress, cancel, extra) for m in methods]
    cells = [[col[r] for col in columns] for r in range(len(images))]
    return CamGrid([naming.title(m) for m in methods], cells, cls, conf)


def _target_grid(model, spec, images, progress, cancel) -> CamGrid:
    """The maps of a target (engine.targets) instead of classes: checked once against the
    model (a bad target is an error, not a cell), then one map per (image, method/layer)."""
    from .. import targets

    if spec.kind == "classes":
        raise UserError("--target explains one target; a classes figure compares classes")
    bound = targets.bind(model, spec.target, images)
    target = bound.target
    extra = {"max_n": spec.max_n} if spec.max_n else {}

    def one(img, method, layer):
        cancel_mod.check(cancel)
        try:
            return model.cam(img, method=method, layer=layer, target=target, cancel=cancel,
                             progress=progress, **extra)
        except UserError as exc:
            return f"{naming.title(method)} does not apply here: {exc}"

    layer = spec.layers[0] if spec.layers and spec.kind != "layers" else None
    if spec.kind == "layers":
        method = naming.canonical(spec.methods[0])
        cells = [[one(images[0], method, path) for path in spec.layers]]
        titles = list(spec.layers)
    else:
        methods = [naming.canonical(m) for m in spec.methods]
        cells = [[one(img, m, layer) for m in methods] for img in images]
        titles = [naming.title(m) for m in methods]
    cls, conf = [], []
    for row in cells:
        first = next((c for c in row if not isinstance(c, str)), None)
        cls.append(-1 if first is None else int(first.class_index))
        conf.append(float("nan") if first is None else float(first.score))
    return CamGrid(titles, cells, cls, conf)


def _column(model, pool, images, method, layer, classes, progress, cancel, extra) -> list:
    """One method over every image: known maps reused, the rest computed as one batch."""
    out = [pool.find(im, method, layer, c) for im, c in zip(images, classes)]
    todo = [i for i, r in enumerate(out) if r is None]
    if todo:
        cancel_mod.check(cancel)
        try:
            got = model.cam([images[i] for i in todo], method=method, layer=layer,
                            class_index=[classes[i] for i in todo], cancel=cancel,
                            progress=progress, **extra)
        except UserError as exc:  # e.g. CAM on a head without global average pooling
            return [f"{naming.title(method)} does not apply here: {exc}"] * len(images)
        for i, r in zip(todo, got):
            out[i] = r
    return out


def _one(model, pool, image, method, layer, class_index, progress, cancel, extra):
    found = pool.find(image, method, layer, class_index)
    if found is not None:
        return found
    cancel_mod.check(cancel)
    try:
        return model.cam(image, method=method, layer=layer, class_index=class_index,
                         cancel=cancel, progress=progress, **extra)
    except UserError as exc:
        return f"{naming.title(method)} does not apply here: {exc}"


def _fmt_conf(p: float, model) -> str:
    return f"p = {p:.2f}" if model.head.activation in ("softmax", "sigmoid") else f"score {p:.3g}"


def _curves(model, spec, image, grid, progress, cancel) -> dict:
    """Deletion and insertion curves (engine.cam.faithfulness, RISE's substrates)."""
    from ..cam import faithfulness

    out = {}
    for title, cell in zip(grid.col_titles, grid.cells[0]):
        if isinstance(cell, str):
            continue
        entry = {}
        for mode in ("deletion", "insertion"):
            cancel_mod.check(cancel)
            if getattr(cell, "target", ""):  # the target's own confidence (engine.targets)
                x, y = faithfulness.curves(model, [image], [cell.heatmap], mode=mode,
                                           steps=spec.curve_steps, cancel=cancel,
                                           target=cell.target)
            else:
                x, y = faithfulness.curves(model, [image], [cell.heatmap], cell.class_index,
                                           mode=mode, steps=spec.curve_steps, cancel=cancel)
            entry[mode] = (x, y[0])
            entry[mode + "_auc"] = float(faithfulness.auc(y[0]))
        entry["title"] = title
        out[cell.method] = entry
    if not out:
        raise UserError("none of the methods applies to this model; no curves to draw")
    return out


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)
