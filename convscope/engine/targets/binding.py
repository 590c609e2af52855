"""`bind`: a parsed target (engine.targets.spec) checked against one model and images --
each bad target one clear line -- and turned into the class path's (unit, sign) arrays or
a scorer (engine.targets.scorers, where each kind's definition stands)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError
from . import outputs as outs_mod
from .scorers import Scorer, VectorOutput, Region, Unit, Similar, Callable
from .spec import FLAG, Target, parse

@dataclass
class Bound:
    """A target bound to a model (and images): either the class path (scorer None; unit,
    sign as engine.cam.targets.resolve gives them) or a Scorer."""

    target: Target
    scorer: Scorer | None
    unit: np.ndarray | None = None
    sign: np.ndarray | None = None

    @property
    def spec(self) -> str:
        return self.target.spec

    @property
    def layer(self) -> str | None:
        return None if self.scorer is None else self.scorer.layer

    def units(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(unit (n,) int32, sign (n,) float32) to start the passes from: the class path's,
        or the target's class C (-1: resolved in the graph, per image)."""
        if self.scorer is None:
            return self.unit, self.sign
        c = self.target.cls if self.target.kind in ("output", "region", "mask") else None
        return np.full(n, -1 if c is None else int(c), np.int32), np.ones(n, np.float32)

    def confidence(self, m, x: np.ndarray) -> tuple[np.ndarray, str]:
        """(the target's confidence per image of the prepared batch x, what it is): its
        bounded confidence where it has one, else its score."""
        from ..cam import targets as ct

        unit, sign = self.units(len(x))
        if self.scorer is None:
            logits, _ = m.forward(x, logits=True)
            unit, sign, _ = ct.select_np(logits, unit, sign, m.head.binary_sigmoid)
            what = ("the head's probability" if m.head.activation in ("softmax", "sigmoid")
                    else "none: the raw score")
            return ct.probability_np(logits, unit, sign, m.head.activation), what
        from .run import scores

        return scores(m, self.scorer, x, unit, sign)[3], self.scorer.confidence_name


def bind(m, target, images=()) -> Bound:
    """Check `target` (a spec, Target or callable) against model m and the images explained;
    UserError (one line) when it does not fit."""
    from .. import images as image_io

    t = parse(target)
    m.require_layers("targets")
    imgs = image_io.as_images(images) if images is not None and not (
        isinstance(images, (list, tuple)) and not images) else []
    n = max(1, len(imgs))
    names = outs_mod.names_of(m)
    if t.kind == "class":
        return _class_path(m, t, t.cls, n)
    if t.kind == "value":
        return _value(m, t, n)
    if t.kind == "output":
        h = outs_mod.head(m, t.output)
        if h.spatial:
            raise UserError(f"{FLAG} {t.spec}: output {h.name!r} is per pixel "
                            f"({'x'.join(map(str, h.shape))}); use region:x0,y0,x1,y1[:C] "
                            "or mask:FILE.png[:C]")
        if h.index == 0 and m.head.classifier:
            return _class_path(m, t, t.cls, n)
        k = h.classes
        if t.cls is not None and not 0 <= t.cls < k:
            raise UserError(f"{FLAG} {t.spec}: output {h.name!r} has {k} units/classes "
                            f"(0 to {k - 1}), not {t.cls}")
        return Bound(t, VectorOutput(t, names, h))
    if t.kind in ("region", "mask"):
        return Bound(t, _region(m, t, names, imgs))
    if t.kind == "unit":
        info = _layer(m, t, t.layer)
        shape = tuple(info.output_shape or ())
        if len(shape) not in (1, 3):
            raise UserError(f"{FLAG} {t.spec}: layer {t.layer!r} has a {len(shape)}-axis output; "
                            "unit: needs a (H, W, C) or vector layer")
        if info.class_name == "InputLayer":
            raise UserError(f"{FLAG} {t.spec}: {t.layer!r} is the model's input, not a layer "
                            "it computes")
        k = shape[-1]
        if k is not None and not 0 <= t.channel < k:
            raise UserError(f"{FLAG} {t.spec}: layer {t.layer!r} has {k} channels "
                            f"(0 to {k - 1}), not {t.channel}")
        if t.at is not None:
            if len(shape) != 3:
                raise UserError(f"{FLAG} {t.spec}: @y,x needs a spatial layer")
            for v, size, axis in ((t.at[0], shape[0], "y"), (t.at[1], shape[1], "x")):
                if v < 0 or (size is not None and v >= size):
                    raise UserError(f"{FLAG} {t.spec}: {axis}={v} is outside the layer's "
                                    f"{shape[0]}x{shape[1]} grid")
        return Bound(t, Unit(t, names, 4 if len(shape) == 3 else 2))
    if t.kind == "similar":
        return Bound(t, _similar(m, t, names, imgs))
    if t.kind == "callable":
        return Bound(t, Callable(t, names))
    raise UserError(f"{FLAG} {t.spec}: unknown target kind")


