"""Per-layer activation statistics over the probe images (numpy only).

For a layer's output A of shape (N, H, W, C) (or (N, C) for a flat layer), over every
probe image and position:
- mean, std: of all values of A;
- zero_fraction: the fraction of values exactly 0 (a ReLU's silent units);
- dead_channels: channels that are exactly 0 at every position of every probe image;
- channel_means (C,): each channel's mean (kept as an array, not a scalar).
"""
from __future__ import annotations

import numpy as np

SCALARS = ("mean", "std", "zero_fraction", "dead_channels")


def layer_stats(a: np.ndarray) -> tuple[dict, np.ndarray]:
    """({name: float} for SCALARS, channel_means (C,) float32) of one layer's output."""
    a = np.asarray(a)
    if a.ndim < 2:
        raise ValueError(f"a layer output has a batch axis and channels, not shape {a.shape}")
    flat = a.reshape(-1, a.shape[-1]).astype(np.float64)
    channel_means = flat.mean(axis=0)
    dead = int(np.count_nonzero(~np.any(flat != 0.0, axis=0)))
    scalars = {"mean": float(flat.mean()), "std": float(flat.std()),
               "zero_fraction": float(np.mean(flat == 0.0)), "dead_channels": float(dead)}
    return scalars, channel_means.astype(np.float32)
