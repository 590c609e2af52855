"""Heatmap over image: upsample (bilinear), colour (a LUT), blend.

The blend is the seeds' "40 % heatmap": out = (1 - alpha) * image + alpha * colour, per
pixel and channel, in uint8 RGB at the original image's size (rounded, not truncated).
alpha = 0 gives the image back, alpha = 1 the coloured heatmap alone. The model saw the
image resized to its input without cropping, so the heatmap covers the whole image and is
stretched back over it.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import colormaps
from ..errors import UserError


def upsample(heatmap: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(h, w) -> (H, W) float32 with cv2 bilinear interpolation, clipped to [0, 1]."""
    h, w = int(size[0]), int(size[1])
    hm = np.ascontiguousarray(heatmap, np.float32)
    if hm.shape != (h, w):
        hm = cv2.resize(hm, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(hm, 0.0, 1.0)


def colour(heatmap01: np.ndarray, colormap: str = "jet") -> np.ndarray:
    """Values in [0, 1] -> uint8 RGB through a 256-entry colour map."""
    return colormaps.apply(heatmap01, colormap)


def blend(pixels: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4,
          colormap: str = "jet") -> np.ndarray:
    """uint8 RGB (H, W, 3): (1 - alpha) * pixels + alpha * colour(upsampled heatmap)."""
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"alpha must be between 0 and 1, not {alpha}")
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    rgb = colour(upsample(heatmap, pixels.shape[:2]), colormap).astype(np.float32)
    out = (1.0 - alpha) * pixels[..., :3].astype(np.float32) + alpha * rgb
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
