"""A test clip: one demo shape moving over a cluttered background, its pixels known in
every frame (so a video's heatmaps can be checked for following the object).

The background is drawn once per clip (engine.demo_shapes' noisy gradient and clutter);
the object glides along a Lissajous path that keeps it whole inside the frame, turns
slowly, and changes shape every `n_frames / len(labels)` frames; each frame gets fresh
sensor-like noise. numpy + OpenCV only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import demo_shapes as ds


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # uint8 (N, H, W, 3) RGB
    masks: np.ndarray  # bool (N, H, W): the object's pixels
    labels: np.ndarray  # (N,) class index per frame (engine.demo_shapes.CLASSES)
    centres: np.ndarray  # (N, 2) float: the object's centre (x, y)
    fps: float


def make_clip(n_frames: int = 60, size: int = 96, seed: int = 0, fps: float = 25.0,
              labels=None, noise: float | None = None) -> Clip:
    """n_frames of a size x size clip; `labels`: the shapes shown in turn (default all);
    `noise`: the per-frame noise's standard deviation (default: random, 4 to 10)."""
    if n_frames < 1 or size < 32:
        raise ValueError("a clip needs at least 1 frame and 32 pixels")
    rng = np.random.default_rng(seed)
    labels = list(range(len(ds.CLASSES))) if labels is None else [int(x) for x in labels]
    scale = size / 96.0
    background, base = ds._background(rng, size)
    r = 0.5 * 34 * scale  # a large demo object (34 px across at 96 px)
    margin = r + 2
    colours = [ds._colour(rng, avoid=base, min_dist=120.0) for _ in labels]
    sigma = rng.uniform(4, 10)
    noise = sigma if noise is None else float(noise)
    phase = rng.uniform(0, 2 * np.pi, 2)

    frames = np.empty((n_frames, size, size, 3), np.uint8)
    masks = np.empty((n_frames, size, size), bool)
    per_label = np.empty(n_frames, np.int64)
    centres = np.empty((n_frames, 2), np.float64)
    span = size / 2 - margin
    for i in range(n_frames):
        t = 2 * np.pi * i / max(n_frames, 2)
        cx = size / 2 + span * np.sin(2 * t + phase[0])  # Lissajous 2:3 keeps it moving
        cy = size / 2 + span * np.sin(3 * t + phase[1])
        k = min(len(labels) - 1, i * len(labels) // n_frames)
        label = labels[k]
        angle = 0.05 * i
        mask_u8 = np.zeros((size, size), np.uint8)
        ds._draw_shape(mask_u8, label, cx, cy, r, angle, 1)
        mask = mask_u8.astype(bool)
        img = background.copy()
        img[mask] = colours[k]
        img += noise * rng.standard_normal(img.shape, np.float32)
        frames[i] = np.clip(np.round(img), 0, 255).astype(np.uint8)
        masks[i], per_label[i], centres[i] = mask, label, (cx, cy)
    return Clip(frames, masks, per_label, centres, float(fps))


def write_clip(path: str, clip: Clip) -> None:
    """The clip's frames to a video file (engine.video.io, written atomically)."""
    from .io import write_video

    write_video(path, clip.frames, clip.fps)
