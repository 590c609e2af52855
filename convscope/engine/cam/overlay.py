"""Heatmap over image: upsample (bilinear), colour (a LUT), blend.

The blend is the seeds' "40 % heatmap": out = (1 - alpha) * image + alpha * colour, per
pixel and channel, in uint8 RGB at the original image's size (rounded, not truncated).
alpha = 0 gives the image back, alpha = 1 the coloured heatmap alone. The model saw the
image resized to its input without cropping, so the heatmap covers the whole image and is
stretched back over it.

Memory stays bounded for any image: an image over OVERLAY_MAX_PIXELS is first reduced
(area averaging) to fit, so the overlay of a 100-megapixel photo is about 16 megapixels,
and the blend runs over bands of rows, so its float temporaries stay a few megabytes.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import colormaps
from ..errors import UserError

OVERLAY_MAX_PIXELS = 16_000_000
_BAND_PIXELS = 1 << 20  # pixels blended at once


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


def overlay_size(size: tuple[int, int]) -> tuple[int, int]:
    """(H, W) of the overlay for an image of `size`: the same, or reduced to fit
    OVERLAY_MAX_PIXELS keeping the aspect ratio."""
    h, w = int(size[0]), int(size[1])
    if h * w <= OVERLAY_MAX_PIXELS:
        return h, w
    k = (OVERLAY_MAX_PIXELS / (h * w)) ** 0.5
    return max(1, int(h * k)), max(1, int(w * k))


def blend(pixels: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4,
          colormap: str = "jet") -> np.ndarray:
    """uint8 RGB (H, W, 3): (1 - alpha) * pixels + alpha * colour(upsampled heatmap),
    at the image's size (reduced to OVERLAY_MAX_PIXELS when larger)."""
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"alpha must be between 0 and 1, not {alpha}")
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    pixels = pixels[..., :3]
    h, w = overlay_size(pixels.shape[:2])
    if (h, w) != pixels.shape[:2]:
        pixels = cv2.resize(np.ascontiguousarray(pixels), (w, h), interpolation=cv2.INTER_AREA)
    up = upsample(heatmap, (h, w))
    out = np.empty((h, w, 3), np.uint8)
    band = max(1, _BAND_PIXELS // max(1, w))
    for r in range(0, h, band):
        rgb = colour(up[r:r + band], colormap).astype(np.float32)
        mix = (1.0 - alpha) * pixels[r:r + band].astype(np.float32) + alpha * rgb
        out[r:r + band] = np.clip(np.rint(mix), 0, 255).astype(np.uint8)
    return out
