"""Loading Keras 2 `model_weights` into the rebuilt model, with checks that they fit."""
from __future__ import annotations

from ..errors import UserError
from .messages import _ADVICE


def _short(name: str) -> str:
    """'block/bn/moving_mean:0' -> 'moving_mean', with Keras 2 -> 3 renames."""
    name = name.rsplit("/", 1)[-1].split(":", 1)[0]
    return {"depthwise_kernel": "kernel"}.get(name, name)


def _load_weights(group, model, renames: dict[str, str]):
    """Load Keras 2 `model_weights` into `model`, by layer name; all or nothing.

    `renames` maps names in the file to the model's names where they had to change."""
    from keras.src.legacy.saving import legacy_h5_format as h5fmt

    saved = {}
    for name in h5fmt.load_attributes_from_hdf5_group(group, "layer_names"):
        if name not in group:
            raise UserError(f"the weights of layer '{name}' are missing from the file "
                            "(damaged or truncated?)")
        names = h5fmt.load_attributes_from_hdf5_group(group[name], "weight_names")
        if names:
            saved[renames.get(name, name)] = (
                names, h5fmt.load_subset_weights_from_hdf5_group(group[name]))
    top = group.get("top_level_model_weights")
    if top is not None and h5fmt.load_attributes_from_hdf5_group(top, "weight_names"):
        raise UserError("the model has weights of its own (a subclassed Model), which "
                        f"Keras 3 cannot rebuild from this file. {_ADVICE}")

    problems, assignments = [], []
    expected = {}
    for layer in model.layers:
        variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
        if variables:
            expected[layer.name] = variables
    for name in sorted(set(expected) - set(saved)):
        problems.append(f"layer '{name}' has weights in Keras 3 but none in the file")
    for name in sorted(set(saved) - set(expected)):
        problems.append(f"the file has weights for layer '{name}', which the rebuilt model "
                        "does not have")
    for name in set(expected) & set(saved):
        variables, (names, values) = expected[name], saved[name]
        if len(variables) != len(values):
            problems.append(f"layer '{name}': the file has {len(values)} weights, Keras 3 "
                            f"expects {len(variables)}")
            continue
        file_names = [_short(n) for n in names]
        k3_names = [_short(v.name) for v in variables]
        if file_names != k3_names and sorted(file_names) == sorted(k3_names):
            problems.append(f"layer '{name}': the file stores its weights in another order "
                            f"({', '.join(file_names)}) than Keras 3 expects "
                            f"({', '.join(k3_names)})")
            continue
        for var, value, wname in zip(variables, values, names):
            if tuple(var.shape) != tuple(value.shape):
                problems.append(f"layer '{name}': weight {wname} has shape {tuple(value.shape)}"
                                f" in the file, Keras 3 expects {tuple(var.shape)}")
            else:
                assignments.append((var, value))
    if problems:
        more = f"\n  - ... and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise UserError("the weights in the file do not fit the rebuilt model:\n"
                        + "\n".join(f"  - {p}" for p in problems[:12]) + more
                        + "\nIs the file damaged, or was its configuration edited?")
    for var, value in assignments:
        var.assign(value)
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if layer.weights and hasattr(layer, "finalize_state"):
            layer.finalize_state()  # e.g. Normalization derives mean/variance from weights
