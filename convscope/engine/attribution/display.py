"""Drawing a pixel attribution over the image.

Pixel maps are sparse and spiky, so they are drawn unlike a CAM:
- over a grey copy of the image (colour would be confused with the attribution);
- display scale: the map divided by its 99th percentile of |value| and clipped (as
  Captum's visualisation does with its outlier percentage), so a few extreme pixels do
  not leave everything else invisible. Only the picture is scaled, never the heatmap;
- each pixel as opaque as its (scaled) attribution is strong: opacity = |v| * alpha / 0.4,
  clipped to 1 (at the default alpha 0.4 the opacity is the magnitude itself), so
  pixels with no attribution show the grey image;
- signed maps through a diverging colour map centred on zero (coolwarm: blue negative,
  red positive) whatever colour map was asked for; unsigned maps through the one asked.
"""
from __future__ import annotations

import cv2
import numpy as np

from .. import colormaps
from ..errors import UserError

DIVERGING = "coolwarm"
PERCENTILE = 99.0


def resize(values: np.ndarray, size, signed: bool) -> np.ndarray:
    """(h, w) -> (H, W) float32, bilinear, clipped to [-1, 1] (signed) or [0, 1]."""
    h, w = int(size[0]), int(size[1])
    v = np.ascontiguousarray(values, np.float32)
    if v.shape != (h, w):
        v = cv2.resize(v, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(v, -1.0 if signed else 0.0, 1.0)


def display_scale(values: np.ndarray) -> np.ndarray:
    """values / (99th percentile of |values|), clipped to [-1, 1]."""
    mag = np.abs(values)
    top = float(np.percentile(mag, PERCENTILE)) if mag.size else 0.0
    if not top > 0.0:
        top = float(mag.max()) if mag.size else 0.0
    if not top > 0.0:
        return np.zeros_like(values, np.float32)
    return np.clip(values / top, -1.0, 1.0).astype(np.float32)


def pixel_overlay(pixels: np.ndarray, values: np.ndarray, signed: bool, alpha: float = 0.4,
                  colormap: str = "inferno") -> np.ndarray:
    """uint8 RGB (H, W, 3): the attribution coloured over a grey copy of `pixels`."""
    alpha = float(alpha)
    if not 0.0 <= alpha <= 1.0:
        raise UserError(f"alpha must be between 0 and 1, not {alpha}")
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    p = pixels[..., :3].astype(np.float32)
    grey = p.mean(axis=2, keepdims=True) if p.shape[2] == 1 else (
        p[..., 0:1] * 0.299 + p[..., 1:2] * 0.587 + p[..., 2:3] * 0.114)
    v = display_scale(resize(values, pixels.shape[:2], signed))
    if signed:
        rgb = colormaps.apply((v + 1.0) * 0.5, DIVERGING)
    else:
        rgb = colormaps.apply(np.maximum(v, 0.0), colormap)
    a = np.clip(np.abs(v) * (alpha / 0.4), 0.0, 1.0)[..., None]
    out = (1.0 - a) * grey + a * rgb.astype(np.float32)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
