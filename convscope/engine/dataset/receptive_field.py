"""The receptive field of a layer's units, from the layer geometry through the whole graph.

The field of a unit is traced back through the Keras graph, layer by layer, as a range of
unit indices per spatial axis (Araujo et al. 2019, "Computing receptive fields of
convolutional neural networks", Distill). A convolution or pooling with kernel k, stride s,
dilation d and left padding p maps output units v0..v1 to the input taps

    v0*s - p  ..  v1*s - p + d*(k - 1)          (taps every d inside one kernel)

where "same" padding is p = floor(max((n_out - 1) s + d (k - 1) + 1 - n_in, 0) / 2) (as
TensorFlow pads) and "valid" p = 0; ZeroPadding2D and Cropping2D shift the indices;
layers that keep the spatial size without looking at neighbours (activations,
normalisation, dropout, element-wise merges, concatenation) keep them; merges take the
union of their inputs' fields; nested models are walked into (a model used as a layer
hands its input's field to the tensor that feeds it). Anything else that changes the
spatial size (upsampling, resizing, reshaping) is refused with a UserError.

Exact at the borders: `box` traces the *set* of units per axis (a boolean mask over each
tensor's rows and columns), so taps that fall in padding — which are not input pixels —
drop out. This matters with dilation: near a border the last real tap of a dilated
kernel can stop d - 1 rows short of the interval a range calculation gives. The
geometric field (ranges, padding counted) gives the size and the jump (stride in input
pixels) of an interior unit. Models with a free input size are traced by ranges.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UserError

CONV = ("Conv2D", "DepthwiseConv2D", "SeparableConv2D")
POOL = ("MaxPooling2D", "AveragePooling2D")


def _flat(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flat(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in _flat(item)]
    return [x]


def _pair(v) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    return int(v[0]), int(v[1])


@dataclass
class Field:
    """Receptive fields of the units of one layer (see the module docstring)."""

    keras_model: object
    path: str

    def __post_init__(self):
        self._start, self._alias = _locate(self.keras_model, self.path)
        shape = self.keras_model.inputs[0].shape
        self._input_hw = (shape[1], shape[2])
        b0, b1 = self._trace_box(0, 0, False), self._trace_box(1, 1, False)
        self.size = (b0[3] - b0[1], b0[2] - b0[0])  # (height, width) in input pixels
        self.jump = (b1[1] - b0[1], b1[0] - b0[0])

    def box(self, uy: int, ux: int, input_hw: tuple[int, int] | None = None):
        """(x0, y0, x1, y1), x1/y1 exclusive: the input pixels unit (uy, ux) can see."""
        shape = self._start.shape
        if None not in self._input_hw and shape[1] is not None and shape[2] is not None:
            ym, xm = np.zeros(shape[1], bool), np.zeros(shape[2], bool)
            ym[uy] = xm[ux] = True
            masks = _MaskTracer(dict(self._alias)).trace(self._start, (ym, xm))
            if masks is None:
                return (0, 0, 0, 0)
            ys, xs = np.nonzero(masks[0])[0], np.nonzero(masks[1])[0]
            return (int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1)
        return self._trace_box(uy, ux, True, input_hw)

    def _trace_box(self, uy, ux, clip, input_hw=None):
        hw = input_hw or self._input_hw
        tracer = _Tracer(dict(self._alias), clip, hw)
        r = tracer.trace(self._start, (uy, uy, ux, ux))
        if r is None:
            return (0, 0, 0, 0)
        y0, y1, x0, x1 = r
        return (x0, y0, x1 + 1, y1 + 1)


def receptive_field(keras_model, path: str) -> Field:
    """The Field of the layer at `path` (nested models too) in the model's input pixels."""
    if not getattr(keras_model, "inputs", None):
        raise UserError("the receptive field needs a model with a known input")
    return Field(keras_model, path)


def _locate(model, path: str):
    """(the layer's output tensor, {inner model input id: outer tensor feeding it})."""
    alias = {}
    parts = path.split("/")
    for depth, name in enumerate(parts):
        try:
            layer = model.get_layer(name)
        except ValueError:
            raise UserError(f"no layer {path!r} in this model") from None
        if type(layer).__name__ == "InputLayer":
            return model.inputs[0], alias
        node = layer._inbound_nodes[0]
        if depth == len(parts) - 1:
            return _flat(node.output_tensors)[0], alias
        alias[id(layer.inputs[0])] = _flat(node.input_tensors)[0]
        model = layer
    raise UserError(f"no layer {path!r} in this model")


