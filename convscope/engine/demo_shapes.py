"""Synthetic images for the demo classifier: one shape on a cluttered background.

Every image holds exactly one object (circle, square, triangle or star) whose pixels are
known, so a class activation map can be checked for localisation, not just accuracy.
numpy + OpenCV only: the generator must run without TensorFlow or Qt.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASSES = ("circle", "square", "triangle", "star")

MIN_SIZE, MAX_SIZE = 20, 40  # diameter of the object's circumscribed circle, pixels


@dataclass(frozen=True)
class Sample:
    image: np.ndarray  # uint8 (H, W, 3), RGB
    label: int  # index into CLASSES
    mask: np.ndarray  # bool (H, W), True on the object's pixels
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), the mask's bounding box


def _colour(rng: np.random.Generator, avoid: np.ndarray | None = None,
            min_dist: float = 0.0) -> np.ndarray:
    """A random RGB colour at least `min_dist` away from `avoid` (so the object shows)."""
    for _ in range(100):
        c = rng.integers(0, 256, 3).astype(np.float64)
        if avoid is None or np.linalg.norm(c - avoid) >= min_dist:
            return c
    return 255.0 - avoid  # fall back to the complement: always far enough


def _polygon(label: int, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """Vertices (int32, N x 2) of a square, triangle or star inscribed in radius r."""
    if label == 1:
        t = angle + np.arange(4) * np.pi / 2
        radii = np.full(4, r)
    elif label == 2:
        t = angle + np.arange(3) * 2 * np.pi / 3
        radii = np.full(3, r)
    else:  # star: 5 points, inner radius ~0.45 r so the arms are clearly visible
        t = angle + np.arange(10) * np.pi / 5
        radii = np.where(np.arange(10) % 2 == 0, r, 0.45 * r)
    pts = np.stack([cx + radii * np.cos(t), cy + radii * np.sin(t)], axis=1)
    return np.round(pts).astype(np.int32)


def _draw_shape(canvas: np.ndarray, label: int, cx: float, cy: float, r: float,
                angle: float, colour) -> None:
    if label == 0:
        cv2.circle(canvas, (round(cx), round(cy)), round(r), colour, -1, cv2.LINE_8)
    else:
        cv2.fillPoly(canvas, [_polygon(label, cx, cy, r, angle)], colour, cv2.LINE_8)


def _background(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Noisy gradient plus clutter (thin lines, small blobs); returns (float image, base)."""
    base = rng.integers(0, 256, 3).astype(np.float64)
    # a linear colour gradient so the background is not one flat colour
    other = np.clip(base + rng.normal(0, 40, 3), 0, 255)
    gx, gy = rng.normal(0, 1, 2)
    ramp = np.add.outer(np.arange(size) * gy, np.arange(size) * gx)
    ramp = (ramp - ramp.min()) / (np.ptp(ramp) + 1e-9)
    img = (base + ramp[..., None] * (other - base)).astype(np.float32)  # float32: faster
    # clutter in other colours; thin or small, so it cannot be mistaken for a class object
    for _ in range(rng.integers(2, 7)):
        p0, p1 = rng.integers(-10, size + 10, (2, 2))
        cv2.line(img, tuple(map(int, p0)), tuple(map(int, p1)),
                 _colour(rng).tolist(), int(rng.integers(1, 3)), cv2.LINE_AA)
    for _ in range(rng.integers(2, 7)):
        c = rng.integers(0, size, 2)
        axes = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))  # well below circle size
        cv2.ellipse(img, tuple(map(int, c)), axes, float(rng.uniform(0, 180)), 0, 360,
                    _colour(rng).tolist(), -1, cv2.LINE_AA)
    return img, base


def make_sample(rng: np.random.Generator, label: int | None = None, size: int = 96) -> Sample:
    """One image with one object of class `label` (random if None) anywhere in the frame."""
    if label is None:
        label = int(rng.integers(len(CLASSES)))
    if not 0 <= label < len(CLASSES):
        raise ValueError(f"label must be in 0..{len(CLASSES) - 1}, got {label}")
    scale = size / 96.0
    img, base = _background(rng, size)

    r = rng.uniform(MIN_SIZE, MAX_SIZE) * scale / 2
    cx, cy = rng.uniform(r + 1, size - r - 1, 2)  # whole object inside the frame
    angle = rng.uniform(0, 2 * np.pi)
    colour = _colour(rng, avoid=base, min_dist=120.0)

    mask_u8 = np.zeros((size, size), np.uint8)
    _draw_shape(mask_u8, label, cx, cy, r, angle, 1)
    mask = mask_u8.astype(bool)
    # a little shading across the object so its colour is not perfectly flat
    shade = 1.0 + 0.15 * rng.uniform(-1, 1) * np.linspace(-1, 1, size)  # per column
    cols = np.nonzero(mask)[1]
    img[mask] = np.clip(colour[None, :] * shade[cols, None], 0, 255)

    img += rng.uniform(4, 16) * rng.standard_normal(img.shape, np.float32)  # sensor-like noise
    image = np.clip(np.round(img), 0, 255).astype(np.uint8)

    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return Sample(image=image, label=label, mask=mask, box=box)


def make_batch(n: int, seed: int, size: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n samples with balanced classes in random order: (images, labels, masks)."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES))
    images = np.empty((n, size, size, 3), np.uint8)
    masks = np.empty((n, size, size), bool)
    for i, lab in enumerate(labels):
        s = make_sample(rng, int(lab), size)
        images[i], masks[i] = s.image, s.mask
    return images, labels.astype(np.int64), masks
