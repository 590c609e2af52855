"""Which number a CAM explains: the target class's score, and its probability.

Scores are taken before the head's softmax / sigmoid (engine.hooks.Intercept logits=True):
- softmax or linear head: score = logit[c];
- a single sigmoid unit (binary): class 1 -> score = logit, class 0 -> score = -logit
  (the logit of class 0, since 1 - sigmoid(z) = sigmoid(-z)), so the class-0 gradient is
  exactly the negated class-1 gradient;
- several sigmoid units (multi-label): score = logit[c].

A target is held as (unit, sign): the output unit read and the sign applied. `unit = -1`
asks for the top prediction, resolved from the logits.

Score-CAM and the faithfulness curves need a *bounded* confidence, so `probability` maps
the score the way the model's own head does, computed from the logits (never a softmax on
top of the model's softmax): softmax probability of c for softmax heads (as the Score-CAM
paper), sigmoid(score) for sigmoid heads (so class 0 gets 1 - p), the raw output for
linear heads (no probability exists; the paper's choice of the model's own output).
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError


def resolve(m, class_index, n: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(unit (n,) int32, sign (n,) float32, wanted classes) for one class or one per image.

    class_index: None (top prediction), an index, a label, or a list of those per image.
    """
    if isinstance(class_index, np.ndarray) and class_index.ndim == 0:
        class_index = class_index.item()  # np.array(2) is one class, not a list
    if isinstance(class_index, (list, tuple, np.ndarray)):
        wanted = list(class_index)
        if len(wanted) != n:
            raise UserError(f"{len(wanted)} classes given for {n} images; give one class, or one per image")
    else:
        wanted = [class_index] * n
    classes = [None if c is None else m.class_index(_plain(c)) for c in wanted]
    unit = np.full(n, -1, np.int32)
    sign = np.ones(n, np.float32)
    for i, c in enumerate(classes):
        if c is None:
            continue
        if m.head.binary_sigmoid:
            unit[i], sign[i] = 0, (1.0 if c == 1 else -1.0)
        else:
            unit[i] = c
    return unit, sign, classes


def _plain(c):
    return int(c) if isinstance(c, (np.integer,)) else c


def select_tf(logits, unit, sign, binary: bool):
    """In a graph: resolve top-prediction targets and return (unit, sign, score) (N,)."""
    import tensorflow as tf

    if binary:
        auto = tf.where(logits[:, 0] >= 0.0, 1.0, -1.0)
        sign = tf.where(unit < 0, auto, sign)
        unit = tf.zeros_like(unit)
    else:
        unit = tf.where(unit < 0, tf.argmax(logits, axis=-1, output_type=tf.int32), unit)
    score = sign * tf.gather(logits, unit, axis=1, batch_dims=1)
    return unit, sign, score


def select_np(logits: np.ndarray, unit: np.ndarray, sign: np.ndarray, binary: bool):
    """The same in numpy, on logits already computed."""
    unit, sign = unit.copy(), sign.copy()
    if binary:
        sign = np.where(unit < 0, np.where(logits[:, 0] >= 0.0, 1.0, -1.0), sign).astype(np.float32)
        unit[:] = 0
    else:
        unit = np.where(unit < 0, logits.argmax(axis=-1), unit).astype(np.int32)
    score = sign * np.take_along_axis(logits, unit[:, None], axis=1)[:, 0]
    return unit, sign, score.astype(np.float32)


def class_of(unit: int, sign: float, binary: bool) -> int:
    if binary:
        return 1 if sign > 0 else 0
    return int(unit)


def probability_tf(logits, unit, sign, activation: str):
    """Bounded confidence of the target in a graph (see the module docstring)."""
    import tensorflow as tf

    score = sign * tf.gather(logits, unit, axis=1, batch_dims=1)
    if activation == "softmax":
        return tf.gather(tf.nn.softmax(logits, axis=-1), unit, axis=1, batch_dims=1)
    if activation == "sigmoid":
        return tf.sigmoid(score)
    return score


def probability_np(logits: np.ndarray, unit: np.ndarray, sign: np.ndarray, activation: str) -> np.ndarray:
    logits = logits.astype(np.float64)
    score = sign * np.take_along_axis(logits, unit[:, None], axis=1)[:, 0]
    if activation == "softmax":
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        return np.take_along_axis(p, unit[:, None], axis=1)[:, 0]
    if activation == "sigmoid":
        return 1.0 / (1.0 + np.exp(-score))
    return score
