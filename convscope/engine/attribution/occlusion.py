"""Occlusion (Zeiler & Fergus 2014, "Visualizing and understanding convolutional
networks", sec. 4.2): slide a square over the image and record how the class score falls.

For every patch position (r, c) — top-left corners r = 0, s, 2s, ..., k*s with
k = ceil((H - p) / s) (the same for columns), with p = `patch`, s = `stride`, as Captum
counts them — the patch is set to `fill`. When (H - p) is not a multiple of s the last
window starts at k*s > H - p and is clipped at the image's edge (Captum's windows: its
negative padding crops the window), so every pixel is covered by at least one window (pixel value, default 128: the paper's grey square) and
    D(r, c) = S(x) - S(x with the patch at (r, c) filled)
with S the class score before softmax. A positive value: the patch held evidence for the
class. The heatmap is this grid of score drops, one value per position (signed, scaled
by its largest magnitude to [-1, 1]); `display` spreads it over the pixels (each pixel
the mean of the drops of the patches that cover it) for drawing.

All occluded copies are built inside the compiled graph from the positions and run in
batches; the cost is one forward pass per position.
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from . import graphs
from ..cam.result import normalise_signed
from .base import Target, number, piece, positive_int

DEFAULT_FILL = 128.0


def default_patch(hw) -> int:
    """A side of an eighth of the input's shorter side (at least 1)."""
    return max(1, min(int(hw[0]), int(hw[1])) // 8)


def positions(h: int, w: int, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners per axis: 0, s, ..., ceil((n - p) / s) * s (Captum's shift counts;
    the last window may run past the edge and is clipped there)."""
    def axis(n):
        return np.arange(-(-(n - patch) // stride) + 1) * stride

    return axis(h), axis(w)


def coverage_mean(grid: np.ndarray, rows, cols, patch: int, hw) -> np.ndarray:
    """Each pixel: the mean of grid values over the patches covering it (0 if none)."""
    acc = np.zeros(hw, np.float64)
    cnt = np.zeros(hw, np.float64)
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            acc[r:r + patch, c:c + patch] += grid[i, j]
            cnt[r:r + patch, c:c + patch] += 1.0
    return np.where(cnt > 0, acc / np.maximum(cnt, 1.0), 0.0).astype(np.float32)


def occlusion(m, t: Target, patch=None, stride=None, fill=DEFAULT_FILL, chunk_size=None,
              progress=None, cancel=None):
    h, w = t.xpix.shape[1:3]
    patch = default_patch((h, w)) if patch is None else positive_int("patch", patch)
    stride = max(1, patch // 2) if stride is None else positive_int("stride", stride)
    fill = number("fill", fill)
    if patch > min(h, w):
        raise UserError(f"patch {patch} is larger than the model's input ({h}x{w}); "
                        "choose a smaller patch")
    rows, cols = positions(h, w, patch, stride)
    pos = np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2)
    chunk = chunk_size or graphs.auto_chunk((h, w), "forward")

    def run(idx):
        unit, sign = t.units(len(idx))
        return graphs.occluded_scores(m, t.xpix, pos[idx], patch, fill, unit, sign,
                                      scorer=t.scorer)

    scores = np.concatenate(graphs.run_chunked(len(pos), chunk, run, progress, cancel))
    grid = (t.score - scores.astype(np.float64)).reshape(len(rows), len(cols)).astype(np.float32)
    display = coverage_mean(normalise_signed(grid), rows, cols, patch, (h, w))
    return piece(grid, display=display,
                        info={"patch": patch, "stride": stride, "fill": fill,
                              "positions": int(len(pos))})
