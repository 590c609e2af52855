"""Tiling many small images into one grid (activation channels, filter patterns).

Vectorised: one reshape/transpose, no Python loop over tiles.
"""
from __future__ import annotations

import math

import numpy as np


def tile(tiles: np.ndarray, per_row: int, margin: int = 1, fill=0) -> np.ndarray:
    """(N, h, w[, c]) -> (rows*h + (rows-1)*margin, cols*w + (cols-1)*margin[, c]).

    Tiles fill rows left to right; empty cells at the end get `fill`.
    """
    tiles = np.asarray(tiles)
    n, h, w = tiles.shape[:3]
    extra = tiles.shape[3:]
    cols = max(1, min(int(per_row), n)) if n else 1
    rows = max(1, math.ceil(n / cols))
    padded = np.full((rows * cols, h + margin, w + margin) + extra, fill, dtype=tiles.dtype)
    padded[:n, :h, :w] = tiles
    grid = padded.reshape((rows, cols, h + margin, w + margin) + extra)
    grid = grid.swapaxes(1, 2).reshape((rows * (h + margin), cols * (w + margin)) + extra)
    return grid[: rows * (h + margin) - margin, : cols * (w + margin) - margin]


def cell_at(row_px: int, col_px: int, tile_hw: tuple[int, int], per_row: int, n: int,
            margin: int = 1) -> int | None:
    """Index of the tile under pixel (row_px, col_px) of a grid made by `tile`, or None."""
    h, w = tile_hw
    cols = max(1, min(int(per_row), n))
    r, rr = divmod(int(row_px), h + margin)
    c, cc = divmod(int(col_px), w + margin)
    if row_px < 0 or col_px < 0 or rr >= h or cc >= w or c >= cols:
        return None
    i = r * cols + c
    return i if i < n else None


def default_per_row(n: int) -> int:
    """A near-square grid: 16 per row for 256 or more channels, as the seeds."""
    return 16 if n >= 256 else max(1, math.ceil(math.sqrt(n)))