def _layer(m, t, path):
    try:
        return m.layer(path)
    except UserError as exc:
        raise UserError(f"{FLAG} {t.spec}: {exc}") from None


def _class_path(m, t, cls, n) -> Bound:
    from ..cam import targets as ct

    m.require_classifier(f"{FLAG} {t.spec}")
    unit, sign, _ = ct.resolve(m, cls, n)
    return Bound(t, None, unit, sign)


def _value(m, t, n) -> Bound:
    h = m.head
    if not h.classifier:
        raise UserError(f"{FLAG} {t.spec}: this model's output is {h.describe_output()}, not "
                        "a vector of values; use region:, unit: or similar:")
    if h.kind not in ("regression", "logits"):
        raise UserError(f"{FLAG} {t.spec}: value is for a regression output; this model's "
                        f"head is {h.kind} (a classifier): use class:C (or --head regression)")
    if not 0 <= t.cls < h.units:
        raise UserError(f"{FLAG} {t.spec}: the output has {h.units} unit(s) "
                        f"(0 to {h.units - 1}), not {t.cls}")
    return Bound(t, None, np.full(n, t.cls, np.int32), np.full(n, t.sign, np.float32))


def _input_hw(m, imgs) -> tuple:
    from .. import images as image_io

    H, W = m.input_shape[:2]
    if imgs:
        H, W = image_io.fitted_size(imgs[0], H, W)
    if H is None or W is None:
        raise UserError(f"{FLAG}: a free-size model needs the image to place a region on")
    return int(H), int(W)


def _output_grid(m, h, H, W) -> tuple:
    gh, gw = h.shape[0], h.shape[1]
    if gh is None or gw is None:  # free size: ask the model
        import tensorflow as tf

        C = m.input_shape[2] or 3
        y = m.keras_model(tf.zeros((1, H, W, C)), training=False)
        gh, gw = (int(d) for d in outs_mod.as_dict(y, outs_mod.names_of(m))[h.name].shape[1:3])
    return int(gh), int(gw)


def box_mask(box, H: int, W: int, gh: int, gw: int) -> np.ndarray:
    """(gh, gw) float32: 1 where the output pixel's centre (in input pixels) is in the box
    [x0, x1) x [y0, y1)."""
    x0, y0, x1, y1 = box
    cy = (np.arange(gh) + 0.5) * H / gh
    cx = (np.arange(gw) + 0.5) * W / gw
    rows = (cy >= y0) & (cy < y1)
    cols = (cx >= x0) & (cx < x1)
    return (rows[:, None] & cols[None, :]).astype(np.float32)


