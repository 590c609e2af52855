"""compute_cam: class activation maps for one image or a batch, by any method.

Methods (names accepted with or without dashes / underscores, any case):
- cam              Dense kernel column x activations; GAP + Dense heads only.
- gradcam          channel weights = spatial mean of d score / d A.
- gradcam++        the paper's alphas, exp(score) handled analytically (weights.gradcam_pp).
- scorecam         weights = target probability of the input masked by each channel
                   (upsampled bilinearly, min-max normalised), every channel.
- faster-scorecam  Score-CAM on the `max_n` channels (default 10) with the largest
                   spatial standard deviation.
- layercam, hirescam, xgradcam, eigencam (see engine.cam.weights).

Scores are pre-softmax / pre-sigmoid logits (engine.cam.targets). Heatmaps are ReLU then
per-image min-max (engine.cam.result.normalise).
"""
from __future__ import annotations

import numpy as np

from .. import cancel as cancel_mod
from .. import images as image_io
from ..errors import UserError
from . import compute, head as gap_head, targets, weights
from .result import CamResult, normalise

METHODS = ("cam", "gradcam", "gradcam++", "scorecam", "faster-scorecam", "layercam",
           "hirescam", "xgradcam", "eigencam")
GRADIENT_METHODS = {"gradcam": weights.gradcam, "gradcam++": weights.gradcam_pp,
                    "layercam": weights.layercam, "hirescam": weights.hirescam,
                    "xgradcam": weights.xgradcam}
DEFAULT_MAX_N = 10

_ALIASES = {m.replace("-", "").replace("+", "p"): m for m in METHODS}
_ALIASES.update({"gradcampp": "gradcam++", "gradcamplusplus": "gradcam++",
                 "fasterscorecam": "faster-scorecam"})


def method_name(method: str) -> str:
    """The canonical name of a method, or UserError listing them."""
    key = str(method).strip().lower().replace("-", "").replace("_", "").replace(" ", "").replace("+", "p")
    if key not in _ALIASES:
        raise UserError(f"unknown CAM method {method!r}; choose one of {', '.join(METHODS)}")
    return _ALIASES[key]


def compute_cam(m, images, method: str = "gradcam", layer: str | None = None,
                class_index=None, *, max_n: int | None = None, chunk_size: int | None = None,
                progress=None, cancel=None):
    """Class activation map(s) of `images` (one Image / path / array, or a list of them).

    layer: a path with a spatial output (nested models too); default m.default_cam_layer.
    class_index: None (top prediction), an index, a label, or a list of those per image.
    max_n: channels kept by faster-scorecam (default 10; with scorecam it turns Score-CAM
        into Faster Score-CAM). chunk_size: masked copies per forward pass (Score-CAM).
    progress(done, total) is called as work completes; `cancel` (CancelToken) is checked
    between steps. Returns one CamResult for one image, a list for a list.
    """
    method = method_name(method)
    m.require_layers("class activation maps")
    single = not isinstance(images, (list, tuple))
    imgs = image_io.as_images(images)
    layer = _target_layer(m, method, layer)
    unit, sign, _ = targets.resolve(m, class_index, len(imgs))
    binary = m.head.binary_sigmoid
    cancel_mod.check(cancel)

    wts = None
    if method in GRADIENT_METHODS:
        _report(progress, 0, 1)
        A, logits, g, unit, sign, score = compute.gradients(m, imgs, layer, unit, sign)
        raw, wts = GRADIENT_METHODS[method](A, g)
        _report(progress, 1, 1)
    else:
        A, logits = _acts(m, imgs, layer, progress, method)
        unit, sign, score = targets.select_np(logits, unit, sign, binary)
        if method == "cam":
            gh = gap_head.find(m.keras_model, m.layer_index)
            raw, wts = weights.cam(A, (gh.kernel[:, unit] * sign).T)
        elif method == "eigencam":
            raw, wts = weights.eigencam(A)
        else:
            raw, wts = _scorecam(m, imgs, A, layer, unit, sign, method, max_n, chunk_size,
                                 progress, cancel)
    cancel_mod.check(cancel)
    out = []
    for i, im in enumerate(imgs):
        c = targets.class_of(int(unit[i]), float(sign[i]), binary)
        out.append(CamResult(
            heatmap=normalise(raw[i]), raw=np.asarray(raw[i], np.float32), method=method,
            layer=layer, class_index=c, label=m.label(c), score=float(score[i]), image=im,
            weights=None if wts is None else np.asarray(wts[i], np.float32)))
    return out[0] if single else out


def _acts(m, imgs, layer, progress, method):
    if method not in ("scorecam", "faster-scorecam"):
        _report(progress, 0, 1)
    A, logits = compute.activations(m, imgs, layer)
    if method not in ("scorecam", "faster-scorecam"):
        _report(progress, 1, 1)
    return A, logits


def _scorecam(m, imgs, A, layer, unit, sign, method, max_n, chunk_size, progress, cancel):
    k = A.shape[-1]
    if method == "faster-scorecam" and max_n is None:
        max_n = DEFAULT_MAX_N
    if max_n is not None:
        if int(max_n) < 1:
            raise UserError(f"max_n must be at least 1, not {max_n}")
        channels = weights.top_std_channels(A, int(max_n))
    else:
        channels = np.tile(np.arange(k), (len(imgs), 1))
    x = compute.prepared(m, imgs)
    total = compute.n_chunks(channels.size, chunk_size, x.shape[1:3]) + 1  # + the first pass
    _report(progress, 1, total)
    probs = compute.masked_scores(m, x, A, channels, unit, sign, layer, chunk_size=chunk_size,
                                  progress=progress, cancel=cancel, done=1, total=total)
    return weights.scorecam(A, channels, probs)


def _target_layer(m, method: str, layer: str | None) -> str:
    if method == "cam":
        gh = gap_head.find(m.keras_model, m.layer_index)
        if layer is not None and layer != gh.layer:
            m.layer(layer, spatial=True)
            raise UserError(f"CAM is defined only on the layer that feeds global average "
                            f"pooling ({gh.layer!r}), not {layer!r}; use Grad-CAM for other layers")
        layer = gh.layer
    if layer is None:
        layer = m.default_cam_layer
        if layer is None:
            raise UserError("this model has no layer with a spatial (H, W, C) output before "
                            "its pooling / flattening; class activation maps need one")
    info = m.layer(layer, spatial=True)
    if info.class_name == "InputLayer":
        raise UserError(f"layer {layer!r} is the model's input, not a layer it computes; "
                        "choose a later layer with a spatial output")
    return layer


def _report(progress, done, total) -> None:
    if progress is not None:
        progress(done, total)
