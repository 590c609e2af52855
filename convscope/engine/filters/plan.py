"""What a filter-pattern run targets and whether it fits: the layer ("output" resolves to
the layer producing the model's output), its filters or units, and the memory the patterns
hold (checked against engine.memory's budget before anything is allocated)."""
from __future__ import annotations

import numpy as np

from ..errors import UserError


def held_bytes(n: int, h: int, w: int, c: int, mode: str) -> int:
    """Memory the patterns of n filters hold across the whole run, outside the compiled step:
    each image's optimisation state (classic: the image; regularized: parameters, two Adam
    moments and the rendered image), plus, while patterns are shown, their concatenation,
    the float temporaries of deprocessing and the uint8 result."""
    states = 1 if mode == "classic" else 4
    return n * h * w * (c * 4 * (states + 3) + 3)


def _check_memory(model, n: int, h: int, w: int, mode: str) -> None:
    from .. import memory

    c = int(model.input_shape[2] or 3)
    need = held_bytes(n, h, w, c, mode) + memory.per_image_bytes(model, h, w)
    if need <= memory.budget():
        return
    per = held_bytes(1, h, w, c, mode)
    fit_n = max(0, (memory.budget() - memory.per_image_bytes(model, h, w)) // max(1, per))
    hint = (f"at {h}x{w}, {fit_n} filter(s) at once would fit" if fit_n >= 1 else
            f"a {h}x{w} pattern does not fit at all; use a smaller size")
    memory.require(need, f"{n} filter pattern(s) of {h}x{w} ({mode})", hint)


def _is_vector(info) -> bool:
    """A Dense-like layer with a (units,) output: class-model visualisation applies."""
    return (info.output_shape is not None and len(info.output_shape) == 1
            and info.class_name in ("Dense", "Softmax", "Activation"))


def resolve_layer(model, layer: str) -> str:
    """`layer`, or for "output" the path of the layer producing the model's output."""
    if layer != "output" or "output" in model.layer_index:
        return layer
    from ..hooks import terminal_layer

    last = terminal_layer(model.keras_model)
    for path, obj in model.layer_index.items():
        if obj is last:
            return path
    raise UserError("this model's output layer cannot be addressed; give --layer by name")


def units_of(model, layer: str) -> int:
    """Filters of a spatial layer, or units of a Dense / output layer."""
    info = model.layer(resolve_layer(model, layer))
    if info.spatial:
        return info.channels
    if _is_vector(info):
        return int(info.output_shape[-1])
    return model.layer(info.path, spatial=True).channels  # raises the usual error


def _filter_list(filters, channels: int, layer: str) -> list[int]:
    if filters is None:
        return list(range(channels))
    if isinstance(filters, (int, np.integer)):
        filters = [filters]
    out = [int(f) for f in filters]
    if not out:
        raise UserError("no filter given")
    bad = [f for f in out if not 0 <= f < channels]
    if bad:
        raise UserError(f"filter {bad[0]} is out of range: layer {layer!r} has {channels} "
                        f"filters (0-{channels - 1})")
    return out
