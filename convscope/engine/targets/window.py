"""What the window needs of targets (issue 21), no Qt: the target a model's maps explain by
default and the heads the window's head picker lists (the predicted mask's picture, its
classes and boxes: engine.targets.masks).

    default_target(m)  -> ""  (a classifier head: the class path, as ever)
                          "region:0,0,W,H"  (a segmentation output of a fixed-size model: the
                              whole input, its predicted class -- the per-pixel vote)
                          "value:0"  (one linear unit without labels: a regression)
                          ""  otherwise (the window asks the user for a target)
    of_model(m) -> (heads, default target) for ModelLoaded
    mask_ready(m, job, base) -> engine.jobs.MaskReady for a PredictMask job
    in_words(spec) -> the target's one-line description
"""
from __future__ import annotations

from ..errors import UserError


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
    if first.get("segmentation"):
        h, w = m.input_shape[0], m.input_shape[1]
        return f"region:0,0,{int(w)},{int(h)}" if h and w else ""
    return ""


def of_model(m) -> tuple[tuple, str]:
    """(every output head, the default target) for ModelLoaded; ((), "") when a model's
    outputs cannot be read."""
    try:
        heads = heads_of(m)
        return heads, default_target(m, heads)
    except UserError:
        return (), ""


def in_words(spec: str) -> str:
    from .spec import parse

    return parse(spec).description if spec else ""


def mask_ready(m, job, base: dict):
    """The engine thread's answer to a PredictMask job: the predicted class per pixel at
    the image's size, with names, counts (most pixels first) and every output head."""
    from .. import jobs as J
    from .outputs import predicted_mask

    pm = predicted_mask(m, job.image, job.output)
    return J.MaskReady(**base, classes=pm.classes, names=pm.names, output=pm.output,
                       grid=pm.grid, input_hw=pm.input_hw, heads=heads_of(m),
                       pixels=job.image.pixels,
                       counts=tuple(sorted(pm.counts().items(), key=lambda kv: -kv[1])))
