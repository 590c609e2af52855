"""Images for filter patterns: the classic start image and deprocessing (the seed's), and
for regularized mode the image parametrisations, random transforms, penalties and step.

What makes a filter pattern readable on networks other than VGG16 (Olah et al., "Feature
Visualization", Distill 2017; the lucid library), written here for batched TensorFlow:

- parametrisation: the image is `255 * sigmoid(colour(irfft2(spectrum * 1/f)))`: a
  Fourier spectrum scaled by 1/frequency (so low frequencies move first) and a colour
  decorrelation matrix (so the optimiser works in a whitened colour space), squashed into
  [0, 255] by a sigmoid. `param="pixel"` optimises the pixels themselves (clipped);
- transformation robustness: each step the model sees a copy of the image with a random
  translation (jitter), scale and rotation (one bilinear affine warp per image, reflecting
  at the borders); a pattern must keep working under all of them, which removes the
  high-frequency adversarial noise that plain gradient ascent grows;
- penalties: total variation and an L2 norm of the image (around mid-grey). Each term's
  gradient is divided by its RMS (per image) before they are combined, so the weights mean
  "how hard this term pushes relative to the activation" and do not depend on the scale
  of a layer's activations (which differs by orders of magnitude between networks);
- optimiser: Adam (element-wise, so images in a batch stay independent), or the seed's
  RMS-normalised gradient step (`optimizer="normalized"`);
- pre-activation: the target layer's activation (a Conv's built-in ReLU, or a ReLU layer)
  is skipped for the objective. A filter that is silent (ReLU = 0) on the grey start image
  has no gradient at all after the ReLU, and most filters of deep trained layers are
  silent there; before the ReLU every filter has a gradient. (Classic mode keeps the
  seed's post-activation objective.)

Every random number (initial spectrum, transforms) is drawn per filter index from the
seed, so a pattern does not depend on which other filters share its batch.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from ..errors import UserError

# Square root of the colour correlation of ImageNet photographs (the matrix lucid uses),
# normalised so its largest column has unit norm.
_COLOR_SQRT = np.array([[0.26, 0.09, 0.02],
                        [0.27, 0.00, -0.05],
                        [0.27, -0.09, 0.03]], np.float32)
COLOR_MATRIX = _COLOR_SQRT / np.max(np.linalg.norm(_COLOR_SQRT, axis=0))


@dataclass(frozen=True)
class Regularized:
    """The knobs of `mode="regularized"` (all keyword arguments of filter_patterns)."""

    lr: float = 0.1  # step size (fourier: spectrum units; pixel: lr * 255 pixel units)
    optimizer: str = "adam"  # adam | normalized (the seed's step: grad / RMS(grad) * lr)
    param: str = "fourier"  # fourier | pixel
    decorrelate: bool = True  # colour decorrelation (3-channel models, fourier param)
    decay: float = 1.0  # fourier: spectrum scaled by 1 / f**decay
    jitter: float = 0.06  # max translation, fraction of the image side
    scale: float = 0.1  # random zoom in [1 - scale, 1 + scale]
    rotate: float = 10.0  # max rotation, degrees
    tv: float = 0.05  # total variation weight (relative to the activation's push)
    l2: float = 0.0  # L2 norm weight (image around mid-grey; relative)
    pre_activation: bool = True  # maximise the layer's output before its ReLU (see below)

    @classmethod
    def from_options(cls, options: dict) -> "Regularized":
        """Take this mode's knobs out of `options` (the rest stay for the caller)."""
        kinds = {f.name: f.type for f in fields(cls)}
        kw = {}
        for name in [k for k in options if k in kinds]:
            value = options.pop(name)
            try:
                kw[name] = {"float": float, "bool": bool}.get(kinds[name], str)(value)
            except (TypeError, ValueError):
                raise UserError(f"{name}={value!r}: expected a {kinds[name]}") from None
        cfg = cls(**kw)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if self.optimizer not in OPTIMISERS:
            raise UserError(f"optimizer {self.optimizer!r}: use {' or '.join(OPTIMISERS)}")
        if self.param not in PARAMETRISATIONS:
            raise UserError(f"param {self.param!r}: use {' or '.join(PARAMETRISATIONS)}")
        for name in ("lr", "jitter", "scale", "rotate", "tv", "l2", "decay"):
            if not np.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise UserError(f"{name} must be a finite number >= 0, not {getattr(self, name)!r}")
        if self.lr == 0:
            raise UserError("lr must be > 0")
        if self.scale >= 1:
            raise UserError("scale must be below 1 (zoom range 1 - scale .. 1 + scale)")

    @property
    def parametrisation(self) -> "Fourier | Pixel":
        """The image parametrisation object this config names (`param`)."""
        return PARAMETRISATIONS[self.param](self)

    @property
    def optimiser(self) -> "Adam | Normalized":
        """The optimiser object this config names (`optimizer`)."""
        return OPTIMISERS[self.optimizer]()

    def pixel_lr(self) -> float:
        """The step size in the parametrisation's own units (pixels: [0, 255])."""
        return self.lr * self.parametrisation.lr_scale


