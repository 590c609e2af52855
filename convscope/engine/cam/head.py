"""Recognising a GAP + Dense head, the one architecture where CAM (Zhou et al. 2016) exists.

CAM needs the classifier to be a Dense layer applied to the global average of a spatial
map (pass-through layers such as Dropout or Flatten between them are fine). Then
    logit_c = Sum_k W[k, c] mean_ij A_kij + b_c = mean_ij (Sum_k W[k, c] A_kij) + b_c,
and the map is Sum_k W[k, c] A_k on the layer that feeds the pooling.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from ..errors import UserError
from ..hooks import terminal_layer

NEEDS_GAP = "CAM needs a global average pooling head — use Grad-CAM"
_PASS = ("Dropout", "SpatialDropout2D", "Flatten", "Reshape", "GaussianDropout",
         "GaussianNoise", "AlphaDropout", "Identity")
_SQUASH = ("Softmax",)


@dataclass(frozen=True)
class GapHead:
    layer: str  # path of the layer whose output the GAP averages
    kernel: np.ndarray  # (K, units)
    bias: np.ndarray  # (units,)


def find(model: keras.Model, index: dict) -> GapHead:
    """The GAP + Dense head of `model`, or UserError saying CAM does not apply."""
    layer = terminal_layer(model)
    if type(layer).__name__ in _SQUASH or (
            type(layer).__name__ == "Activation" and _act_name(layer) in ("softmax", "sigmoid", "linear")):
        layer = _producer(layer)
    if type(layer).__name__ != "Dense":
        raise UserError(f"{NEEDS_GAP} (this model ends in {type(layer).__name__}, not GAP + Dense)")
    dense = layer
    if _act_name(dense) not in ("softmax", "sigmoid", "linear"):
        raise UserError(f"{NEEDS_GAP} (the final Dense has a {_act_name(dense)} activation)")
    node = direct = _producer(dense)
    while node is not None and type(node).__name__ in _PASS:
        node = _producer(node)
    if node is None or type(node).__name__ != "GlobalAveragePooling2D" or \
            getattr(node, "data_format", "channels_last") != "channels_last":
        found = "nothing" if direct is None else type(direct).__name__  # what the user sees
        raise UserError(f"{NEEDS_GAP} (the final Dense reads {found}, not GlobalAveragePooling2D)")
    source = _producer(node)
    while isinstance(source, keras.Model):  # the map comes out of a nested model
        source = terminal_layer(source)
    path = _path_of(source, index)
    if path is None or type(source).__name__ == "InputLayer":
        raise UserError(f"{NEEDS_GAP} (cannot find the layer that feeds the pooling)")
    kernel = np.asarray(dense.kernel.numpy(), np.float32)
    bias = np.asarray(dense.bias.numpy(), np.float32) if dense.bias is not None else np.zeros(kernel.shape[1], np.float32)
    return GapHead(path, kernel, bias)


def _act_name(layer) -> str:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None) or (act if isinstance(act, str) else "linear")
    return "linear" if name in ("linear", None) else name


def _producer(layer):
    """The layer whose output `layer` takes as its (only) input, or None."""
    try:
        x = layer.input
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(x, (list, tuple)):
        if len(x) != 1:
            return None
        x = x[0]
    history = getattr(x, "_keras_history", None)
    return getattr(history, "operation", None) if history is not None else None


def _path_of(layer, index: dict) -> str | None:
    for path, candidate in index.items():
        if candidate is layer:
            return path
    return None
