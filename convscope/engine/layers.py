"""The layer tree of a Keras model: paths (nested models too), shapes, the default CAM layer.

A layer is addressed by its path: `block5_conv3`, or `outer/inner` for a layer inside a
nested model (any depth).
"""
from __future__ import annotations

import keras

from .summary import LayerInfo  # noqa: F401  (defined there: no Keras)

POOL_OR_FLATTEN = ("GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
                   "GlobalAveragePooling1D", "GlobalMaxPooling1D")


def walk(model: keras.Model, prefix: str = "", depth: int = 0):
    """Yield (path, layer, depth) in execution order, descending into nested models."""
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        yield path, layer, depth
        if isinstance(layer, keras.Model):
            yield from walk(layer, prefix=path + "/", depth=depth + 1)


def describe(model: keras.Model) -> list[LayerInfo]:
    infos = []
    for path, layer, depth in walk(model):
        infos.append(LayerInfo(
            path=path, name=layer.name, class_name=type(layer).__name__,
            output_shape=_output_shape(layer), params=_params(layer), depth=depth,
            is_container=isinstance(layer, keras.Model)))
    return infos


def index(model: keras.Model) -> dict[str, keras.layers.Layer]:
    return {path: layer for path, layer, _ in walk(model)}


def default_cam_layer(infos: list[LayerInfo]) -> str | None:
    """The last layer with a spatial output before global pooling or flattening.

    Not merely the last Conv2D (wrong on ResNets, whose last block ends in Add/ReLU), and
    not a 1x1 map after pooling (MobileNet's head reshapes to 1x1 and convolves).
    Leaves are preferred over nested containers: the inner layer is the same tensor.
    """
    candidates = []
    for info in infos:
        if info.class_name in POOL_OR_FLATTEN and candidates:
            break
        if (info.spatial and not info.is_container and info.class_name != "InputLayer"
                and _area(info.output_shape) != 1):
            candidates.append(info.path)
    return candidates[-1] if candidates else None


def _area(shape) -> int | None:
    h, w = shape[0], shape[1]
    return None if h is None or w is None else h * w


def _output_shape(layer) -> tuple | None:
    try:
        out = layer.output
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(out, (list, tuple)):
        out = out[0] if len(out) == 1 else None
    if out is None or not hasattr(out, "shape"):
        return None
    return tuple(out.shape[1:])


def _params(layer) -> int:
    try:
        return int(layer.count_params())
    except (ValueError, AttributeError):
        return 0