# -- parametrisations: how the optimised numbers become an image -----------------------------
@dataclass(frozen=True)
class Fourier:
    """image = 255 sigmoid(colour(irfft2(spectrum / f**decay)) / 4) (Olah et al. 2017)."""

    decay: float = 1.0
    decorrelate: bool = True
    lr_scale: ClassVar[float] = 1.0  # the step acts on spectrum units

    def shape(self, h: int, w: int, c: int) -> tuple:
        return (2, c, h, w // 2 + 1)  # real and imaginary parts of the rfft2 spectrum

    def init(self, rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
        return rng.normal(0.0, 0.01, self.shape(h, w, c))

    def to_image(self, params, h: int, w: int, c: int):
        import tensorflow as tf

        scale = tf.constant(spectrum_scale(h, w, self.decay))
        spectrum = tf.complex(params[:, 0] * scale, params[:, 1] * scale)  # (N, C, H, Wf)
        img = tf.signal.irfft2d(spectrum, fft_length=[h, w])  # (N, C, H, W)
        img = tf.transpose(img, [0, 2, 3, 1]) / 4.0
        if self.decorrelate and c == 3:
            img = tf.tensordot(img, tf.constant(COLOR_MATRIX.T), axes=1)
        return 255.0 * tf.sigmoid(img)

    def project(self, params):
        return params  # every spectrum is an image in (0, 255)


@dataclass(frozen=True)
class Pixel:
    """The pixels themselves, kept inside [0, 255] after each update."""

    lr_scale: ClassVar[float] = 255.0  # the step acts on [0, 255] pixels

    def shape(self, h: int, w: int, c: int) -> tuple:
        return (h, w, c)

    def init(self, rng: np.random.Generator, h: int, w: int, c: int) -> np.ndarray:
        return rng.random((h, w, c)) * 20.0 + 118.0

    def to_image(self, params, h: int, w: int, c: int):
        return params

    def project(self, params):
        import tensorflow as tf

        return tf.clip_by_value(params, 0.0, 255.0)


PARAMETRISATIONS = {"fourier": lambda cfg: Fourier(cfg.decay, cfg.decorrelate),
                    "pixel": lambda cfg: Pixel()}


# -- optimisers: from a gradient to an update (element-wise: images stay independent) --------
@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015) with bias correction; t is the 0-based step index."""

    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8

    def update(self, g, m, v, t):
        import tensorflow as tf

        m = self.b1 * m + (1 - self.b1) * g
        v = self.b2 * v + (1 - self.b2) * g * g
        n = tf.cast(t + 1, tf.float32)
        return (m / (1 - self.b1 ** n)) / (tf.sqrt(v / (1 - self.b2 ** n)) + self.eps), m, v


@dataclass(frozen=True)
class Normalized:
    """The seed's step: the gradient divided by its RMS (per image); keeps no moments."""

    def update(self, g, m, v, t):
        return rms_normalise(g), m, v


OPTIMISERS = {"adam": Adam, "normalized": Normalized}


# -- randomness, per filter ------------------------------------------------------------------
def filter_rng(seed: int, filter_index: int, stream: int) -> np.random.Generator:
    """A generator that depends only on (seed, filter index, purpose)."""
    entropy = [int(seed) & 0xFFFFFFFF, int(filter_index), stream]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def init_params(cfg: Regularized, filters, seed: int, h: int, w: int, c: int) -> np.ndarray:
    """Initial parameters, one row per filter: (N, 2, C, H, W//2+1) spectra or (N, H, W, C) pixels."""
    param = cfg.parametrisation
    return np.asarray([param.init(filter_rng(seed, f, 1), h, w, c) for f in filters], np.float32)


def transform_params(cfg: Regularized, filters, seed: int, steps: int, h: int, w: int) -> np.ndarray:
    """(N, steps, 4): translation x, y (pixels), zoom factor, angle (radians) per step."""
    out = np.empty((len(filters), max(steps, 1), 4), np.float32)
    for i, f in enumerate(filters):
        rng = filter_rng(seed, f, 2)
        u = rng.uniform(-1.0, 1.0, (max(steps, 1), 4))
        out[i, :, 0] = u[:, 0] * cfg.jitter * w
        out[i, :, 1] = u[:, 1] * cfg.jitter * h
        out[i, :, 2] = 1.0 + u[:, 2] * cfg.scale
        out[i, :, 3] = np.deg2rad(u[:, 3] * cfg.rotate)
    return out


# -- classic mode: the seed's start image and deprocessing -------------------------------
def deprocess(x: np.ndarray) -> np.ndarray:
    """The seed's deprocess_image, per image: (N, H, W, C) float -> uint8.

    Standardise each image (mean 0, std 1, over all its pixels and channels), * 0.1,
    + 0.5, clip to [0, 1], * 255, truncate to uint8.
    """
    x = np.asarray(x, np.float32)
    axes = tuple(range(1, x.ndim))
    mean = x.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = x.std(axis=axes, keepdims=True, dtype=np.float64)
    y = (x - mean.astype(np.float32)) / (std.astype(np.float32) + np.float32(1e-5))
    y = np.clip(y * np.float32(0.1) + np.float32(0.5), 0, 1) * np.float32(255)
    return np.clip(y, 0, 255).astype(np.uint8)


def classic_noise(seed: int, filter_index: int, h: int, w: int, c: int) -> np.ndarray:
    """The seed's start image for one filter: uniform noise * 20 + 128, (H, W, C) float32."""
    rng = filter_rng(seed, filter_index, 0)
    return (rng.random((h, w, c)) * 20.0 + 128.0).astype(np.float32)


def to_rgb(x: np.ndarray) -> np.ndarray:
    """Gray (or 2-channel) images replicated to RGB; more than 3 channels: the first 3."""
    c = x.shape[-1]
    if c == 3:
        return x
    return np.ascontiguousarray(x[..., :3]) if c > 3 else np.repeat(x[..., :1], 3, axis=-1)


# -- graph pieces (TensorFlow) ---------------------------------------------------------------
def spectrum_scale(h: int, w: int, decay: float) -> np.ndarray:
    """1 / f**decay for the rfft2 frequencies of an h x w image, times sqrt(h*w)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    freqs = np.sqrt(fx * fx + fy * fy)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(h, w)) ** decay
    return (scale * np.sqrt(h * w)).astype(np.float32)


def to_image(params, cfg: Regularized, h: int, w: int, c: int):
    """Parameters -> pixel image (N, H, W, C) in [0, 255] (a TensorFlow tensor)."""
    return cfg.parametrisation.to_image(params, h, w, c)


def transform(img, tp, cfg: Regularized):
    """Warp each image by its own translation, zoom and rotation (tp: (N, 4)); bilinear, reflect."""
    import tensorflow as tf

    if cfg.jitter == 0 and cfg.scale == 0 and cfg.rotate == 0:
        return img
    shape = tf.shape(img)
    h, w = tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
    tx, ty, s, a = tp[:, 0], tp[:, 1], tp[:, 2], tp[:, 3]
    cx, cy = (w - 1.0) / 2.0, (h - 1.0) / 2.0
    # Output pixel p maps to input pixel M (p - c - t) + c, M = rotation(-a) / s.
    cos, sin = tf.cos(a) / s, tf.sin(a) / s
    px, py = cx + tx, cy + ty
    a0, a1 = cos, sin
    b0, b1 = -sin, cos
    a2 = cx - a0 * px - a1 * py
    b2 = cy - b0 * px - b1 * py
    zero = tf.zeros_like(a0)
    matrices = tf.stack([a0, a1, a2, b0, b1, b2, zero, zero], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=img, transforms=matrices, output_shape=shape[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")


def total_variation(img):
    """Per-image mean absolute difference of neighbouring pixels, in [0, 1] units: (N,)."""
    import tensorflow as tf

    x = img / 255.0
    dy = tf.reduce_mean(tf.abs(x[:, 1:] - x[:, :-1]), axis=[1, 2, 3])
    dx = tf.reduce_mean(tf.abs(x[:, :, 1:] - x[:, :, :-1]), axis=[1, 2, 3])
    return dx + dy


def l2_norm(img):
    """Per-image RMS distance from mid-grey, in [0, 1] units: (N,)."""
    import tensorflow as tf

    x = img / 255.0 - 0.5
    return tf.sqrt(tf.reduce_mean(x * x, axis=[1, 2, 3]) + 1e-12)


def rms_normalise(g):
    """g / (RMS of g over each image's elements + 1e-5), the seed's normalisation, per image."""
    import tensorflow as tf

    axes = list(range(1, g.shape.rank))
    return g / (tf.sqrt(tf.reduce_mean(tf.square(g), axis=axes, keepdims=True)) + 1e-5)


def ascent_step(p, m, v, t, tp, activation, cfg: Regularized, h: int, w: int, c: int, path: str):
    """One regularized ascent step on parameters p (optimiser state m, v; step index t).

    activation(images) -> (N,) per-image channel means of the model (pixel-space input).
    """
    import tensorflow as tf

    param, optimiser = cfg.parametrisation, cfg.optimiser
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(p)
        tp_now = tf.gather(tp, tf.minimum(t, tf.shape(tp)[1] - 1), axis=1)  # (N, 4)
        seen = transform(param.to_image(p, h, w, c), tp_now, cfg)
        loss = tf.reduce_sum(activation(seen))
    g = tape.gradient(loss, p)
    if g is None:
        raise UserError(f"layer {path!r} does not depend on the input image")
    g = rms_normalise(g)
    if cfg.tv or cfg.l2:
        with tf.GradientTape(watch_accessed_variables=False, persistent=True) as tape2:
            tape2.watch(p)
            img = param.to_image(p, h, w, c)
            penalties = ((cfg.tv, tf.reduce_sum(total_variation(img)) if cfg.tv else None),
                         (cfg.l2, tf.reduce_sum(l2_norm(img)) if cfg.l2 else None))
        for weight, penalty in penalties:
            if weight:
                g = g - weight * rms_normalise(tape2.gradient(penalty, p))
    update, m, v = optimiser.update(g, m, v, t)
    return param.project(p + cfg.lr * param.lr_scale * update), m, v
