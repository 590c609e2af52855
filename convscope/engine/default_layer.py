"""The default CAM layer: the last spatial layer the classifier's head reads.

Definition: start at the model's (first) output and walk back through the head — Dense,
activations, dropout, flatten/reshape, the classifier's global pooling, 1x1 convolutions
on a 1x1 map (MobileNet's and MobileNetV3's heads) — following each layer's input, into
nested models and out of them, until the first tensor with a spatial (H, W, C) output
whose H x W is not 1x1. That layer is the default.

Why a walk and not "the last spatial layer before the first pooling in execution order"
(engine.layers.default_cam_layer, kept as the fallback): squeeze-excitation networks
(EfficientNet, EfficientNetV2, MobileNetV3) hold a GlobalAveragePooling2D inside every SE
block, whose result multiplies back into a spatial map. Such a pooling is not on the path
from the output to the head, so the walk never meets it; the order rule stopped at the first
one and chose a stem layer (block1a_activation on EfficientNetB0).

A model whose first output is itself a per-pixel map (segmentation) takes the deepest
layer instead (`bottleneck`).

The walk stops (and the order rule decides) where the head merges several inputs before any
spatial tensor (e.g. two pooled branches concatenated), or where Keras keeps no graph.
"""
from __future__ import annotations

import keras

from . import layers as layer_tree


def find(model, infos) -> str | None:
    """The default CAM layer's path in `model` (see the module docstring)."""
    if _spatial_first_output(model):
        chosen = bottleneck(infos)
        if chosen is not None:
            return chosen
    walked = walk_head(model, {info.path for info in infos})
    if walked is not None:
        return walked
    return layer_tree.default_cam_layer(infos)


def walk_head(model, paths: set[str]) -> str | None:
    """The path the head walk reaches, or None where it cannot decide."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return None
    if not outputs:
        return None
    tensor = outputs[0]
    stack: list[tuple] = []  # (nested model, its node in the outer graph, prefix) walked into
    for _ in range(100000):  # a graph is finite; the bound guards against a cycle
        history = getattr(tensor, "_keras_history", None)
        if history is None:
            return None
        op, node_index = history.operation, history.node_index
        prefix = stack[-1][2] if stack else ""
        if isinstance(op, keras.Model) and getattr(op, "outputs", None):
            # into the nested model: its own output tensor, leaves preferred to containers
            node = op._inbound_nodes[node_index]
            stack.append((op, node, f"{prefix}{op.name}/"))
            tensor = op.outputs[history.tensor_index] if len(op.outputs) > history.tensor_index \
                else op.outputs[0]
            continue
        if type(op).__name__ == "InputLayer":
            if not stack:
                return None  # reached the model's input: nothing spatial in the head's path
            nested, node, _ = stack.pop()  # out of the nested model, to what it was called on
            inputs = list(nested.inputs)
            position = next((i for i, t in enumerate(inputs) if t is tensor), 0)
            outer = node.input_tensors
            if position >= len(outer):
                return None
            tensor = outer[position]
            continue
        if _spatial(tensor):
            path = prefix + op.name
            return path if path in paths else None
        node = op._inbound_nodes[node_index]
        inputs = node.input_tensors
        if len(inputs) != 1:
            return None  # a merge in the head: the order rule decides
        tensor = inputs[0]
    return None


def _spatial_first_output(model) -> bool:
    """The first output is a segmentation map (engine.hooks.scores_per_pixel), not a
    headless backbone's feature map (whose default stays the walk's: the output layer)."""
    from .hooks import scores_per_pixel, terminal_layers

    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        return False
    return bool(outputs) and len(tuple(outputs[0].shape)) == 4 and \
        scores_per_pixel(terminal_layers(model)[0])


def bottleneck(infos) -> str | None:
    """A segmentation model's default (its first output is a per-pixel map): the last
    layer with the smallest fixed H x W, the encoder's end -- where Seg-Grad-CAM
    (Vinogradova et al. 2020) reads a U-Net. The walk above would stop at the output layer
    itself, whose "map" is the prediction, not a feature the model computed it from: at the
    layer under a 1x1 output convolution, Grad-CAM of a region is ReLU(z_c - b_c) everywhere,
    the class's logit map again. The output layer is never taken; a free-size model (no
    sizes to compare) takes the last spatial layer before it."""
    inner = [i for i in infos if i.spatial and not i.is_container
             and i.class_name != "InputLayer"][:-1]  # never the output layer itself
    if not inner:
        return None
    sizes = [(i.output_shape[0], i.output_shape[1]) for i in inner]
    if any(h is None or w is None for h, w in sizes):
        return inner[-1].path  # free size: nothing to compare, the last before the output
    areas = [h * w for h, w in sizes]
    small = min((a for a in areas if a > 1), default=None)
    return next((i.path for i, a in zip(reversed(inner), reversed(areas)) if a == small),
                inner[-1].path)


def _spatial(tensor) -> bool:
    """An (N, H, W, C) tensor whose map is not 1x1 (None: a free size, spatial)."""
    shape = tuple(tensor.shape)
    if len(shape) != 4:
        return False
    return not (shape[1] == 1 and shape[2] == 1)
