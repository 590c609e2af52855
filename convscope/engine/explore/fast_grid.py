"""The activation grid, fast enough for the GUI thread on every layer change (issue 14).

A layer's activations arrive as (H, W, C) float32 (channels last, contiguous). The naive
pipeline moves the channel axis first (a strided view every later pass walks slowly),
indexes a colour table with the (C, H, W) array (numpy fancy indexing, ~3 bytes per value)
and tiles the RGB tiles. Here, in order:

1. normalise in the (H, W, C) layout, so every pass is contiguous and per-channel
   statistics are one reduction over the leading axes (the seeds' recipe, as
   engine.explore.activation_view.normalise: standardise, x64, +128, clip; or one min-max);
2. tile the uint8 values (1 byte per value) straight into the grid with one strided
   assignment (no per-channel loop, no padded intermediate);
3. colour the grid with OpenCV's LUT (SIMD, one table per colour channel, merged) and paint the gaps and empty cells in the
   background colour by slicing.

`GridPicture` keeps the grey grid: a colour-map change re-runs only step 3 (a few ms),
a channels-per-row change only steps 2-3.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .. import colormaps


def normalise_hwc(act: np.ndarray, mode: str = "channel") -> np.ndarray:
    """(H, W, C) float -> (H, W, C) uint8, the values of activation_view.normalise."""
    a = np.ascontiguousarray(act, dtype=np.float32)
    if mode == "channel":
        flat = a.reshape(-1, a.shape[-1])
        mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        ok = std > 0
        z = a - mean  # the seeds' order of operations, in place: the same uint8 values
        z /= np.where(ok, std, 1.0).astype(np.float32)
        z *= 64.0
        z += 128.0
        z[..., ~ok] = 128.0  # a constant channel: mid-grey, never NaN
        np.clip(z, 0, 255, out=z)
        return z.astype(np.uint8)
    if mode == "layer":
        lo, hi = float(a.min()), float(a.max())
        if hi <= lo:
            return np.zeros(a.shape, np.uint8)
        z = a - np.float32(lo)
        z *= np.float32(255.0 / (hi - lo))
        z += 0.5
        np.clip(z, 0, 255, out=z)
        return z.astype(np.uint8)
    raise ValueError(f"unknown normalisation {mode!r}; use channel or layer")


def layout(n: int, per_row: int) -> tuple[int, int]:
    """(rows, cols) of a grid of n tiles, per_row to a row (as engine.grid.tile)."""
    cols = max(1, min(int(per_row), n)) if n else 1
    return max(1, math.ceil(n / cols)), cols


def tile_hwc(u8: np.ndarray, per_row: int, margin: int = 1, fill: int = 0) -> np.ndarray:
    """(H, W, C) uint8 -> grey grid (rows*(H+m)-m, cols*(W+m)-m), tiles row by row."""
    h, w, n = u8.shape
    rows, cols = layout(n, per_row)
    out = np.full((rows * (h + margin), cols * (w + margin)), fill, np.uint8)
    cells = out.reshape(rows, h + margin, cols, w + margin)
    full = n // cols  # complete rows
    if full:
        src = u8[:, :, :full * cols].reshape(h, w, full, cols)
        cells[:full, :h, :, :w] = src.transpose(2, 0, 3, 1)
    rest = n - full * cols
    if rest:
        cells[full, :h, :rest, :w] = u8[:, :, full * cols:].transpose(0, 2, 1)
    return out[: rows * (h + margin) - margin, : cols * (w + margin) - margin]


def colour_grid(grey: np.ndarray, colormap: str, tile_hw, n: int, per_row: int,
                margin: int = 1, background=(0, 0, 0)) -> np.ndarray:
    """RGB (gh, gw, 3) of a grey grid: the colour map's table through cv2.LUT, then the
    gaps between tiles and the empty cells after the last one in `background`."""
    table = colormaps.lut(colormap)
    # one single-channel LUT per colour, merged: ~3x faster than a 3-channel LUT here
    rgb = cv2.merge([cv2.LUT(grey, np.ascontiguousarray(table[:, k])) for k in range(3)])
    h, w = tile_hw
    bg = np.asarray(background, np.uint8)
    if margin:
        for k in range(margin):
            rgb[h + k::h + margin] = bg
            rgb[:, w + k::w + margin] = bg
    rows, cols = layout(n, per_row)
    rest = n - (rows - 1) * cols
    if rest < cols:
        rgb[(rows - 1) * (h + margin):, rest * (w + margin):] = bg
    return rgb


class GridPicture:
    """A layer's grid, with its grey stage kept for cheap colour-map changes."""

    def __init__(self, act: np.ndarray, mode: str = "channel", margin: int = 1):
        self.act, self.mode = act, mode
        self.shape = act.shape
        self.margin = margin
        self.u8 = normalise_hwc(act, mode)
        self.per_row = None
        self.grey = None

    def render(self, per_row: int, colormap: str, background) -> np.ndarray:
        if per_row != self.per_row:
            self.per_row = per_row
            self.grey = tile_hwc(self.u8, per_row, self.margin)
        h, w, n = self.shape
        return colour_grid(self.grey, colormap, (h, w), n, per_row, self.margin, background)
