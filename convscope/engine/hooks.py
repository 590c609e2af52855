"""Intercepting layer calls while a model runs: the mechanism every view is built on.

Instead of building a new keras.Model from an inner layer's symbolic output (which fails
with "Graph disconnected" for layers inside nested models, and whose outputs a tape does
not connect for Sequential models loaded from HDF5), we patch `call` on the layer
instances for the duration of one model call:

- record: keep the layer's output (and `tape.watch` it), so one forward pass yields any
  set of layers, nested or not, with gradients connected;
- replace: make a layer return a given tensor whatever its input (re-running only the
  layers above it, e.g. a CAM for another class from cached activations);
- logits: the final softmax / sigmoid is skipped, so class scores come before it;
- safe_pointwise: every 1x1 convolution with stride > 1 is computed as a strided slice
  followed by a stride-1 1x1 convolution. Same numbers, but it avoids a oneDNN bug that
  kills the process (segfault / double free) when TensorFlow computes the gradient of a
  1x1 stride-2 convolution whose input has 4, 8 or 12 channels (measured here; upstream
  uxlfoundation/oneDNN#6035). The alternative, TF_ENABLE_ONEDNN_OPTS=0, costs ~25% on
  every CPU forward pass; this rewrite costs nothing measurable. Regression test:
  tests/test_onednn_guard.py runs the crashing shape in a subprocess.

Patches are instance attributes, removed on exit. tf.function traces Python once, so a
compiled function must be *called* inside the context too (a retrace may happen on any call).
"""
from __future__ import annotations

import keras

from . import layers as layer_tree

_SQUASHERS = ("softmax", "sigmoid")


def terminal_layer(model: keras.Model):
    """The layer that produces the model's (first) output, looking inside nested models."""
    layer = model
    while isinstance(layer, keras.Model):
        outputs = getattr(layer, "outputs", None)
        if outputs:
            inner = outputs[0]._keras_history.operation
        elif getattr(layer, "layers", None):
            inner = layer.layers[-1]
        else:
            return layer
        if inner is layer:
            break
        layer = inner
    return layer


def terminal_layers(model: keras.Model) -> list:
    """The layer producing each of the model's outputs, in order (nested models looked
    into); [terminal_layer(model)] for a one-output model."""
    outputs = list(getattr(model, "outputs", None) or [])
    if len(outputs) < 2:
        return [terminal_layer(model)]
    found = []
    for t in outputs:
        layer = t._keras_history.operation
        found.append(terminal_layer(layer) if isinstance(layer, keras.Model) else layer)
    return found


def layer_activation(layer) -> str:
    """'softmax', 'sigmoid' or 'linear' for one layer (its own squashing, if any)."""
    name = type(layer).__name__
    if name == "Softmax":
        return "softmax"
    act = getattr(layer, "activation", None)
    act_name = getattr(act, "__name__", None) or (act if isinstance(act, str) else "")
    return act_name if act_name in _SQUASHERS else "linear"


def scores_per_pixel(layer) -> bool:
    """Whether a layer with an (H, W, C) output scores classes per pixel (a segmentation
    output): it squashes per pixel (softmax / sigmoid), or it is a convolution with a
    linear activation (logits). A headless backbone's feature map (VGG16 without its top
    ends in MaxPooling2D, ResNet50 in a ReLU) is not: its channels are features."""
    if layer_activation(layer) in _SQUASHERS:
        return True
    act = getattr(layer, "activation", None)
    own = getattr(act, "__name__", None) or (act if isinstance(act, str) else "linear")
    return own == "linear" and "Conv" in type(layer).__name__


def head_activation(model: keras.Model) -> str:
    """'softmax', 'sigmoid' or 'linear' (anything else counts as linear)."""
    return layer_activation(terminal_layer(model))


class Patches:
    """Instance attributes set on objects (layer calls, activations) until `restore()`, or
    the end of a `with` block; restored in reverse order. Intercept and the filter ascent
    patch layers through this one mechanism."""

    def __init__(self):
        self._undo: list = []

    def set(self, obj, attr, value) -> None:
        had = attr in obj.__dict__
        self._undo.append((obj, attr, had, obj.__dict__.get(attr)))
        object.__setattr__(obj, attr, value)

    def restore(self) -> None:
        while self._undo:
            obj, attr, had, old = self._undo.pop()
            if had:
                object.__setattr__(obj, attr, old)
            else:
                try:
                    object.__delattr__(obj, attr)
                except AttributeError:
                    pass

    def __enter__(self) -> "Patches":
        return self

    def __exit__(self, *exc) -> bool:
        self.restore()
        return False


