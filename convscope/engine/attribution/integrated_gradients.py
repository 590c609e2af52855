"""Integrated Gradients (Sundararajan, Taly & Yan 2017, eq. 1 and sec. 5).

    IG_i(x) = (x_i - x'_i) * Integral_0^1 dS(x' + a (x - x')) / dx_i  da

for a baseline x'. The integral is the trapezoid rule on `steps` (m) equal intervals:
the m + 1 points a_k = k / m, weights 1/(2m) at both ends and 1/m inside. The path
points run in batches. Completeness (the paper's axiom, prop. 1): Sum_i IG_i = S(x) - S(x');
the result reports the relative error |Sum IG - (S(x) - S(x'))| / |S(x) - S(x')|
(`info["completeness_error"]`) so a user sees whether m was enough. S(x) and S(x') come
free: they are the scores at a = 1 and a = 0.

Pixel space (engine.attribution.graphs): attributions are per pixel and channel; the
map is their sum over the colour channels (signed), scaled by its largest magnitude to
[-1, 1]. Summing over channels keeps completeness (Sum of the map = Sum IG).

Baselines x' (`baseline`): "black" (all zeros, the paper's choice for images), "blurred"
(the image under a Gaussian blur with sigma = max(H, W) / 10: the blurred-integrated-
gradients idea of keeping colour and removing edges), "noise" (uniform in [0, 255],
seeded with `seed`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ..errors import UserError
from . import graphs
from .base import Target, piece, positive_int

DEFAULT_STEPS = 64
BASELINES = ("black", "blurred", "noise")


def baseline_image(xpix: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """x' for one image (H, W, C) in pixel space."""
    if kind == "black":
        return np.zeros_like(xpix)
    if kind == "blurred":
        sigma = max(xpix.shape[:2]) / 10.0
        out = cv2.GaussianBlur(xpix, (0, 0), sigmaX=sigma, sigmaY=sigma,
                               borderType=cv2.BORDER_REFLECT)
        return out.reshape(xpix.shape).astype(np.float32)
    if kind == "noise":
        return np.random.default_rng(int(seed)).uniform(0.0, 255.0, xpix.shape).astype(np.float32)
    raise UserError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


def trapezoid(steps: int) -> tuple[np.ndarray, np.ndarray]:
    """(alphas (m + 1,), weights (m + 1,)) of the trapezoid rule on [0, 1]."""
    a = np.linspace(0.0, 1.0, steps + 1)
    w = np.full(steps + 1, 1.0 / steps)
    w[0] = w[-1] = 0.5 / steps
    return a, w


def integrated_gradients(m, t: Target, steps=DEFAULT_STEPS, baseline="black", seed=0,
                         chunk_size=None, progress=None, cancel=None):
    steps = positive_int("steps", steps)
    if not isinstance(baseline, str):
        raise UserError(f"baseline must be one of {', '.join(BASELINES)}")
    baseline = baseline.strip().lower()
    x = t.xpix[0]
    x0 = baseline_image(x, baseline, seed)
    diff = x - x0
    alphas, weights = trapezoid(steps)
    chunk = chunk_size or graphs.auto_chunk(x.shape[:2], "grad")
    total = np.zeros(x.shape, np.float64)
    scores = np.empty(steps + 1, np.float64)

    def run(idx):
        pts = x0[None] + alphas[idx].astype(np.float32)[:, None, None, None] * diff[None]
        unit, sign = t.units(len(idx))
        g, s = graphs.gradient(m, pts, unit, sign, scorer=t.scorer)
        return g, s, idx

    for g, s, idx in graphs.run_chunked(steps + 1, chunk, run, progress, cancel):
        total += np.tensordot(weights[idx], g.astype(np.float64), axes=(0, 0))
        scores[idx] = s
    ig = diff.astype(np.float64) * total  # (H, W, C)
    delta = scores[-1] - scores[0]
    err = abs(ig.sum() - delta) / abs(delta) if delta != 0 else float("inf") if ig.sum() != 0 else 0.0
    info = {"steps": steps, "baseline": baseline, "completeness_error": float(err),
            "score_baseline": float(scores[0]), "score_image": float(scores[-1]),
            "attribution_sum": float(ig.sum()), "attributions": ig.astype(np.float32)}
    return piece(ig.sum(axis=-1).astype(np.float32), info=info)
