"""Targets: which number a map explains (issue 21). One table (engine.targets.spec.KINDS).

API (no Qt; TensorFlow only once a target is bound or run):

    from convscope.engine import targets
    t = targets.parse("region:10,10,50,50:3")   # -> Target (spec, key, description)
    m.cam(img, method="gradcam", target="region:10,10,50,50:3")   # or a Target, or
    m.cam(img, target=lambda outs: outs["value"][:, 0])          # f({name: tensor}) -> (N,)
    r.target                                     # the canonical spec the result explains
    targets.heads(m)                             # [OutputHead(name, shape, activation, ...)]
    targets.predicted_mask(m, img)               # PredictedMask: classes (H, W) at image size,
                                                 # names, output, grid
    targets.image_box_to_input(m, img, box)      # image pixels -> region: coordinates
    targets.bind(m, spec, images)                # check against a model (UserError, one line)

Engine thread (engine.jobs, no Qt): Cam(image, target="region:...") -> CamReady(.target);
PredictMask(image, output=None) -> MaskReady(classes (H, W) at the image's size, names,
output, grid, input_hw: the pixels region: coordinates are in, heads: every output).

Kinds: class:C, output:NAME[:C], region:x0,y0,x1,y1[:C] (model-input pixels, x1/y1
exclusive), mask:FILE.png[:C], value[:i], value-[:i], unit:LAYER:CHANNEL[@y,x],
similar:REF.png[@LAYER]. Definitions: engine.targets.scorers.
"""
from __future__ import annotations

from .outputs import OutputHead, PredictedMask, heads, image_box_to_input, predicted_mask  # noqa: F401
from .spec import FLAG, KINDS, Target, kinds_help, parse  # noqa: F401


def bind(m, target, images=()):
    """engine.targets.binding.bind (imported when used)."""
    from .binding import bind as _bind

    return _bind(m, target, images)
