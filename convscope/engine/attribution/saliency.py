"""Saliency and SmoothGrad: gradients of the class score with respect to the pixels.

Saliency (Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional networks",
sec. 3.1): w = dS_c / dI at the image I0 (S_c the class score before softmax); the map
is M_ij = max_c |w_(i, j, c)|, the largest magnitude over the colour channels (as the
paper, and tf-keras-vis' default). One forward + backward pass.

SmoothGrad (Smilkov et al. 2017, eq. 3): the mean of the sensitivity map over n noisy
copies, M^_c(x) = 1/n Sum_i M_c(x + N(0, sigma^2)), with the noise level given as a
fraction of the input range, sigma = `sigma` * (x_max - x_min) (sec. 3.2; 0.15 default,
"10%-20%" in the paper), n = `samples` (50). Here M_c is the saliency map above (|grad|,
max over channels), so sigma = 0 gives saliency exactly. (tf-keras-vis instead averages
the raw gradients and takes |.| afterwards.) The copies run in batches; the noise is drawn
from numpy's PCG64 generator seeded with `seed`, copy after copy, so the result does not
depend on the batch size.
"""
from __future__ import annotations

import numpy as np

from . import graphs
from .base import Target, number, piece, positive_int, resolved

DEFAULT_SAMPLES, DEFAULT_SIGMA = 50, 0.15


def saliency_map(g: np.ndarray) -> np.ndarray:
    """(..., H, W, C) gradients -> (..., H, W): max over channels of |g|."""
    return np.abs(g).max(axis=-1)


def saliency(m, t: Target, progress=None, cancel=None):
    if progress:
        progress(0, 1)
    g, unit, sign, score = graphs.gradient(m, t.xpix, t.unit, t.sign, resolved=True,
                                           scorer=t.scorer)
    resolved(m, t, unit, sign, score)  # the top prediction, from this very pass
    if progress:
        progress(1, 1)
    return piece(saliency_map(g[0]), info={"gradient": g[0]})


def smoothgrad(m, t: Target, samples=DEFAULT_SAMPLES, sigma=DEFAULT_SIGMA, seed=0,
               chunk_size=None, progress=None, cancel=None):
    n = positive_int("samples", samples)
    sigma = number("sigma", sigma, 0.0)
    x = t.xpix[0]
    noise_sd = sigma * float(x.max() - x.min())
    rng = np.random.default_rng(int(seed))
    chunk = chunk_size or graphs.auto_chunk(x.shape[:2], "grad")
    total = np.zeros(x.shape[:2], np.float64)
    state = {"drawn": 0}

    def run(idx):
        # draw the noise of the real copies in order; padded rows reuse the first copy
        real = min(len(idx), n - state["drawn"])
        noise = rng.standard_normal((real,) + x.shape, dtype=np.float32) * np.float32(noise_sd)
        state["drawn"] += real
        if real < len(idx):
            noise = np.concatenate([noise, np.repeat(noise[:1], len(idx) - real, axis=0)])
        unit, sign = t.units(len(idx))
        g, _ = graphs.gradient(m, x[None] + noise, unit, sign, scorer=t.scorer)
        return saliency_map(g)

    for maps in graphs.run_chunked(n, chunk, run, progress, cancel):
        total += maps.sum(axis=0, dtype=np.float64)
    return piece((total / n).astype(np.float32),
                        info={"samples": n, "sigma": sigma, "seed": int(seed)})
