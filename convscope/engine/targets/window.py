"""What the window needs of targets (issue 21), no Qt: the target a model's maps explain by
default, the heads the window's head picker lists, the predicted-mask job of a segmentation
output and its picture (the mask over the image, one colour per class).

    default_target(m)  -> ""  (a classifier head: the class path, as ever)
                          "region:0,0,W,H"  (a spatial output of a fixed-size model: the
                              whole input, its predicted class -- the per-pixel vote)
                          "value:0"  (one linear unit without labels: a regression)
                          ""  otherwise (the window asks the user for a target)
    (the predicted mask itself: engine.jobs.PredictMask -> MaskReady, engine.targets.predicted_mask)
    mask_picture(pixels, classes, alpha) -> uint8 (H, W, 3), PALETTE[c] for class c
    box_to_input(box, image_hw, input_hw) / box_to_image(...): a box between the image's
        own pixels and the model input's (what region: takes)
"""
from __future__ import annotations

import numpy as np

# Class colours of the mask (tab10, then repeated): class c gets PALETTE[c % len(PALETTE)].
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                    (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
                    (188, 189, 34), (23, 190, 207)], np.uint8)


def heads_of(m) -> tuple:
    """Every output as a dict (engine.targets.OutputHead.as_dict); () for a model that has
    no layers to read (a predict-only model)."""
    from .outputs import heads

    if getattr(m, "predict_only", False):
        return ()
    return tuple(h.as_dict() for h in heads(m))


def default_target(m, heads: tuple | None = None) -> str:
    """The target a map explains when the user has not chosen one (see the module doc)."""
    if getattr(m, "predict_only", False):
        return ""
    if m.head.kind == "regression":  # one linear unit: "class 0" would read as a class
        return "value:0"
    if m.head.classifier:
        return ""
    heads = heads_of(m) if heads is None else heads
    if not heads:
        return ""
    first = heads[0]
    if first["spatial"]:
        h, w = m.input_shape[0], m.input_shape[1]
        return f"region:0,0,{int(w)},{int(h)}" if h and w else ""
    return ""


def mask_picture(pixels: np.ndarray, classes: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The predicted mask over the image: each pixel blended with its class's colour."""
    colour = PALETTE[classes % len(PALETTE)].astype(np.float32)
    out = (1.0 - alpha) * pixels[..., :3].astype(np.float32) + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def box_to_input(box: tuple, image_hw: tuple, input_hw: tuple) -> tuple:
    """A box (x0, y0, x1, y1) in the image's own pixels -> model-input pixels, what
    `region:` takes: the image is stretched to the input (engine.images.fit), so each axis
    scales by input / image; rounded outwards and clipped to the input."""
    (H0, W0), (h, w) = image_hw, input_hw
    x0, y0, x1, y1 = box
    sx, sy = w / W0, h / H0
    return (max(0, int(np.floor(x0 * sx))), max(0, int(np.floor(y0 * sy))),
            min(int(w), int(np.ceil(x1 * sx))), min(int(h), int(np.ceil(y1 * sy))))


def box_to_image(box: tuple, image_hw: tuple, input_hw: tuple) -> tuple:
    """The inverse: a region: box (input pixels) on the image, in (fractional) pixels."""
    (H0, W0), (h, w) = image_hw, input_hw
    x0, y0, x1, y1 = box
    sx, sy = W0 / w, H0 / h
    return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