def _region(m, t, names, imgs) -> Region:
    h = outs_mod.head(m, None, spatial=True)
    H, W = _input_hw(m, imgs)
    gh, gw = _output_grid(m, h, H, W)
    if t.kind == "region":
        x0, y0, x1, y1 = t.box
        if x0 < 0 or y0 < 0 or x1 > W or y1 > H:
            raise UserError(f"{FLAG} {t.spec}: the box is outside the output: coordinates are "
                            f"input pixels, x in [0, {W}] and y in [0, {H}]")
        mask = box_mask(t.box, H, W, gh, gw)
    else:
        from .. import images as image_io
        import cv2

        import os

        if not os.path.isfile(t.path):
            raise UserError(f"{FLAG} {t.spec}: no mask image {t.path!r}")
        px = np.asarray(image_io.load_image(t.path).pixels)
        on = (px.max(axis=-1) if px.ndim == 3 else px) > 0
        mask = cv2.resize(on.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST
                          ).astype(np.float32)
    if not mask.any():
        raise UserError(f"{FLAG} {t.spec}: the region covers no pixel of the {gh}x{gw} output "
                        f"(each output pixel is {H / gh:g}x{W / gw:g} input pixels)")
    k = h.classes
    if t.cls is not None and not 0 <= t.cls < k:
        raise UserError(f"{FLAG} {t.spec}: output {h.name!r} has {k} classes (0 to {k - 1}), "
                        f"not {t.cls}")
    # the map's default layer: the segmentation model's own default (engine.default_layer:
    # its bottleneck, not the layer under the output, where a region's Grad-CAM is only
    # the class's logit map again); a spatial output after a classifier: the layer feeding it
    layer = None if h.index == 0 else _feeding_layer(m, h.index, spatial=True)
    return Region(t, names, h, mask, layer)


def _feeding_layer(m, output: int = 0, spatial: bool = False) -> str | None:
    """The path of the layer whose output feeds the layer making output `output` (with
    spatial=True: only if that layer's output is (H, W, C))."""
    from ..hooks import terminal_layers

    layers = terminal_layers(m.keras_model)
    last = layers[min(output, len(layers) - 1)]
    try:
        src = last.input._keras_history.operation
    except Exception:
        return None
    for path, layer in m.layer_index.items():
        if layer is src:
            if spatial and not m.layer(path).spatial:
                return None
            return path
    return None


def _similar(m, t, names, imgs) -> Similar:
    import os

    from .. import images as image_io
    from ..hooks import Intercept

    if not os.path.isfile(t.path):
        raise UserError(f"{FLAG} {t.spec}: no reference image {t.path!r}")
    ref = image_io.as_images(t.path)[0]
    layer, output = t.layer, None
    if layer is not None:
        info = _layer(m, t, layer)
        if info.class_name == "InputLayer":
            raise UserError(f"{FLAG} {t.spec}: {layer!r} is the model's input")
    elif m.head.classifier and m.head.kind in ("softmax", "sigmoid", "binary-logit"):
        layer = _feeding_layer(m)
        if layer is None:
            raise UserError(f"{FLAG} {t.spec}: no layer found before the head; name one "
                            "with similar:REF.png@LAYER")
    else:
        output = names[0]
    fixed = None not in m.input_shape[:2]
    if imgs and fixed and tuple(ref.size) != tuple(imgs[0].size):
        raise UserError(f"{FLAG} {t.spec}: the reference is {ref.size[1]}x{ref.size[0]} but the "
                        f"image is {imgs[0].size[1]}x{imgs[0].size[0]}; this model takes a fixed "
                        f"{m.input_shape[1]}x{m.input_shape[0]} input and would stretch them "
                        "differently: give a reference of the image's size")
    if imgs and not fixed and image_io.fitted_size(ref, None, None) != image_io.fitted_size(
            imgs[0], None, None) and (layer is not None and len(m.layer(layer).output_shape or ()) == 3):
        raise UserError(f"{FLAG} {t.spec}: the reference's size differs from the image's and "
                        f"{layer!r} is spatial, so their embeddings do not align; give a "
                        "reference of the same size or a vector layer")
    x = m.prepare([ref])
    with Intercept(m.keras_model, logits=True, index=m.layer_index,
                   record=(layer,) if layer else ()) as ic:
        y = m.keras_model(x, training=False)
    e = ic.outputs[layer] if layer else outs_mod.as_dict(y, names)[output]
    e = np.asarray(e)
    if not np.any(e):
        raise UserError(f"{FLAG} {t.spec}: the reference's embedding at "
                        f"{layer or output!r} is all zeros; a cosine similarity needs a non-zero one")
    return Similar(t, names, layer, output, e)
