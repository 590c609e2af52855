"""Turning a layer's activations (H, W, C) into pictures (numpy only, vectorised).

Normalisation modes:
- "channel": the seeds' recipe per channel: standardise, x64, +128, clip to [0, 255];
  a constant channel (std 0) is shown as mid-grey 128 instead of NaN.
- "layer": one min-max over the whole layer, so channels compare with each other.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import colormaps, grid

NORMALISATIONS = ("channel", "layer")
DEFAULT_NORMALISATION = "channel"  # the seeds'
DEFAULT_COLORMAP = "viridis"


@dataclass(frozen=True)
class ChannelStats:
    index: int
    minimum: float
    maximum: float
    mean: float
    std: float
    fraction_positive: float


def normalise(act: np.ndarray, mode: str = "channel") -> np.ndarray:
    """(H, W, C) float -> (C, H, W) uint8 (computed channels-last: engine.explore.fast_grid)."""
    from .fast_grid import normalise_hwc

    if mode not in NORMALISATIONS:
        raise ValueError(f"unknown normalisation {mode!r}; use one of {NORMALISATIONS}")
    return np.moveaxis(normalise_hwc(act, mode), -1, 0)


def dead_channels(act: np.ndarray) -> np.ndarray:
    """Indices of channels that are all zero for this input."""
    a = np.asarray(act)
    return np.flatnonzero(~np.any(a != 0, axis=tuple(range(a.ndim - 1))))


def render_grid(act: np.ndarray, per_row: int | None = None, mode: str = "channel",
                colormap: str | None = "viridis", margin: int = 1) -> np.ndarray:
    """All channels of (H, W, C) as one grid: uint8 (gh, gw) or RGB (gh, gw, 3)."""
    tiles = normalise(act, mode)
    per_row = per_row or grid.default_per_row(tiles.shape[0])
    g = grid.tile(tiles, per_row, margin=margin, fill=0)
    return colormaps.apply_u8(g, colormap) if colormap else g


def channel_stats(act: np.ndarray, index: int) -> ChannelStats:
    c = np.asarray(act)[..., index].astype(np.float64)
    return ChannelStats(index=index, minimum=float(c.min()), maximum=float(c.max()),
                        mean=float(c.mean()), std=float(c.std()),
                        fraction_positive=float((c > 0).mean()))
