"""compute_cam: class activation maps for one image or a batch, by any method.

The methods, their names, aliases and what each needs are in engine.cam.registry (one
entry per method; see its docstring to add one); engine.cam.runners runs the passes a
method needs and engine.cam.weights holds the formulas:
- cam              Dense kernel column x activations; GAP + Dense heads only.
- gradcam          channel weights = spatial mean of d score / d A.
- gradcam++        the paper's alphas, exp(score) handled analytically (weights.gradcam_pp).
- scorecam         weights = target probability of the input masked by each channel
                   (upsampled bilinearly, min-max normalised), every channel.
- faster-scorecam  Score-CAM on the `max_n` channels (default 10) with the largest
                   spatial standard deviation.
- layercam, hirescam, xgradcam, eigencam (see engine.cam.weights).
- ablation-cam and the pixel attributions (saliency, smoothgrad, integrated-gradients,
  guided-backprop, guided-gradcam, occlusion, rise): engine.attribution.
Every kind="cam" method takes aug_smooth and eigen_smooth (engine.attribution.smoothing).

Scores are pre-softmax / pre-sigmoid logits (engine.cam.targets). Heatmaps are ReLU then
per-image min-max (engine.cam.result.normalise); a method registered `signed` keeps its
sign, scaled by the largest magnitude to [-1, 1] (result.normalise_signed).
"""
from __future__ import annotations

import numpy as np

from .. import cancel as cancel_mod
from .. import images as image_io
from ..errors import UserError
from . import head as gap_head, registry, targets
from .registry import Context
from .result import CamResult, normalise, normalise_signed
from .runners import RUNNERS

METHODS = registry.names()
DEFAULT_MAX_N = registry.get("faster-scorecam").options["max_n"]


def method_name(method: str) -> str:
    """The canonical name of a method, or UserError listing them."""
    return registry.get(method).name


