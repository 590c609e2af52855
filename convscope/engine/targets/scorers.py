"""Each target kind's scalar, as TensorFlow code run inside the compiled passes
(engine.targets.binding checks a parsed target against a model and makes its scorer).

Every pass runs the model inside engine.hooks.Intercept(logits=True), which strips the
softmax / sigmoid of EVERY output, so a scorer sees pre-squash values of all outputs by
name (`outs`, engine.targets.outputs.as_dict) and the inner layers it asked to record
(`rec`, its `record` paths). Per image it returns (unit, sign, score): `unit` the class /
unit explained, resolved in the graph when it is -1 ("the top one"), `sign` +-1.

The class path (`class:C`, `value[:i]`, `output:FIRST[:C]`) is not a scorer: bind turns
it into today's (unit, sign) arrays (engine.cam.targets), so it keeps its compiled
functions and caches (no retrace when the class changes).

Definitions (z: pre-softmax / pre-sigmoid outputs; N images):
- output:NAME[:C] -- z = outs[NAME] (N, k): score = z_C (top unit when no C). One sigmoid
  unit: class 1 = z, class 0 = -z (as engine.cam.targets). Confidence: the output's own
  probability (softmax_C / sigmoid(score)), or none (the raw score) for a linear output.
- region / mask[:C] -- Seg-Grad-CAM (Vinogradova, Dibrov & Myers 2020, eq. 1):
      y^C = Sum_{(i, j) in M} z_ij^C
  over the set M of output pixels in the region (an output pixel belongs to a box when its
  centre, in input pixels, lies inside the box). Without C: the region's predicted class,
  the class most pixels of M are predicted as (argmax per pixel, majority vote, ties to the
  lower index), i.e. what the predicted mask shows. One-channel outputs: class 1 = z,
  class 0 = -z. Confidence: the mean over M of the pixel's probability of C (softmax_C or
  sigmoid), none (the raw score) for a linear output.
- unit:LAYER:CH[@y,x] -- s = (1 / hw) Sum_ij A_ij^CH (the channel's mean activation),
  or A_yx^CH at one position of the layer's grid. Confidence: none (the raw score).
- similar:REF[@LAYER] -- s = <e(x), e(REF)> / (|e(x)| |e(REF)|), e the flattened output
  of LAYER (default: the layer feeding a classifier's head; the model's output for a
  model without a squashing classifier head, e.g. an embedding model). Confidence: s itself
  (bounded in [-1, 1]).
- callable f -- s = f(outs), outs the {output name: pre-squash tensor} dict.
  Confidence: none (the raw score).
"""
from __future__ import annotations

import numpy as np

from . import outputs as outs_mod
from .spec import Target

EPS = 1e-12


class Scorer:
    """A bound non-class target. Never holds the ConvModel (compiled functions close over
    it; engine.cam.compute keys its state weakly on the model)."""

    record: tuple = ()
    confidence_name = "none: the raw score"
    layer: str | None = None  # a default map layer (unit targets: their own layer)

    def __init__(self, target: Target, names: tuple):
        self.target, self.names = target, tuple(names)

    @property
    def key(self):
        return getattr(self, "_key", None) or self.target.key + self._extra_key()

    def _extra_key(self) -> tuple:
        return ()

    @property
    def spec(self) -> str:
        return self.target.spec

    def select(self, y, rec, unit, sign):
        raise NotImplementedError

    def confidence(self, y, rec, unit, sign):
        return self.select(y, rec, unit, sign)[2]

    def class_of(self, unit: int, sign: float) -> int:
        return int(unit)

    def label(self, unit: int, sign: float = 1.0) -> str:
        return self.target.description

    def outs(self, y) -> dict:
        return outs_mod.as_dict(y, self.names)


class VectorOutput(Scorer):
    def __init__(self, target, names, head):
        super().__init__(target, names)
        self.head = head
        self.binary = head.activation == "sigmoid" and head.shape[-1] == 1
        self._key = ("output", head.name)  # C is a tensor argument: no retrace per unit
        if head.activation != "linear":
            self.confidence_name = f"the output's {head.activation} probability"

    def select(self, y, rec, unit, sign):
        from ..cam import targets as ct

        return ct.select_tf(self.outs(y)[self.head.name], unit, sign, self.binary)

    def confidence(self, y, rec, unit, sign):
        from ..cam import targets as ct

        z = self.outs(y)[self.head.name]
        unit, sign, _ = ct.select_tf(z, unit, sign, self.binary)
        return ct.probability_tf(z, unit, sign, self.head.activation)

    def class_of(self, unit, sign):
        return (1 if sign > 0 else 0) if self.binary else int(unit)

    def label(self, unit, sign=1.0):
        return f"output {self.head.name}, unit {self.class_of(unit, sign)}"