class _Tracer:
    def __init__(self, alias: dict, clip: bool, input_hw):
        self.alias, self.clip, self.input_hw = alias, clip, input_hw
        self.memo: dict = {}

    def trace(self, t, r):
        """Unit range r = (y0, y1, x0, x1) (inclusive) of tensor t -> input pixel range."""
        key = (id(t), r)
        if key in self.memo:
            return self.memo[key]
        if id(t) in self.alias:
            out = self.trace(self.alias[id(t)], r)
        else:
            op, node_index, tensor_index = t._keras_history
            ins = _flat(op._inbound_nodes[node_index].input_tensors)
            if not ins:  # the model's input: pixels
                out = self._limit(r, self.input_hw)
            elif hasattr(op, "layers") and getattr(op, "inputs", None):  # a nested model
                self.alias[id(op.inputs[0])] = ins[0]
                out = self.trace(_flat(op.outputs)[tensor_index], r)
            else:
                out = None
                for x in ins:
                    rr = self._layer(op, r, x.shape, t.shape)
                    b = None if rr is None else self.trace(x, rr)
                    out = _union(out, b)
        self.memo[key] = out
        return out

    def _limit(self, r, hw):
        if not self.clip:
            return r
        y0, y1, x0, x1 = r
        h, w = hw
        y0, x0 = max(0, y0), max(0, x0)
        if h is not None:
            y1 = min(h - 1, y1)
        if w is not None:
            x1 = min(w - 1, x1)
        return (y0, y1, x0, x1) if y0 <= y1 and x0 <= x1 else None

    def _layer(self, op, r, in_shape, out_shape):
        kind = type(op).__name__
        n_in = (in_shape[1], in_shape[2]) if len(in_shape) == 4 else (None, None)
        if kind in CONV or kind in POOL:
            if getattr(op, "data_format", "channels_last") != "channels_last":
                raise UserError(f"{op.name!r}: only channels-last layers are supported")
            if kind in CONV:
                k, s, d = _pair(op.kernel_size), _pair(op.strides), _pair(op.dilation_rate)
            else:
                k, s, d = _pair(op.pool_size), _pair(op.strides), (1, 1)
            out = []
            for i, (v0, v1) in enumerate(((r[0], r[1]), (r[2], r[3]))):
                k_eff = d[i] * (k[i] - 1) + 1
                n, m = n_in[i], out_shape[1 + i]
                if op.padding == "valid":
                    pad = 0
                elif n is None or m is None:  # free size: the stride-1 value
                    pad = (k_eff - 1) // 2
                else:
                    pad = max((m - 1) * s[i] + k_eff - n, 0) // 2
                first, last = v0 * s[i] - pad, v1 * s[i] - pad + k_eff - 1
                if self.clip:  # only taps on real input units (padding is not input)
                    while first < 0 and first + d[i] <= last:
                        first += d[i]
                    while n is not None and last > n - 1 and last - d[i] >= first:
                        last -= d[i]
                    if first < 0 or (n is not None and last > n - 1):
                        return None
                out += [first, last]
            return tuple(out)
        if kind in ("ZeroPadding2D", "Cropping2D"):
            (top, _), (left, _) = op.padding if kind == "ZeroPadding2D" else op.cropping
            sign = -1 if kind == "ZeroPadding2D" else 1
            shifted = (r[0] + sign * top, r[1] + sign * top, r[2] + sign * left, r[3] + sign * left)
            return self._limit(shifted, n_in)
        same = (len(in_shape) == 4 and len(out_shape) == 4
                and tuple(in_shape[1:3]) == tuple(out_shape[1:3]))
        if same and kind not in ("UpSampling2D", "Resizing", "Conv2DTranspose"):
            return r  # point-wise in space
        raise UserError(f"cannot compute the receptive field through {op.name!r} ({kind}), "
                        "which changes the spatial size in a way ConvScope does not model")


def _union(a, b):
    if a is None:
        return b
    if b is None:
        return a
    return (min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3]))


class _MaskTracer:
    """The exact version of _Tracer: per axis, the set of units as a boolean mask."""

    def __init__(self, alias: dict):
        self.alias = alias
        self.memo: dict = {}

    def trace(self, t, m):
        key = (id(t), m[0].tobytes(), m[1].tobytes())
        if key in self.memo:
            return self.memo[key]
        if id(t) in self.alias:
            out = self.trace(self.alias[id(t)], m)
        else:
            op, node_index, tensor_index = t._keras_history
            ins = _flat(op._inbound_nodes[node_index].input_tensors)
            if not ins:
                out = m
            elif hasattr(op, "layers") and getattr(op, "inputs", None):
                self.alias[id(op.inputs[0])] = ins[0]
                out = self.trace(_flat(op.outputs)[tensor_index], m)
            else:
                out = None
                for x in ins:
                    mm = self._layer(op, m, x.shape, t.shape)
                    b = None if mm is None else self.trace(x, mm)
                    out = b if out is None else (out if b is None else (out[0] | b[0], out[1] | b[1]))
        self.memo[key] = out
        return out

    @staticmethod
    def _layer(op, m, in_shape, out_shape):
        kind = type(op).__name__
        n_in = (in_shape[1], in_shape[2])
        if kind in CONV or kind in POOL:
            if kind in CONV:
                k, s, d = _pair(op.kernel_size), _pair(op.strides), _pair(op.dilation_rate)
            else:
                k, s, d = _pair(op.pool_size), _pair(op.strides), (1, 1)
            out = []
            for i in range(2):
                k_eff = d[i] * (k[i] - 1) + 1
                n, n_out = n_in[i], out_shape[1 + i]
                pad = 0 if op.padding == "valid" else max((n_out - 1) * s[i] + k_eff - n, 0) // 2
                taps = (np.nonzero(m[i])[0][:, None] * s[i] - pad + np.arange(k[i]) * d[i]).ravel()
                taps = taps[(taps >= 0) & (taps < n)]  # padding is not input
                if not len(taps):
                    return None
                mask = np.zeros(n, bool)
                mask[taps] = True
                out.append(mask)
            return tuple(out)
        if kind in ("ZeroPadding2D", "Cropping2D"):
            (top, _), (left, _) = op.padding if kind == "ZeroPadding2D" else op.cropping
            sign = -1 if kind == "ZeroPadding2D" else 1
            out = []
            for i, shift in enumerate((top, left)):
                idx = np.nonzero(m[i])[0] + sign * shift
                idx = idx[(idx >= 0) & (idx < n_in[i])]
                if not len(idx):
                    return None
                mask = np.zeros(n_in[i], bool)
                mask[idx] = True
                out.append(mask)
            return tuple(out)
        if tuple(in_shape[1:3]) == tuple(out_shape[1:3]) and kind not in (
                "UpSampling2D", "Resizing", "Conv2DTranspose"):
            return m
        raise UserError(f"cannot compute the receptive field through {op.name!r} ({kind}), "
                        "which changes the spatial size in a way ConvScope does not model")
