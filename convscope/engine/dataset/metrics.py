"""Per-image faithfulness and localisation metrics of a saliency map, as their papers define them.

All values are fractions in [0, 1] (never percent); a dataset's figure is the mean of the
per-image values (engine.dataset.summary adds bootstrap intervals).

- Deletion / insertion AUC (Petsiuk et al. 2018, RISE §4.1): engine.cam.faithfulness.
- Average drop (Chattopadhay et al. 2018, Grad-CAM++ §6.1.1):
      Average Drop % = 100/N * sum_i max(0, Y_i^c - O_i^c) / Y_i^c,
  Y^c the model's confidence in class c on the full image, O^c on the image multiplied
  by the explanation map (E ⊙ I, the map upsampled to the input). Per image:
  max(0, Y - O) / Y. Lower is better.
- Increase in confidence (same paper, §6.1.2):
      % Increase in Confidence = 100/N * sum_i 1[Y_i^c < O_i^c].
  Per image: 1 if O > Y else 0. Higher is better.
- Pointing game (Zhang et al. 2016, Excitation Backprop §5.1): a hit when the map's
  maximum (at the image's resolution) falls inside the annotated box or mask, "with a
  15-pixel tolerance": within 15 px of an object pixel. Accuracy = hits / (hits + misses).
  A constant map has no maximum to point with: a miss.
- Energy-based pointing game (Wang et al. 2020, Score-CAM §5.2): the share of the map's
  energy inside the box: sum(L[in box]) / (sum(L[in box]) + sum(L[outside])), L the
  (upsampled, [0, 1]) map. An all-zero map has no energy: undefined (NaN).

"Confidence" is engine.cam.targets.probability (softmax probability of the class for a
softmax head, sigmoid for sigmoid heads).
"""
from __future__ import annotations

import math

import cv2
import numpy as np

MAX_STEPS = 1000  # deletion/insertion curve steps: each is a forward pass of the batch (papers: 50)

METRICS = ("deletion", "insertion", "drop", "increase", "pointing", "energy")
COLUMNS = {"deletion": "deletion_auc", "insertion": "insertion_auc", "drop": "average_drop",
           "increase": "increase_in_confidence", "pointing": "pointing_game",
           "energy": "energy_pointing_game"}
NEEDS_REGION = ("pointing", "energy")
TOLERANCE_PX = 15  # Zhang et al. 2016


def average_drop(full: float, masked: float) -> float:
    """max(0, Y - O) / Y for one image (Chattopadhay et al. 2018); NaN when Y is 0."""
    if not full > 0.0:
        return math.nan
    return max(0.0, full - masked) / full


def increase_in_confidence(full: float, masked: float) -> float:
    """1 when the masked input is more confident than the full one, else 0."""
    return 1.0 if masked > full else 0.0


def pointing_game(heatmap: np.ndarray, region: np.ndarray, tolerance: float = TOLERANCE_PX) -> float:
    """1.0 (hit) or 0.0: is the map's maximum within `tolerance` px of the region?

    heatmap and region (bool) at the same (image) resolution.
    """
    hm = np.asarray(heatmap, np.float32)
    region = np.asarray(region, bool)
    if hm.shape != region.shape:
        raise ValueError(f"heatmap {hm.shape} and region {region.shape} differ in size")
    if not region.any() or not float(hm.max()) > float(hm.min()):
        return 0.0
    y, x = np.unravel_index(int(np.argmax(hm)), hm.shape)
    if region[y, x]:
        return 1.0
    # Euclidean distance from every pixel to the nearest region pixel.
    dist = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return 1.0 if float(dist[y, x]) <= tolerance else 0.0


def energy_pointing_game(heatmap: np.ndarray, region: np.ndarray) -> float:
    """Share of the map's energy inside the region (Wang et al. 2020); NaN for a zero map."""
    hm = np.maximum(np.asarray(heatmap, np.float64), 0.0)
    total = float(hm.sum())
    if not total > 0.0:
        return math.nan
    return float(hm[np.asarray(region, bool)].sum()) / total


def box_region(box, size: tuple[int, int]) -> np.ndarray:
    """Bool (H, W) mask of a box x0, y0, x1, y1 (x1/y1 exclusive) in pixel coordinates.

    Pixel (y, x) covers [x, x+1) x [y, y+1); it is inside when it overlaps the box.
    """
    h, w = size
    x0, y0, x1, y1 = box
    c0, r0 = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    c1, r1 = min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1)))
    out = np.zeros((h, w), bool)
    if c1 > c0 and r1 > r0:
        out[r0:r1, c0:c1] = True
    return out
