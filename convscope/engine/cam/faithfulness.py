"""Deletion and insertion curves and their AUC (Petsiuk et al. 2018, RISE, section 4.1).

Pixels are ranked by the heatmap (upsampled bilinearly to the model's input size, most
salient first). Deletion starts from the image and replaces the top i/steps of the
pixels with black (pixel value 0) at step i; a faithful map makes the class confidence
fall fast, so lower deletion AUC is better. Insertion starts from a blurred copy of the
image (Gaussian, sigma 5 px by default, as RISE's substrate) and puts the original pixels
back in the same order; higher insertion AUC is better. Those are RISE's substrates;
`substrate="blur"` or `"mean"` changes them (a black fill keeps an object's silhouette,
which may be evidence enough for a shape classifier; a blur removes it).

Confidence is engine.cam.targets.probability (softmax probability of the class for a
softmax head, sigmoid probability for sigmoid heads, raw output for linear heads). AUC
is the trapezoidal area over the fraction of pixels changed, in [0, 1] for probabilities.
All (image, step) copies are built and evaluated in batches of `batch_size`.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import cancel as cancel_mod
from .. import preprocess as prep
from . import targets
from ..images import as_images


def deletion_auc(model, image, heatmap, class_index=None, steps: int = 50,
                 batch_size: int = 32, **options):  # options: target=, substrate=, ...
    """Area under the deletion curve (lower = more faithful); a list for a list of images."""
    return _auc(model, image, heatmap, class_index, "deletion", steps, batch_size, **options)


def insertion_auc(model, image, heatmap, class_index=None, steps: int = 50,
                  batch_size: int = 32, **options):
    """Area under the insertion curve (higher = more faithful); a list for a list of images."""
    return _auc(model, image, heatmap, class_index, "insertion", steps, batch_size, **options)


def auc(curve: np.ndarray) -> np.ndarray:
    """Trapezoidal area of curves (..., steps + 1) sampled evenly on [0, 1]."""
    c = np.asarray(curve, np.float64)
    steps = c.shape[-1] - 1
    return (c[..., :-1] + c[..., 1:]).sum(axis=-1) / (2.0 * steps)


def curves(model, images, heatmaps, class_index=None, mode: str = "deletion", steps: int = 50,
           batch_size: int = 32, substrate: str | None = None, blur_sigma: float = 5.0,
           progress=None, cancel=None, target=None):
    """(fractions (steps + 1,), confidences (N, steps + 1)) for a list of images.

    heatmaps: one (h, w) array (or CamResult) per image, any resolution.
    class_index: None (each image's top prediction), one class, or one per image.
    substrate: what removed pixels become (deletion) or what the insertion starts from:
        "black", "blur" (Gaussian, `blur_sigma` px) or "mean" (the image's mean colour);
        default black for deletion and blur for insertion, as RISE.
    target: a target instead of a class (engine.targets): the curve is then its own
        bounded confidence (engine.targets.scorers says which; the raw score where it has
        none), its class resolved on the clean image.
    """
    if mode not in ("deletion", "insertion"):
        raise ValueError(f"mode must be deletion or insertion, not {mode!r}")
    steps = max(1, int(steps))
    imgs = as_images(images)
    maps = heatmaps if isinstance(heatmaps, (list, tuple)) else [heatmaps]
    if len(maps) != len(imgs):
        raise ValueError(f"{len(maps)} heatmaps for {len(imgs)} images")
    px = model.pixels(imgs)  # (N, H, W, C) float32 in [0, 255]
    n, h, w, _ = px.shape
    ranks = np.stack([_ranks(getattr(hm, "heatmap", hm), h, w) for hm in maps])  # (N, H, W)

    scorer = None
    if target is not None:
        from .. import targets as target_mod
        from ..targets import run

        if class_index is not None:
            raise ValueError("give a class or a target, not both")
        bound = target_mod.bind(model, target, imgs)
        scorer = bound.scorer
    if scorer is not None:
        unit, sign = bound.units(n)
        unit, sign, _, _ = run.scores(model, scorer, model.prepare(imgs), unit, sign)
    else:
        if target is not None:
            unit, sign = bound.units(n)
        else:
            unit, sign, _ = targets.resolve(model, class_index, n)
        logits, _ = model.forward(model.prepare(imgs), logits=True)
        unit, sign, _ = targets.select_np(logits, unit, sign, model.head.binary_sigmoid)

    substrate = substrate or ("blur" if mode == "insertion" else "black")
    if substrate == "blur":
        other = np.stack([cv2.GaussianBlur(p, (0, 0), blur_sigma) for p in px]).reshape(px.shape)
    elif substrate == "mean":
        other = np.broadcast_to(px.mean(axis=(1, 2), keepdims=True), px.shape)
    elif substrate == "black":
        other = np.zeros_like(px)
    else:
        raise ValueError(f"substrate must be black, blur or mean, not {substrate!r}")
    start, end = (other, px) if mode == "insertion" else (px, other)
    counts = np.round(np.linspace(0.0, 1.0, steps + 1) * h * w).astype(np.int64)

    pairs = [(i, s) for i in range(n) for s in range(steps + 1)]
    out = np.empty(len(pairs), np.float64)
    batch_size = max(1, int(batch_size))
    total = -(-len(pairs) // batch_size)
    for b in range(total):
        cancel_mod.check(cancel)
        chunk = pairs[b * batch_size:(b + 1) * batch_size]
        ii = np.array([p[0] for p in chunk])
        changed = ranks[ii] < counts[[p[1] for p in chunk]][:, None, None]  # (B, H, W)
        batch = np.where(changed[..., None], end[ii], start[ii]).astype(np.float32)
        xb = prep.apply(batch, model.preprocess).astype(np.float32)
        if scorer is not None:
            conf = run.scores(model, scorer, xb, unit[ii], sign[ii])[3]
        else:
            lg, _ = model.forward(xb, logits=True)
            conf = targets.probability_np(lg, unit[ii], sign[ii], model.head.activation)
        out[b * batch_size:b * batch_size + len(chunk)] = conf
        if progress is not None:
            progress(b + 1, total)
    return np.linspace(0.0, 1.0, steps + 1), out.reshape(n, steps + 1)


def _auc(model, image, heatmap, class_index, mode, steps, batch_size, **options):
    single = not isinstance(image, (list, tuple))
    images = [image] if single else list(image)
    maps = [heatmap] if single else list(heatmap)
    if not single and class_index is not None and not isinstance(class_index, (list, tuple, np.ndarray)):
        class_index = [class_index] * len(images)
    _, conf = curves(model, images, maps, class_index, mode, steps, batch_size, **options)
    areas = auc(conf)
    return float(areas[0]) if single else [float(a) for a in areas]


def _ranks(heatmap: np.ndarray, h: int, w: int) -> np.ndarray:
    """Rank of each input pixel by saliency (0 = most salient; ties by position)."""
    hm = np.nan_to_num(np.asarray(heatmap, np.float32))
    if hm.shape != (h, w):
        hm = cv2.resize(hm, (w, h), interpolation=cv2.INTER_LINEAR)
    order = np.argsort(-hm.ravel(), kind="stable")
    ranks = np.empty(h * w, np.int64)
    ranks[order] = np.arange(h * w)
    return ranks.reshape(h, w)
