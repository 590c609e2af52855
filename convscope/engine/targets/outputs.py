"""A model's outputs for targets and for the window: every head by name, a segmentation
output's predicted mask, and boxes between image and model-input pixels. No Qt.

    heads(m) -> [OutputHead(name, shape, activation, spatial, classes), ...]
    predicted_mask(m, image, output=None) -> PredictedMask
        .classes (H, W) int32 at the image's own size (argmax per pixel, nearest resize),
        .names (one per class), .output, .grid (h, w of the output), .input_hw
    image_box_to_input(m, image, box) -> (x0, y0, x1, y1) in model-input pixels, what
        `region:` takes (engine.targets.spec)
    as_dict(m, y) -> {output name: tensor}  (a model call's outputs, in a graph)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError


@dataclass(frozen=True)
class OutputHead:
    name: str  # the layer making it (output:NAME)
    shape: tuple  # without the batch axis (None: free)
    activation: str  # softmax | sigmoid | linear (its own squashing, stripped for targets)
    index: int  # position among the model's outputs
    per_pixel: bool = False  # its layer scores classes per pixel (engine.hooks.scores_per_pixel)

    @property
    def spatial(self) -> bool:
        """A per-pixel output (N, h, w, k)."""
        return len(self.shape) == 3

    @property
    def segmentation(self) -> bool:
        """A spatial output that scores classes per pixel: squashed per pixel (softmax /
        sigmoid), or the linear logits of a convolution. Not a headless backbone's feature
        map (VGG16 without its top ends in MaxPooling2D, ResNet50 in a ReLU), whose channels
        are features, not classes: no mask, no default region there."""
        return self.spatial and self.per_pixel

    @property
    def classes(self) -> int:
        """Classes per pixel (spatial) or units (vector); 2 for one sigmoid unit."""
        k = int(self.shape[-1]) if self.shape and self.shape[-1] is not None else 0
        return 2 if (k == 1 and self.activation == "sigmoid") else k

    def as_dict(self) -> dict:
        return {"name": self.name, "shape": [None if s is None else int(s) for s in self.shape],
                "activation": self.activation, "spatial": self.spatial, "classes": self.classes,
                "segmentation": self.segmentation}


def heads(m) -> list[OutputHead]:
    """Every output of the model, in order."""
    from ..hooks import layer_activation, scores_per_pixel, terminal_layers

    m.require_layers("targets")
    model = m.keras_model
    outs = list(getattr(model, "outputs", None) or [])
    names = names_of(m)
    layers = terminal_layers(model)
    if len(layers) < len(outs):
        layers = layers + layers[-1:] * (len(outs) - len(layers))
    return [OutputHead(names[i], tuple(None if d is None else int(d) for d in t.shape[1:]),
                       layer_activation(layers[i]), i, scores_per_pixel(layers[i]))
            for i, t in enumerate(outs)]



def names_of(m) -> tuple:
    names = tuple(m.describe().output_names) if hasattr(m, "describe") else ()
    return names or ("output",)


def head(m, name: str | None = None, spatial: bool | None = None) -> OutputHead:
    """The output NAME (default: the first, or the first spatial one with spatial=True);
    UserError naming the outputs."""
    hs = heads(m)
    listed = ", ".join(f"{h.name} ({'x'.join(str(s) for s in h.shape)})" for h in hs)
    if name is not None:
        for h in hs:
            if h.name == name:
                return h
        raise UserError(f"no output {name!r} in this model; its outputs: {listed}")
    if spatial:
        for h in hs:
            if h.spatial:
                return h
        raise UserError(f"this model has no spatial (segmentation) output; its outputs: {listed}")
    return hs[0]


def as_dict(y, names) -> dict:
    """A model call's outputs as {name: tensor} (a tensor, a list or a dict)."""
    if isinstance(y, dict):
        return dict(y)
    if isinstance(y, (list, tuple)):
        return {n: t for n, t in zip(names, y)}
    return {names[0]: y}


@dataclass(frozen=True)
class PredictedMask:
    classes: np.ndarray  # (H, W) int32 at the image's size: the predicted class per pixel
    names: tuple  # one name per class
    output: str
    grid: tuple  # (h, w) of the output
    input_hw: tuple  # (H, W) the model saw

    def counts(self) -> dict:
        """{class index: pixels} of the classes present."""
        idx, n = np.unique(self.classes, return_counts=True)
        return {int(i): int(c) for i, c in zip(idx, n)}


def predicted_mask(m, image, output: str | None = None) -> PredictedMask:
    """The predicted class per pixel of a spatial output, resized (nearest) to the image's
    own size, with class names (the labels file when its length matches, else "class i")."""
    import cv2

    from .. import images as image_io
    from ..hooks import Intercept

    h = head(m, output, spatial=output is None)
    if not h.spatial:
        raise UserError(f"output {h.name!r} is not spatial ({'x'.join(map(str, h.shape))}); "
                        "a predicted mask needs a per-pixel output")
    im = image_io.as_images(image)[0]
    x = m.prepare([im])
    model, names = m.keras_model, names_of(m)
    with Intercept(model, logits=True, index=m.layer_index):
        y = as_dict(model(x, training=False), names)[h.name]
    z = np.asarray(y)[0]
    cls = (z[..., 0] >= 0).astype(np.int32) if z.shape[-1] == 1 else z.argmax(-1).astype(np.int32)
    H, W = im.size
    big = cv2.resize(cls.astype(np.uint8 if cls.max() < 256 else np.float32), (W, H),
                     interpolation=cv2.INTER_NEAREST).astype(np.int32)
    n = h.classes  # the labels file names a segmentation output's classes too
    labels = next((lab for lab in (getattr(m, "labels", None), getattr(m, "sidecar_labels", None))
                   if lab and len(lab) == n), None)
    class_names = (tuple(labels) if labels and len(labels) == n
                   else tuple(f"class {i}" for i in range(n)))
    return PredictedMask(big, class_names, h.name, tuple(z.shape[:2]), tuple(x.shape[1:3]))


def image_box_to_input(m, image, box) -> tuple:
    """A box (x0, y0, x1, y1) in the image's own pixels -> model-input pixels (the image is
    stretched to the input: engine.images.fit), rounded outwards."""
    from .. import images as image_io

    from .masks import box_to_input

    im = image_io.as_images(image)[0]
    return box_to_input(box, im.size, image_io.fitted_size(im, m.input_shape[0], m.input_shape[1]))
