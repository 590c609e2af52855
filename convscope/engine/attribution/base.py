"""What every attribution method starts from and ends with: the target, the result.

`Target` holds one image fitted to the model (pixel space, engine.attribution.graphs),
the class explained (engine.cam.targets: pre-softmax score, the sigmoid class-0 rule,
top prediction by default, resolved once on the clean image so noisy / masked copies
explain the same class) and its score.

Maps are scaled for display as the issue's convention says:
- unsigned maps (saliency, SmoothGrad, guided backprop, RISE, the CAMs) are min-max
  normalised to [0, 1] (engine.cam.result.normalise);
- signed maps (Integrated Gradients, occlusion) keep their sign and are divided by their
  largest magnitude, to [-1, 1] (engine.cam.result.normalise_signed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .. import preprocess as prep
from ..cam import targets
from ..errors import UserError


@dataclass
class Target:
    image: object  # engine.images.Image
    xpix: np.ndarray  # (1, H, W, C) float32 in [0, 255]
    x: np.ndarray  # the model's preprocessed input (1, H, W, C)
    unit: np.ndarray  # (1,) int32
    sign: np.ndarray  # (1,) float32
    score: float  # the target score of the clean image (pre-softmax)
    logits: np.ndarray  # (1, units)
    class_index: int
    label: str
    scorer: object = None  # a bound non-class target (engine.targets.scorers), or None

    def units(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.repeat(self.unit, n), np.repeat(self.sign, n)


def target(m, image, unit: int, sign: float, forward: bool = True, scorer=None) -> Target:
    """The image fitted to the model and the target to explain (engine.cam.targets:
    unit -1 is the top prediction).

    forward=False skips the forward pass that resolves the top prediction and the score:
    for methods whose own first pass tells them (`resolved` fills them in after)."""
    xpix = m.pixels([image]).astype(np.float32)
    x = prep.apply(xpix, m.preprocess).astype(np.float32)
    unit = np.array([unit], np.int32)
    sign = np.array([sign], np.float32)
    t = Target(image=image, xpix=xpix, x=x, unit=unit, sign=sign, score=float("nan"),
               logits=None, class_index=-1, label="", scorer=scorer)
    if forward and scorer is not None:  # the target's own pass (engine.targets.run)
        from ..targets import run

        unit, sign, score, _ = run.scores(m, scorer, x, unit, sign)
        resolved(m, t, unit, sign, score)
    elif forward:
        logits, _ = m.forward(x, logits=True)
        t.logits = logits
        unit, sign, score = targets.select_np(logits, unit, sign, m.head.binary_sigmoid)
        resolved(m, t, unit, sign, score)
    return t


def resolved(m, t: Target, unit, sign, score) -> Target:
    """Fill in the target's resolved unit, sign, score, class and label."""
    t.unit, t.sign = np.asarray(unit, np.int32)[:1], np.asarray(sign, np.float32)[:1]
    t.score = float(np.asarray(score)[0])
    if t.scorer is not None:
        t.class_index = t.scorer.class_of(int(t.unit[0]), float(t.sign[0]))
        t.label = t.scorer.label(int(t.unit[0]), float(t.sign[0]))
        return t
    t.class_index = targets.class_of(int(t.unit[0]), float(t.sign[0]), m.head.binary_sigmoid)
    t.label = m.label(t.class_index)
    return t


class Piece(NamedTuple):
    """One image's pixel map: raw (h, w) before scaling, method details, what to draw."""

    raw: np.ndarray
    info: dict
    display: np.ndarray | None = None


def piece(raw: np.ndarray, info=None, display=None) -> Piece:
    return Piece(np.asarray(raw, np.float32), dict(info or {}), display)


def positive_int(name: str, value, low: int = 1) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a whole number, not {value!r}") from None
    if v != value and not isinstance(value, (int, np.integer)) and float(value) != v:
        raise UserError(f"{name} must be a whole number, not {value!r}")
    if v < low:
        raise UserError(f"{name} must be at least {low}, not {value}")
    return v


def number(name: str, value, low: float | None = None, high: float | None = None) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number, not {value!r}") from None
    if not np.isfinite(v) or (low is not None and v < low) or (high is not None and v > high):
        rng = (f"between {low} and {high}" if high is not None else f"at least {low}")
        raise UserError(f"{name} must be {rng}, not {value}")
    return v
