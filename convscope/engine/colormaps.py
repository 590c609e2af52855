"""Colour maps as 256-entry uint8 lookup tables (numpy, shared by every view)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

NAMES = ("jet", "viridis", "inferno", "magma", "plasma", "turbo", "gray", "cividis")
# Diverging maps for signed attributions (zero in the middle), not offered for CAMs.
DIVERGING = ("coolwarm", "RdBu_r")


@lru_cache(maxsize=None)
def lut(name: str) -> np.ndarray:
    """(256, 3) uint8 RGB table for a matplotlib colour map name."""
    if name not in NAMES and name not in DIVERGING:
        from .errors import UserError

        raise UserError(f"unknown colour map {name!r}; choose one of {', '.join(NAMES)}")
    from matplotlib import colormaps

    table = colormaps[name](np.linspace(0.0, 1.0, 256))[:, :3]
    out = np.round(table * 255).astype(np.uint8)
    out.setflags(write=False)
    return out


def apply(values01: np.ndarray, name: str = "viridis") -> np.ndarray:
    """Float values in [0, 1] (any shape) -> uint8 RGB (..., 3)."""
    idx = np.clip(np.nan_to_num(values01) * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return lut(name)[idx]


def apply_u8(values: np.ndarray, name: str = "viridis") -> np.ndarray:
    """uint8 values (any shape) -> uint8 RGB (..., 3)."""
    return lut(name)[values]