class Region(Scorer):
    """region / mask: `mask` (h, w) float32 over the output grid, 1 inside."""

    def __init__(self, target, names, head, mask: np.ndarray, layer: str | None = None):
        super().__init__(target, names)
        self.head, self.mask = head, np.asarray(mask, np.float32)
        self.layer = layer  # default map layer (None: the model's default CAM layer)
        self.k = int(head.shape[-1])
        if head.activation != "linear":
            self.confidence_name = (f"the mean {head.activation} probability of the class "
                                    "over the region")

    @property
    def key(self):
        """The region's pixels and output, not C (C is a tensor argument: changing the
        class of a region does not retrace; a new region does)."""
        import hashlib

        return ("region", self.head.name, self.mask.shape,
                hashlib.blake2b(self.mask.tobytes(), digest_size=8).hexdigest())

    def _parts(self, y, unit, sign):
        import tensorflow as tf

        z = self.outs(y)[self.head.name]  # (N, h, w, k) pre-squash
        M = tf.constant(self.mask)[None, :, :, None]
        if self.k == 1:  # one channel: class 1 = z, class 0 = -z
            votes1 = tf.reduce_sum(tf.cast(z >= 0.0, z.dtype) * M, axis=(1, 2, 3))
            auto = tf.where(2.0 * votes1 >= float(self.mask.sum()), 1, 0)
            c = tf.where(unit < 0, auto, unit)
            s = tf.where(c == 1, 1.0, -1.0)
            return z, M, c, s, s * tf.reduce_sum(z * M, axis=(1, 2, 3))
        S = tf.reduce_sum(z * M, axis=(1, 2))  # (N, k): each class's logits summed over M
        votes = tf.reduce_sum(tf.one_hot(tf.argmax(z, axis=-1), self.k, dtype=z.dtype) * M,
                              axis=(1, 2))
        c = tf.where(unit < 0, tf.argmax(votes, axis=-1, output_type=tf.int32), unit)
        return z, M, c, sign, sign * tf.gather(S, c, axis=1, batch_dims=1)

    def select(self, y, rec, unit, sign):
        _, _, c, s, score = self._parts(y, unit, sign)
        return c, s, score

    def confidence(self, y, rec, unit, sign):
        import tensorflow as tf

        z, M, c, s, score = self._parts(y, unit, sign)
        area = float(self.mask.sum())
        act = self.head.activation
        if act == "softmax" and self.k > 1:
            p = tf.gather(tf.nn.softmax(z, axis=-1), c, axis=3, batch_dims=1)
        elif act == "sigmoid":
            zc = (z[..., 0] * s[:, None, None] if self.k == 1
                  else tf.gather(z, c, axis=3, batch_dims=1))
            p = tf.sigmoid(zc)
        else:
            return score
        return tf.reduce_sum(p * M[..., 0], axis=(1, 2)) / area

    def class_of(self, unit, sign):
        return int(unit)

    def label(self, unit, sign=1.0):
        where = (f"box {','.join(str(v) for v in self.target.box)}" if self.target.box
                 else f"mask {self.target.path}")
        return f"class {int(unit)} over the {where}"


class Unit(Scorer):
    def __init__(self, target, names, rank: int):
        super().__init__(target, names)
        self.record = (target.layer,)
        self.layer = target.layer if rank == 4 else None
        self.rank = rank

    def select(self, y, rec, unit, sign):
        import tensorflow as tf

        a = rec[self.target.layer]
        ch = self.target.channel
        if self.rank == 4:
            if self.target.at is not None:
                yy, xx = self.target.at
                s = a[:, yy, xx, ch]
            else:
                s = tf.reduce_mean(a[..., ch], axis=(1, 2))
        else:
            s = tf.reshape(a, (tf.shape(a)[0], -1))[:, ch]
        return tf.fill(tf.shape(s), ch), sign, sign * tf.cast(s, tf.float32)

    def label(self, unit, sign=1.0):
        return self.target.description


class Similar(Scorer):
    confidence_name = "the cosine similarity itself (in [-1, 1])"

    def __init__(self, target, names, layer: str | None, output: str | None, ref: np.ndarray):
        super().__init__(target, names)
        self.emb_layer, self.emb_output = layer, output
        self.record = (layer,) if layer else ()
        self.ref = np.asarray(ref, np.float32).reshape(-1)

    def _extra_key(self):
        return (self.emb_layer, self.emb_output)

    def embedding(self, y, rec):
        import tensorflow as tf

        e = rec[self.emb_layer] if self.emb_layer else self.outs(y)[self.emb_output]
        return tf.reshape(tf.cast(e, tf.float32), (tf.shape(e)[0], -1))

    def select(self, y, rec, unit, sign):
        import tensorflow as tf

        e = self.embedding(y, rec)
        r = tf.constant(self.ref)
        cos = tf.reduce_sum(e * r[None], axis=1) / (tf.norm(e, axis=1) * float(np.linalg.norm(self.ref)) + EPS)
        return unit, sign, sign * cos

    def label(self, unit, sign=1.0):
        return f"similarity to {self.target.path} at {self.emb_layer or self.emb_output}"


class Callable(Scorer):
    def select(self, y, rec, unit, sign):
        import tensorflow as tf

        s = tf.reshape(tf.cast(self.target.fn(self.outs(y)), tf.float32), (-1,))
        return unit, sign, sign * s
