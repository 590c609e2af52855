"""The compute functions engine.cam.registry calls for the attribution methods
(engine.attribution.entries registers them): `function(ctx: registry.Context) -> Maps`.

Pixel attributions run image by image (each one's copies / masks / positions / path
points are the batch); the target of each image is ctx.unit / ctx.sign (-1: its top
prediction, resolved on the clean image). Their maps are at the model's input
resolution (occlusion: its grid of patch positions), so for models with a free input
size `raw` is a list of maps of different sizes.

Options (ctx.options, defaults filled in by the registry) are named as the CLI flags:
samples, sigma (SmoothGrad); steps, baseline (Integrated Gradients); patch, stride, fill
(occlusion); masks (RISE); seed; chunk_size (copies per batch).
"""
from __future__ import annotations

import numpy as np

from .. import cancel as cancel_mod
from ..cam.registry import Maps
from . import integrated_gradients as ig_mod
from . import occlusion as occ_mod
from . import rise as rise_mod
from . import saliency as sal_mod
from .base import piece, resolved, target


def _opts(ctx, *names):
    return {n: ctx.options[n] for n in names if n in ctx.options}


def _per_image(ctx, run, forward: bool = True) -> Maps:
    """Run run(target) -> Piece for each image; assemble registry.Maps."""
    raws, infos, displays, units, signs, scores = [], [], [], [], [], []
    for i, im in enumerate(ctx.images):
        cancel_mod.check(ctx.cancel)
        t = target(ctx.model, im, int(ctx.unit[i]), float(ctx.sign[i]), forward=forward,
                   scorer=ctx.scorer)
        p = run(t)
        raws.append(p.raw)
        infos.append(p.info)
        displays.append(p.display)
        units.append(t.unit[0])
        signs.append(t.sign[0])
        scores.append(t.score)
    return Maps(raws, None, np.asarray(units, np.int32), np.asarray(signs, np.float32),
                np.asarray(scores, np.float32), info=infos, display=displays)


def saliency(ctx) -> Maps:
    return _per_image(ctx, lambda t: sal_mod.saliency(ctx.model, t, ctx.progress, ctx.cancel),
                      forward=False)


def smoothgrad(ctx) -> Maps:
    o = _opts(ctx, "samples", "sigma", "seed", "chunk_size")
    return _per_image(ctx, lambda t: sal_mod.smoothgrad(
        ctx.model, t, progress=ctx.progress, cancel=ctx.cancel, **o))


def integrated_gradients(ctx) -> Maps:
    o = _opts(ctx, "steps", "baseline", "seed", "chunk_size")
    return _per_image(ctx, lambda t: ig_mod.integrated_gradients(
        ctx.model, t, progress=ctx.progress, cancel=ctx.cancel, **o))


def occlusion(ctx) -> Maps:
    o = _opts(ctx, "patch", "stride", "fill", "chunk_size")
    return _per_image(ctx, lambda t: occ_mod.occlusion(
        ctx.model, t, progress=ctx.progress, cancel=ctx.cancel, **o))


def rise(ctx) -> Maps:
    o = _opts(ctx, "masks", "seed", "chunk_size")
    return _per_image(ctx, lambda t: rise_mod.rise(
        ctx.model, t, progress=ctx.progress, cancel=ctx.cancel, **o))


def guided_backprop(ctx) -> Maps:
    return _per_image(ctx, lambda t: _guided(ctx, t, None), forward=False)


def guided_gradcam(ctx) -> Maps:
    return _per_image(ctx, lambda t: _guided(ctx, t, ctx.layer), forward=False)


def _guided(ctx, t, layer):
    """Guided backprop (layer None) or Guided Grad-CAM on `layer` (engine.attribution.guided)."""
    from . import graphs
    from .guided import guided_gradcam as product
    from .saliency import saliency_map

    m = ctx.model
    if ctx.progress:
        ctx.progress(0, 1)
    gb, unit, sign, score = graphs.gradient(m, t.xpix, t.unit, t.sign, guided=True, resolved=True,
                                            scorer=t.scorer)
    resolved(m, t, unit, sign, score)
    gb = gb[0]
    if layer is None:
        out = piece(saliency_map(gb), info={"gradient": gb})
    else:
        if t.scorer is None:
            from ..cam.api import compute_cam

            cam = compute_cam(m, t.image, method="gradcam", layer=layer,
                              class_index=t.class_index)
            raw, heat = cam.raw, cam.heatmap
        else:  # the same target, its class resolved above
            from ..cam import compute
            from ..cam.result import normalise
            from ..cam.weights import gradcam

            A, _, g, _, _, _ = compute.gradients(m, [t.image], layer, t.unit, t.sign,
                                                 scorer=t.scorer)
            raw = gradcam(A, g)[0][0]
            heat = normalise(raw)
        ggc = product(gb, raw)  # the ReLU'd map (the paper's), not the [0, 1] heatmap
        out = piece(saliency_map(ggc), info={"gradient": ggc, "guided_backprop": gb,
                                             "gradcam": heat})
    if ctx.progress:
        ctx.progress(1, 1)
    return out


def ablation(ctx) -> Maps:
    """Ablation-CAM on ctx.layer (engine.attribution.ablation), eigen_smooth honoured."""
    from ..cam import compute, targets
    from .ablation import ablation_cam
    from .smoothing import smoothed

    m = ctx.model
    A, logits = compute.activations(m, ctx.images, ctx.layer)
    if ctx.scorer is not None:  # a target: resolved by its own pass (engine.targets.run)
        from ..targets import run

        unit, sign, score, _ = run.scores(m, ctx.scorer, compute.prepared(m, ctx.images),
                                          ctx.unit, ctx.sign)
    else:
        unit, sign, score = targets.select_np(logits, ctx.unit, ctx.sign, m.head.binary_sigmoid)
    raw, w = ablation_cam(m, ctx.images, ctx.layer, unit, sign, score,
                          chunk_size=ctx.options.get("chunk_size"), progress=ctx.progress,
                          cancel=ctx.cancel, scorer=ctx.scorer)
    return Maps(smoothed(ctx, "ablation-cam", A, None, w, raw), w, unit, sign, score)