class Intercept:
    """Context manager: patch layer calls of `model` for recording and safe execution.

    `record`: paths whose outputs to keep in `self.outputs` (path -> tensor).
    `replace`: {path: tensor} layers that return the given tensor instead of computing.
    `logits`: skip the final softmax/sigmoid.  `tape`: a GradientTape that watches the
    recorded outputs.
    """

    def __init__(self, model: keras.Model, record=(), logits: bool = False, tape=None,
                 index: dict | None = None, replace: dict | None = None):
        self.model = model
        self.paths = tuple(record)
        self.replace = dict(replace or {})
        self.logits = logits
        self.tape = tape
        self._index = index
        self.outputs: dict = {}
        self._patches = Patches()

    def __enter__(self):
        index = self._index if self._index is not None else layer_tree.index(self.model)
        try:
            for layer in index.values():
                if _is_strided_pointwise(layer):
                    self._patch(layer, "call", _safe_pointwise_call(layer))
            if self.logits:
                self._strip_head()
            for path, value in self.replace.items():
                self._patch(self._layer(index, path), "call",
                            lambda *args, _value=value, **kwargs: _value)
            for path in self.paths:
                layer = self._layer(index, path)
                if type(layer).__name__ == "InputLayer":
                    # An InputLayer is never called: record what its model is called with.
                    parent = path.rsplit("/", 1)[0] if "/" in path else None
                    owner = index[parent] if parent else self.model
                    self._patch(owner, "call", self._recording_call(path, owner.call, inputs=True))
                else:
                    self._patch(layer, "call", self._recording_call(path, layer.call))
        except BaseException:
            self._restore()
            raise
        return self

    def __exit__(self, *exc):
        self._restore()
        return False

    # -- patches -----------------------------------------------------------------------
    @staticmethod
    def _layer(index, path):
        try:
            return index[path]
        except KeyError:
            from .errors import UserError

            raise UserError(f"no layer {path!r} in this model") from None

    def _recording_call(self, path, call, inputs: bool = False):
        def recording(*args, **kwargs):
            if inputs:  # record the call's (first) input instead of its output
                first = args[0] if args else next(iter(kwargs.values()))
                while isinstance(first, (list, tuple)):
                    first = first[0]
                if isinstance(first, dict):
                    first = first[sorted(first)[0]]
                if self.tape is not None:
                    self.tape.watch(first)
                self.outputs[path] = first
                return call(*args, **kwargs)
            out = call(*args, **kwargs)
            if self.tape is not None:
                self.tape.watch(out)
            self.outputs[path] = out
            return out

        return recording

    def _strip_head(self):
        # every output's squashing (a multi-output model: all its heads, engine.targets)
        for layer in dict.fromkeys(terminal_layers(self.model)):
            act = layer_activation(layer)
            if type(layer).__name__ == "Softmax" or (
                    type(layer).__name__ == "Activation" and act != "linear"):
                self._patch(layer, "call", lambda inputs, *a, **k: inputs)
            elif act != "linear":
                self._patch(layer, "activation", keras.activations.linear)

    def _patch(self, obj, attr, value):
        self._patches.set(obj, attr, value)

    def _restore(self):
        self._patches.restore()
        self.outputs = dict(self.outputs)


def first_output(y):
    """The first output of a model call (a tensor, a list of them, or a dict)."""
    if isinstance(y, dict):
        y = y[sorted(y)[0]]
    if isinstance(y, (list, tuple)):
        y = y[0]
    return y


def _is_strided_pointwise(layer) -> bool:
    if type(layer).__name__ not in ("Conv2D",) or not hasattr(layer, "kernel"):
        return False
    return (tuple(layer.kernel_size) == (1, 1) and tuple(layer.strides) != (1, 1)
            and getattr(layer, "groups", 1) == 1 and tuple(layer.dilation_rate) == (1, 1)
            and layer.data_format == "channels_last")


def _safe_pointwise_call(layer):
    import tensorflow as tf

    sh, sw = layer.strides

    def call(inputs, *args, **kwargs):
        # padding is irrelevant for a 1x1 kernel: SAME and VALID both give ceil(n / s).
        y = tf.nn.conv2d(inputs[:, ::sh, ::sw, :], layer.kernel, 1, "VALID")
        if layer.bias is not None:
            y = y + layer.bias
        return layer.activation(y) if layer.activation is not None else y

    return call
