"""Inbound nodes: Keras 2's node lists rewritten into Keras 3's own node format.

Keras 2 numbers the calls of a nested model from 1 (its own first node is skipped) and
stores tensors passed as keyword arguments and constants in a form Keras 3's legacy reader
mishandles.
"""
from __future__ import annotations

_CONSTANT = "_CONSTANT_VALUE"
# Layers whose first call argument keeps its list structure (Keras 2's
# `_preserve_input_structure_in_config`).
_PRESERVE_STRUCTURE = {"TFOpLambda", "SlicingOpLambda"}


def _is_ref(x) -> bool:
    """Keras 2 node data: [layer_name, node_index, tensor_index(, kwargs)]."""
    return (isinstance(x, list) and len(x) in (3, 4) and isinstance(x[0], str)
            and isinstance(x[1], int) and (x[0] == _CONSTANT or isinstance(x[2], int)))


def _skips_first_node(entry: dict) -> bool:
    """Keras 2's `_should_skip_first_node`: a model built on an Input has its own first
    node, which Keras 2 leaves out when it numbers the model's calls in an outer config."""
    cls, conf = entry.get("class_name"), entry.get("config") or {}
    if cls in ("Functional", "Model"):
        return "input_layers" in conf
    if cls == "Sequential":
        layers = conf.get("layers") or []
        return bool(layers) and (layers[0].get("class_name") == "InputLayer"
                                 or "batch_input_shape" in (layers[0].get("config") or {}))
    return False


def _native_constant(value, slicing: bool):
    """A constant from a Keras 2 node, in the form Keras 3's node reader understands."""
    if isinstance(value, dict):
        if value.get("class_name") == "__ellipsis__":
            return {"class_name": "__ellipsis__", "config": {}}
        if slicing and set(value) == {"start", "stop", "step"}:
            return {"class_name": "__slice__",
                    "config": {k: _native_constant(value[k], slicing) for k in
                               ("start", "stop", "step")}}
        return {k: _native_constant(v, slicing) for k, v in value.items()}
    if isinstance(value, list):
        return [_native_constant(v, slicing) for v in value]
    return value


def _translate_node(node, cls: str, shifts: dict[str, int], renames: dict[str, str]):
    """One Keras 2 inbound node -> Keras 3's {"args": [...], "kwargs": {...}} form."""
    slicing = cls == "SlicingOpLambda"
    kwargs: dict = {}

    def tensor(ref):
        name, index, tensor_index = ref[0], ref[1], ref[2]
        history = [renames.get(name, name), index - shifts.get(name, 0), tensor_index]
        return {"class_name": "__keras_tensor__",
                "config": {"shape": [], "dtype": "float32", "keras_history": history}}

    def first_arg(x):
        nonlocal kwargs
        if _is_ref(x):
            if len(x) == 4 and x[3]:
                kwargs = x[3]
            if x[0] == _CONSTANT:
                return _native_constant(x[2], slicing)
            return tensor(x)
        if isinstance(x, list):
            return [first_arg(v) for v in x]
        if isinstance(x, dict):
            return {k: first_arg(v) for k, v in x.items()}
        raise ValueError(f"unreadable inbound node {node!r}")

    def kwarg(x):
        if isinstance(x, list) and len(x) == 3 and _is_ref(x) and x[0] != _CONSTANT:
            return tensor(x)
        if isinstance(x, list):
            return [kwarg(v) for v in x]
        if isinstance(x, dict):
            if x.get("class_name") == "__ellipsis__" or (
                    slicing and set(x) == {"start", "stop", "step"}):
                return _native_constant(x, slicing)
            return {k: kwarg(v) for k, v in x.items()}
        return x

    inputs = first_arg(node)
    if cls not in _PRESERVE_STRUCTURE and isinstance(inputs, list) and len(inputs) == 1:
        inputs = inputs[0]
    return {"args": [inputs], "kwargs": {k: kwarg(v) for k, v in kwargs.items()}}
