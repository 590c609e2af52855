"""Keras 3 stand-ins for Keras 2 pieces that Keras 3 lacks.

The registered names (package "ConvScopeKeras2") must not change: models saved with these
layers refer to them by those names.
"""
from __future__ import annotations

import keras
from keras import ops

# TensorFlow functions a TFOpLambda may call: pure math and array functions, nothing that
# touches files, the network or global state.
_TF_PREFIXES = ("math.", "nn.", "__operators__.", "image.", "linalg.", "signal.", "bitwise.",
                "compat.v1.math.", "compat.v1.nn.", "compat.v1.image.")
_TF_NAMES = {
    "reshape", "concat", "stack", "unstack", "split", "expand_dims", "squeeze", "transpose",
    "cast", "identity", "clip_by_value", "pad", "tile", "gather", "gather_nd", "where",
    "ones_like", "zeros_like", "fill", "shape", "size", "rank", "reverse", "broadcast_to",
    "einsum", "matmul", "range", "one_hot", "repeat", "roll", "slice", "strided_slice",
    "boolean_mask", "sort", "argsort", "norm", "linspace", "meshgrid", "convert_to_tensor",
    "stop_gradient", "add_n", "abs", "sqrt", "exp", "square", "maximum", "minimum",
    "reduce_mean", "reduce_sum", "reduce_max", "reduce_min", "argmax", "argmin",
    "compat.v1.transpose", "compat.v1.shape", "compat.v1.squeeze", "compat.v1.gather",
}


@keras.saving.register_keras_serializable(package="ConvScopeKeras2")
def keras2_hard_sigmoid(x):
    """Keras 2's hard sigmoid: clip(0.2 * x + 0.5, 0, 1) (Keras 3's differs)."""
    return ops.clip(ops.add(ops.multiply(x, 0.2), 0.5), 0.0, 1.0)


def _tf_symbol(name: str):
    if not (name in _TF_NAMES or name.startswith(_TF_PREFIXES)):
        return None
    import tensorflow as tf

    obj = tf
    for part in name.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj if callable(obj) else None


@keras.saving.register_keras_serializable(package="ConvScopeKeras2")
class TFOpLambda(keras.layers.Layer):
    """A TensorFlow function call recorded by tf.keras 2 (`tf.math.truediv(x, 127.5)`)."""

    def __init__(self, function, **kwargs):
        super().__init__(**kwargs)
        fn = _tf_symbol(function)
        if fn is None:
            raise ValueError(f"TensorFlow function tf.{function} is not allowed here")
        self.function = function
        self._fn = fn
        # `1.0 - x` is recorded as tf.math.subtract(1.0, y=x): a constant comes first
        self._allow_non_tensor_positional_args = True

    def call(self, inputs, *args, **kwargs):
        kwargs.pop("name", None)  # Keras 2 dropped it too
        return self._fn(inputs, *args, **kwargs)

    def get_config(self):
        return {**super().get_config(), "function": self.function}


@keras.saving.register_keras_serializable(package="ConvScopeKeras2")
class SlicingOpLambda(TFOpLambda):
    """`x[...]` on a tensor, recorded by tf.keras 2 as `tf.__operators__.getitem`."""


@keras.saving.register_keras_serializable(package="ConvScopeKeras2")
class ThresholdedReLU(keras.layers.Layer):
    """Keras 2's ThresholdedReLU: x where x > theta, else 0 (removed in Keras 3)."""

    def __init__(self, theta=1.0, **kwargs):
        super().__init__(**kwargs)
        self.theta = float(theta)

    def call(self, inputs):
        return ops.multiply(inputs, ops.cast(ops.greater(inputs, self.theta), inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "theta": self.theta}


_CUSTOM_OBJECTS = {"TFOpLambda": TFOpLambda, "SlicingOpLambda": SlicingOpLambda,
                   "ThresholdedReLU": ThresholdedReLU}
try:  # Keras 2's ConvNeXt layers; Keras 3's application module has the same two classes
    from keras.src.applications.convnext import LayerScale, StochasticDepth

    _CUSTOM_OBJECTS.update(LayerScale=LayerScale, StochasticDepth=StochasticDepth)
except ImportError:  # pragma: no cover - a Keras without them reports "Unknown layer"
    pass
