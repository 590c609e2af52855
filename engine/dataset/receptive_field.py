"""The receptive field of a layer's units, from the layer geometry through the whole graph.

Per spatial axis a unit u of a layer sees the input pixels lo + u*jump .. hi + u*jump
(inclusive; lo can be negative where padding was added). Walking the Keras graph from the
layer's output back to the model input (Araujo et al. 2019, "Computing receptive fields
of convolutional neural networks", Distill), for a convolution or pooling with kernel k,
stride s, dilation d and left padding p applied to an input with (jump, lo, hi):

    k_eff = d (k - 1) + 1
    jump' = jump * s
    lo'   = lo - p * jump
    hi'   = hi + (k_eff - 1 - p) * jump

"same" padding pads p = floor(max((n_out - 1) s + k_eff - n_in, 0) / 2) on the left (as
TensorFlow does), "valid" none; ZeroPadding2D and Cropping2D shift lo and hi. Layers that
keep the spatial size without looking at neighbours (activations, normalisation, dropout,
element-wise merges, concatenation) pass the field through; merges take the union of
their inputs' fields. Nested models are walked into: a model used as a layer maps its
input to the field of the tensor that feeds it. Anything else that changes the spatial
size (upsampling, resizing, reshaping) is refused with a UserError.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import UserError

CONV = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
POOL = ("MaxPooling2D", "AveragePooling2D")


@dataclass(frozen=True)
class Axis:
    jump: int
    lo: int
    hi: int

    @property
    def size(self) -> int:
        return self.hi - self.lo + 1


@dataclass(frozen=True)
class Field:
    """Receptive field geometry of a layer: rows (y) and columns (x)."""

    y: Axis
    x: Axis

    @property
    def size(self) -> tuple[int, int]:
        return self.y.size, self.x.size

    def box(self, uy: int, ux: int, input_hw: tuple[int, int] | None = None):
        """(x0, y0, x1, y1), x1/y1 exclusive, of unit (uy, ux) in input pixels, clipped to
        the input when its (H, W) is given."""
        y0, y1 = self.y.lo + uy * self.y.jump, self.y.hi + uy * self.y.jump + 1
        x0, x1 = self.x.lo + ux * self.x.jump, self.x.hi + ux * self.x.jump + 1
        if input_hw is not None:
            h, w = input_hw
            y0, y1, x0, x1 = max(0, y0), min(h, y1), max(0, x0), min(w, x1)
        return x0, y0, x1, y1


IDENTITY = Field(Axis(1, 0, 0), Axis(1, 0, 0))


def receptive_field(keras_model, path: str) -> Field:
    """The Field of the layer at `path` (nested models too) in the model's input pixels."""
    parts = path.split("/")
    model = keras_model
    if not getattr(model, "inputs", None):
        raise UserError("the receptive field needs a model with a known input")
    known = {id(model.inputs[0]): IDENTITY}
    for depth, name in enumerate(parts):
        try:
            layer = model.get_layer(name)
        except ValueError:
            raise UserError(f"no layer {path!r} in this model") from None
        if type(layer).__name__ == "InputLayer":
            return known[id(model.inputs[0])]
        node = layer._inbound_nodes[0]
        if depth == len(parts) - 1:
            return _tensor(node.output_tensors[0], known)
        # a nested model: its input's field is that of the tensor fed to it
        outer = _tensor(_flat(node.input_tensors)[0], known)
        model = layer
        known = {id(model.inputs[0]): outer}
    raise UserError(f"no layer {path!r} in this model")


def _flat(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flat(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def _tensor(t, known: dict) -> Field:
    if id(t) in known:
        return known[id(t)]
    op, node_index, tensor_index = t._keras_history
    node = op._inbound_nodes[node_index]
    ins = _flat(node.input_tensors)
    if not ins:
        raise UserError(f"cannot trace the receptive field through {op.name!r} (no input)")
    fields = [_tensor(x, known) for x in ins]
    field = _union(fields, op.name)
    if hasattr(op, "layers") and getattr(op, "inputs", None) and getattr(op, "outputs", None):
        inner = {id(op.inputs[0]): field}
        out = _tensor(_flat(op.outputs)[tensor_index], inner)
    else:
        out = _layer(op, field, ins[0].shape, t.shape)
    known[id(t)] = out
    return out


def _union(fields: list[Field], name: str) -> Field:
    if len(fields) == 1:
        return fields[0]
    axes = []
    for a in ("y", "x"):
        js = {getattr(f, a).jump for f in fields}
        if len(js) != 1:
            raise UserError(f"{name!r} merges inputs of different strides; "
                            "their receptive fields do not align")
        axes.append(Axis(js.pop(), min(getattr(f, a).lo for f in fields),
                         max(getattr(f, a).hi for f in fields)))
    return Field(*axes)


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    return int(v[0]), int(v[1])


def _layer(op, f: Field, in_shape, out_shape) -> Field:
    kind = type(op).__name__
    if kind in CONV or kind in POOL:
        if getattr(op, "data_format", "channels_last") != "channels_last":
            raise UserError(f"{op.name!r}: only channels-last layers are supported")
        if kind in CONV:
            k, s, d = _pair(op.kernel_size), _pair(op.strides), _pair(op.dilation_rate)
        else:
            k, s, d = _pair(op.pool_size), _pair(op.strides), (1, 1)
        axes = []
        for i, a in enumerate((f.y, f.x)):
            k_eff = d[i] * (k[i] - 1) + 1
            n_in, n_out = in_shape[1 + i], out_shape[1 + i]
            if op.padding == "valid":
                pad = 0
            elif n_in is None or n_out is None:  # free size: the stride-1 value
                pad = (k_eff - 1) // 2
            else:
                pad = max((n_out - 1) * s[i] + k_eff - n_in, 0) // 2
            axes.append(Axis(a.jump * s[i], a.lo - pad * a.jump, a.hi + (k_eff - 1 - pad) * a.jump))
        return Field(*axes)
    if kind == "ZeroPadding2D":
        (top, _), (left, _) = op.padding
        return Field(Axis(f.y.jump, f.y.lo - top * f.y.jump, f.y.hi - top * f.y.jump),
                     Axis(f.x.jump, f.x.lo - left * f.x.jump, f.x.hi - left * f.x.jump))
    if kind == "Cropping2D":
        (top, _), (left, _) = op.cropping
        return Field(Axis(f.y.jump, f.y.lo + top * f.y.jump, f.y.hi + top * f.y.jump),
                     Axis(f.x.jump, f.x.lo + left * f.x.jump, f.x.hi + left * f.x.jump))
    same = (len(in_shape) == 4 and len(out_shape) == 4
            and tuple(in_shape[1:3]) == tuple(out_shape[1:3]))
    if same and kind not in ("UpSampling2D", "Resizing", "Conv2DTranspose"):
        return f  # point-wise in space
    raise UserError(f"cannot compute the receptive field through {op.name!r} ({kind}), "
                    "which changes the spatial size in a way ConvScope does not model")
