"""RISE (Petsiuk, Das & Saenko 2018, "Randomized input sampling for explanation", sec. 3).

Saliency as the score-weighted mean of random masks (eq. 6, Monte Carlo):
    S_c(x) = 1 / (E[M] N) * Sum_i f_c(x . M_i) M_i,     E[M] = p
with f_c the class's confidence (the model's own probability, from the logits:
engine.cam.targets.probability) and masks made as the paper's sec. 3.2 says:
1. N binary grids of s x s cells, each cell 1 with probability p (`cells` = 7, p = 0.5);
2. each grid upsampled bilinearly to (s + 1) * C pixels per side, C = ceil(H / s);
3. a random H x W crop of it, shifted by (dy, dx) uniform in [0, C) — so the masks are
   smooth and not aligned to a fixed grid.
The masks multiply the pixels (black outside). All grids, then all shifts, are drawn
first from numpy's PCG64 generator seeded with `seed` (so the result does not depend on
the batch size); upsampling and cropping run inside the compiled graph, in batches.
"""
from __future__ import annotations

import numpy as np

from . import graphs
from .base import Target, piece, positive_int

DEFAULT_MASKS, CELLS, P_KEEP = 1000, 7, 0.5


def draw(rng: np.random.Generator, n: int, cells: int, cell: int, p: float = P_KEEP):
    """(grids (n, s, s) float32 in {0, 1}, shifts (n, 2) int) for n masks, in order."""
    grids = (rng.random((n, cells, cells)) < p).astype(np.float32)
    shifts = rng.integers(0, cell, size=(n, 2))
    return grids, shifts


def rise(m, t: Target, masks=DEFAULT_MASKS, seed=0, chunk_size=None, progress=None,
         cancel=None):
    n = positive_int("masks", masks)
    h, w = t.xpix.shape[1:3]
    cell = -(-max(h, w) // CELLS)
    rng = np.random.default_rng(int(seed))
    chunk = chunk_size or graphs.auto_chunk((h, w), "forward")
    total = np.zeros((h, w), np.float64)
    grids, shifts = draw(rng, n, CELLS, cell)  # (n, s, s) and (n, 2): small
    state = {"done": 0}

    def run(idx):
        real = min(len(idx), n - state["done"])  # padding rows repeat a mask: dropped below
        state["done"] += real
        unit, sign = t.units(len(idx))
        p, mk = graphs.rise_scores(m, t.xpix, grids[idx], shifts[idx], cell, unit, sign,
                                   scorer=t.scorer)
        return np.tensordot(p[:real].astype(np.float64), mk[:real], axes=(0, 0))[None]

    for part in graphs.run_chunked(n, chunk, run, progress, cancel):
        total += part[0]
    sal = total / (n * P_KEEP)
    return piece(sal.astype(np.float32),
                        info={"masks": n, "cells": CELLS, "p": P_KEEP, "seed": int(seed)})
