"""Guided Backprop and Guided Grad-CAM.

Guided Backprop (Springenberg et al. 2015, "Striving for simplicity", fig. 1): at every
ReLU the backward signal is passed only where the forward input was positive AND the
signal coming down is positive:
    R_in = [x > 0] * [R_out > 0] * R_out          (plain backprop: [x > 0] * R_out)
We write it as R_in = f'(x) * relu(R_out), with f the layer's own rectifier, so a ReLU
with a cap (ReLU6: f' = [0 < x < 6]) is guided the same way.

Guided Grad-CAM (Selvaraju et al. 2017, sec. 3.1): the guided-backprop map times the
Grad-CAM heatmap upsampled (bilinearly) to the input resolution, element-wise:
    GGC = GB (H, W, C) * upsample(Grad-CAM) (H, W, 1)

The override lives only inside `GuidedRelu`, a context entered inside the compiled
gradient function of the guided methods (engine.attribution.graphs, `guided=True`): it
patches, on the layer *instances* and only while the function is traced,
- `call` of every keras ReLU layer (nested models included, via the layer index),
- `activation` of every layer whose activation is relu / relu6 (Conv2D(activation="relu"),
  Dense, Activation("relu"), ...).
Other rectifiers (leaky ReLU, ELU, swish, GELU) are left as they are. Nothing global is
changed (no gradient-registry override, no graph rewrite), so other methods' compiled
functions never contain the guided gradient.
"""
from __future__ import annotations

import numpy as np

_RELUS = ("relu", "relu6")


def _is_relu_activation(fn) -> bool:
    return getattr(fn, "__name__", None) in _RELUS


def guided(f):
    """f (a rectifier: tensor -> tensor) with the guided backward pass."""
    import tensorflow as tf

    def call(x, *args, **kwargs):
        @tf.custom_gradient
        def rect(x):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(x)
                y = f(x, *args, **kwargs)

            def backward(dy):
                # f'(x) * relu(dy): the tape's vector-Jacobian product with relu(dy)
                return tape.gradient(y, x, output_gradients=tf.nn.relu(dy))

            return y, backward

        return rect(x)

    call.__name__ = f"guided_{getattr(f, '__name__', 'relu')}"
    return call


class GuidedRelu:
    """Context manager: guided backward pass on every ReLU of `model` (see the module doc).

    `index`: {path: layer} (engine.layers.index). With enabled=False it does nothing.
    """

    def __init__(self, model, index: dict, enabled: bool = True):
        self.model, self.index, self.enabled = model, index, enabled
        self._patches = None  # engine.hooks.Patches, the one patch-and-restore mechanism
        self.patched: list[str] = []

    def __enter__(self):
        if not self.enabled:
            return self
        from ..hooks import Patches

        self._patches = Patches()
        try:
            for path, layer in self.index.items():
                if type(layer).__name__ == "ReLU":
                    self._patches.set(layer, "call", guided(layer.call))
                elif _is_relu_activation(getattr(layer, "activation", None)):
                    self._patches.set(layer, "activation", guided(layer.activation))
                else:
                    continue
                self.patched.append(path)
        except BaseException:
            self._patches.restore()
            raise
        return self

    def __exit__(self, *exc):
        if self._patches is not None:
            self._patches.restore()
        return False


def guided_gradcam(gb: np.ndarray, cam: np.ndarray) -> np.ndarray:
    """GB (H, W, C) * the ReLU'd Grad-CAM map (h, w) upsampled bilinearly to (H, W):
    Selvaraju et al. 2017, sec. 3.1, L = ReLU(sum_k alpha_k A^k), not a min-max-normalised
    copy of it (pass the map before normalisation; its ReLU is taken here)."""
    from ..cam.overlay import upsample

    up = upsample(np.maximum(np.asarray(cam, np.float32), 0.0), gb.shape[:2])
    return (gb * up[..., None]).astype(np.float32)