def compute_cam(m, images, method: str = "gradcam", layer: str | None = None,
                class_index=None, *, target=None, progress=None, cancel=None, **options):
    """Class activation map(s) of `images` (one Image / path / array, or a list of them).

    layer: a path with a spatial output (nested models too); default m.default_cam_layer.
    class_index: None (top prediction), an index, a label, or a list of those per image.
    target: what to explain instead of a class (engine.targets): a spec string such as
        "region:10,10,50,50:3", "value", "unit:conv2:5", "similar:ref.png", a
        targets.Target, or a callable f({output name: pre-softmax tensor}) -> (N,).
        The result's `target` names it. Required for a model without a classifier head.
    options: the method's own (engine.cam.registry), e.g. max_n: channels kept by
        faster-scorecam (default 10; with scorecam it turns Score-CAM into Faster
        Score-CAM); chunk_size: masked copies per forward pass (Score-CAM). An option that
        only other methods take is ignored; an unknown one is a UserError.
    progress(done, total) is called as work completes; `cancel` (CancelToken) is checked
    between steps. Returns one CamResult for one image, a list for a list.
    """
    spec = registry.get(method)
    unknown = sorted(set(options) - registry.option_names())
    if unknown:
        raise UserError(f"unknown option(s) for {spec.name}: {', '.join(unknown)}")
    declared = spec.all_options
    opts = {k: options.get(k, default) for k, default in declared.items()}
    opts = {k: (declared[k] if v is None else v) for k, v in opts.items()}
    smoothing = [k for k in registry.CAM_SMOOTHING if options.get(k)]
    if spec.kind != "cam" and smoothing:
        raise UserError(f"{', '.join(smoothing)}: only for class activation maps, not {spec.name}")
    if opts.get("aug_smooth"):
        if target is not None:
            raise UserError("aug_smooth: only for a class, not a target (its flipped and "
                            "zoomed copies would move a region)")
        return _aug_smooth(m, images, spec.name, layer, class_index, progress=progress,
                           cancel=cancel, **dict(options, aug_smooth=False))
    m.require_layers("class activation maps")
    single = not isinstance(images, (list, tuple))
    imgs = image_io.as_images(images)
    bound = None
    if target is not None:
        from .. import targets as target_mod

        if class_index is not None:
            raise UserError("give a class or a target, not both (class:C is a target too)")
        bound = target_mod.bind(m, target, imgs)
    elif not m.head.classifier:
        raise UserError(
            f"{spec.title} needs something to explain: this model has no classifier head (its "
            f"output is {m.head.describe_output()}); give a target with --target (API: "
            "target=...), e.g. region:x0,y0,x1,y1[:C] for a segmentation output, "
            "unit:LAYER:CHANNEL, similar:REF.png")
    scorer = None if bound is None else bound.scorer
    if scorer is not None and spec.needs == "dense":
        raise UserError(f"{spec.title} reads the Dense weights of a class; for the target "
                        f"{bound.spec} use Grad-CAM or another gradient method")
    if layer is None and bound is not None and bound.layer is not None and spec.layer == "any":
        layer = bound.layer  # unit:LAYER:CH -- the channel's own layer
    layer = _target_layer(m, spec, layer)
    if bound is None:
        unit, sign, _ = targets.resolve(m, class_index, len(imgs))
    else:
        unit, sign = bound.units(len(imgs))
    binary = m.head.binary_sigmoid
    cancel_mod.check(cancel)

    ctx = Context(m, imgs, layer, unit, sign, opts, progress, cancel, scorer)
    maps = RUNNERS[spec.needs](spec, ctx)
    raw, wts, unit, sign, score = maps[:5]
    cancel_mod.check(cancel)
    scale = normalise_signed if spec.signed else normalise
    info_extra = {}
    if scorer is not None and (spec.needs == "masked" or spec.name == "rise"):
        # a probability-based method: say which confidence of the target it used
        info_extra = {"confidence": scorer.confidence_name}
    out = []
    for i, im in enumerate(imgs):
        if scorer is None:
            c = targets.class_of(int(unit[i]), float(sign[i]), binary)
            label = m.label(c)
        else:
            c = scorer.class_of(int(unit[i]), float(sign[i]))
            label = scorer.label(int(unit[i]), float(sign[i]))
        out.append(CamResult(
            heatmap=scale(raw[i]), raw=np.asarray(raw[i], np.float32), method=spec.name,
            layer=layer, class_index=c, label=label, score=float(score[i]), image=im,
            weights=None if wts is None else np.asarray(wts[i], np.float32),
            kind=spec.kind, signed=spec.signed,
            display=maps.display[i] if maps.display else None,
            info={**(dict(maps.info[i]) if maps.info else {}), **info_extra},
            target="" if bound is None else _resolved_spec(bound, c)))
    return out[0] if single else out


def _resolved_spec(bound, c) -> str:
    """The spec a result records: the target's, its class filled in when it was the top one
    (so a recipe remade later explains the same class)."""
    t = bound.target
    if t.kind in ("output", "region", "mask") and t.cls is None and c is not None and c >= 0:
        return t.with_class(c).spec
    return t.spec


def _aug_smooth(m, images, method, layer, class_index, progress=None, cancel=None, **kw):
    """aug_smooth (engine.attribution.smoothing): each image's map averaged over flipped
    and zoomed copies of it, mapped back."""
    import dataclasses

    from ..attribution.smoothing import aug_smooth_cam

    single = not isinstance(images, (list, tuple))
    imgs = image_io.as_images(images)
    plain = compute_cam(m, imgs, method, layer, class_index, progress=progress,
                        cancel=cancel, **kw)

    def run(copies, class_index):
        return compute_cam(m, copies, method, plain[0].layer, class_index, cancel=cancel, **kw)

    out = []
    for im, first in zip(imgs, plain):
        heat, _ = aug_smooth_cam(run, im, first)
        out.append(dataclasses.replace(first, heatmap=heat, raw=heat,
                                       info=dict(first.info, aug_smooth=True)))
    return out[0] if single else out


def _target_layer(m, spec: registry.Method, layer: str | None) -> str | None:
    if spec.layer == "none":
        return None
    if spec.layer == "gap":
        gh = gap_head.find(m.keras_model, m.layer_index)
        if layer is not None and layer != gh.layer:
            m.layer(layer, spatial=True)
            raise UserError(f"{spec.title} is defined only on the layer that feeds global average "
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
