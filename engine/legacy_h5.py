"""Opening HDF5 model files written by Keras 2 (tf.keras, TensorFlow <= 2.15, `tf-keras`).

Keras 3 refuses or misreads many of these files (keras-team/keras#19151, #19441). This
module reads the file's `model_config` JSON with h5py, rewrites the config tree (through
nested Functional and Sequential models) into what Keras 3 accepts, rebuilds the model with
Keras 3 and loads the `model_weights` group layer by layer. It only translates where the
weights and the computation mean the same thing; anything else raises `UserError`, naming
the layer and the setting. What it translates, each found in files written by tf_keras 2.21:

- `groups: 1` on DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1D/2D/3DTranspose: Keras 3
  has no such argument (1 is the only value those layers accepted; other values raise).
- `rng_type` on RandomFlip/Rotation/Zoom/Contrast/Translation/Crop/Brightness: only picks
  the random generator used in training. RandomHeight/RandomWidth (gone in Keras 3; identity
  at inference) become `Identity`.
- `trainable` and `noise_shape: null` on SpatialDropout1D/2D/3D (no weights, no effect).
- mixed-precision `dtype` dicts (`{"class_name": "Policy", ...}`) become the policy name.
- the `hard_sigmoid` activation: Keras 2 computes clip(0.2x + 0.5), Keras 3 relu6(x + 3)/6,
  so Keras 3 would load it silently with other numbers; it is mapped to a Keras-2 function.
- `ThresholdedReLU` (gone in Keras 3) becomes an exact re-implementation.
- `TFOpLambda` / `SlicingOpLambda` (what tf.keras records for `tf.math.*`, `x + y`, `x[..]`,
  e.g. `preprocess_input` inside a model) become a layer calling the same TensorFlow function;
  only pure math/array functions are allowed.
- inbound nodes: Keras 2 numbers the calls of a nested model from 1 (its own first node is
  skipped) and stores tensors passed as keyword arguments and constants in a form Keras 3's
  legacy reader mishandles; every node is rewritten into Keras 3's own node format.
- an `axis` list longer than one element (LayerNormalization(axis=[1, 2, 3])): Keras 3's
  legacy reader drops it; such layers go through Keras 3's native deserializer instead.
- old Sequential configs whose first layer carries `batch_input_shape` get an InputLayer.
- `time_major: false` on RNN layers, build-shape keys of MultiHeadAttention.

`Lambda` layers hold Python bytecode; they load only with `trust_code=True`.
Keras 3 detail worth knowing: its augmentation layers (RandomFlip, ...) are active when a
model is called without `training=False`, unlike Keras 2; call models with training=False.
"""
from __future__ import annotations

import copy
import json
import os
import re

import keras
from keras import ops

from .errors import UserError

_ADVICE = ("To open it, load it with tf.keras 2 (TensorFlow <= 2.15 or the tf-keras package), "
           "rebuild those layers with Keras 3, copy the weights over and save the model "
           "with Keras 3 as .keras.")

_GROUPS_CLASSES = {"DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
                   "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
_RANDOM_CLASSES = {"RandomFlip", "RandomRotation", "RandomZoom", "RandomContrast",
                   "RandomTranslation", "RandomBrightness"}
_IDENTITY_AT_INFERENCE = {"RandomHeight", "RandomWidth"}
_SPATIAL_DROPOUT = {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"}
_RNN_CLASSES = {"LSTM", "GRU", "SimpleRNN", "RNN", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"}
_REMOVED = {
    "LocallyConnected1D": "locally connected layers were removed in Keras 3",
    "LocallyConnected2D": "locally connected layers were removed in Keras 3",
}
_CONSTANT = "_CONSTANT_VALUE"
# Layers whose first call argument keeps its list structure (Keras 2's
# `_preserve_input_structure_in_config`).
_PRESERVE_STRUCTURE = {"TFOpLambda", "SlicingOpLambda"}

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


# --------------------------------------------------------------------------------------
# Keras 3 stand-ins for Keras 2 pieces that Keras 3 lacks.

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


# --------------------------------------------------------------------------------------
# Config translation.

class _Translation:
    def __init__(self, trust_code: bool):
        self.trust_code = trust_code
        self.problems: list[str] = []
        self.changes: dict[str, set[str]] = {}
        self.leaves: list[tuple[str, dict]] = []  # (path, entry) to validate one by one
        self.uses_tf_ops = False
        self.renamed: list[tuple[str, str]] = []
        self.root_renames: dict[str, str] = {}

    def note(self, what: str, cls: str):
        self.changes.setdefault(what, set()).add(cls)

    def problem(self, where: str, cls: str, text: str):
        self.problems.append(f"{_label(where, cls)}: {text}")


def _label(where: str, cls) -> str:
    return f"layer '{where}' ({cls})" if where else f"the model itself ({cls})"


def _join(where: str, name) -> str:
    return f"{where}/{name}" if where else str(name)


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


def _entry_name(entry: dict):
    return entry.get("name") or (entry.get("config") or {}).get("name")


def _renames(layers: list, where: str, t: _Translation) -> dict[str, str]:
    """New names for layers whose names hold '/', which Keras 3 forbids (Keras 2's own
    applications use it: DenseNet's 'conv1/conv', MobileNetV3's 'Conv/BatchNorm')."""
    names = [_entry_name(e) for e in layers]
    taken, renames = set(names), {}
    for name in names:
        if isinstance(name, str) and "/" in name:
            new = base = name.replace("/", "_")
            i = 1
            while new in taken:
                new, i = f"{base}_{i}", i + 1
            taken.add(new)
            renames[name] = new
    for e in layers:
        new = renames.get(_entry_name(e))
        if new:
            if "name" in e:
                e["name"] = new
            e["config"]["name"] = new
    if renames:
        t.renamed.extend(renames.items())
        if not where:
            t.root_renames.update(renames)
    return renames


def _translate_functional(entry: dict, where: str, t: _Translation):
    conf = entry["config"]
    layers = conf.get("layers") or []
    # Keras 3 node index = Keras 2 index - 1 for nested models that skip their first node.
    shifts = {_entry_name(e): 1 for e in layers if _skips_first_node(e)}
    kinds = {_entry_name(e): e.get("class_name") for e in layers}
    old_names = [_entry_name(e) for e in layers]
    renames = _renames(layers, where, t)
    for e, name in zip(layers, old_names):
        cls = e.get("class_name")
        nodes = e.get("inbound_nodes") or []
        if nodes and all(isinstance(n, list) for n in nodes):  # Keras 2 node lists
            try:
                e["inbound_nodes"] = [_translate_node(n, cls, shifts, renames) for n in nodes]
            except ValueError as exc:
                t.problem(_join(where, name), cls, str(exc))
        _translate_entry(e, _join(where, name), t)
    for key in ("input_layers", "output_layers"):
        refs = conf.get(key)
        if not isinstance(refs, list):
            continue
        flat = [refs] if refs and isinstance(refs[0], str) else refs
        for ref in flat:
            if isinstance(ref, list) and len(ref) == 3 and isinstance(ref[0], str):
                name = ref[0]
                if key == "output_layers":
                    # Keras 3 itself subtracts 1 from output references to Functional
                    # models (not Sequential ones); land on the right node either way.
                    k3_subtracts = 1 if kinds.get(name) in ("Functional", "Model") else 0
                    ref[1] = ref[1] - shifts.get(name, 0) + k3_subtracts
                ref[0] = renames.get(name, name)
        # Keras 2 lists even a single input/output; Keras 3 then expects a list when
        # called (and warns on a bare tensor). One input or output is a bare tensor in both.
        if len(refs) == 1 and isinstance(refs[0], list):
            conf[key] = refs[0]


def _translate_sequential(entry: dict, where: str, t: _Translation):
    layers = entry["config"].get("layers") or []
    if layers and layers[0].get("class_name") != "InputLayer":
        first = layers[0].get("config") or {}
        if "batch_input_shape" in first:
            layers.insert(0, {"class_name": "InputLayer", "config": {
                "batch_input_shape": first.pop("batch_input_shape"),
                "dtype": first.get("dtype") if isinstance(first.get("dtype"), str) else None,
                "name": f"{first.get('name', 'layer')}_input"}})
            first.pop("batch_size", None)
            t.note("moved batch_input_shape into an InputLayer", "Sequential")
    old_names = [_entry_name(e) for e in layers]
    _renames(layers, where, t)
    for e, name in zip(layers, old_names):
        _translate_entry(e, _join(where, name or "?"), t)


_ANY = object()  # for _drop: any value means the same in Keras 3 (or nothing at inference)


def _drop(conf, key, default, where, cls, t, meaning):
    """Drop `key` when it holds the value Keras 3 implies; otherwise report it."""
    if key not in conf:
        return
    value = conf[key]
    if default is _ANY or value == default:
        del conf[key]
        t.note(f"dropped {key}" + ("" if default is _ANY else f"={json.dumps(default)}"), cls)
    else:
        t.problem(where, cls, f"setting {key}={json.dumps(value)} ({meaning}) has no Keras 3 "
                              "equivalent")



def _translate_dtype(conf: dict, where: str, cls: str, t: _Translation):
    dtype = conf.get("dtype")
    if isinstance(dtype, dict):
        inner = dtype.get("config") or {}
        name = inner.get("name")
        if dtype.get("class_name") in ("Policy", "PolicyV1", "DTypePolicy") and name in (
                "float32", "float16", "bfloat16", "float64", "mixed_float16", "mixed_bfloat16"):
            conf["dtype"] = name
            t.note("turned dtype policy objects into their names", cls)
        else:
            t.problem(where, cls, f"dtype policy {json.dumps(dtype)} has no Keras 3 equivalent")


def _translate_entry(entry: dict, where: str, t: _Translation, legacy: bool = True):
    """Translate one layer entry in place. `legacy`: Keras 3 reads it with its legacy H5
    reader (layers of models); wrapped layers (TimeDistributed, ...) go to its native one."""
    cls = entry.get("class_name")
    conf = entry.get("config")
    if legacy:
        # tf_keras >= 2.13 writes some entries (layers inside a Sequential) in the newer
        # format, with module paths such as "tf_keras.src.engine.functional"; read them
        # all as legacy entries.
        for key in ("module", "registered_name", "build_config", "compile_config"):
            entry.pop(key, None)
    if not isinstance(conf, dict):
        t.problem(where, str(cls), "the layer has no readable config")
        return
    _translate_dtype(conf, where, cls, t)
    if cls in ("Functional", "Model") and "layers" in conf:
        _translate_functional(entry, where, t)
        return
    if cls == "Sequential":
        _translate_sequential(entry, where, t)
        return
    if isinstance(conf.get("layer"), dict) and "class_name" in conf["layer"]:  # wrappers
        inner = conf["layer"]
        _translate_entry(inner, _join(where, (inner.get("config") or {}).get("name", "?")), t,
                         legacy=False)
    if isinstance(conf.get("backward_layer"), dict):
        _translate_entry(conf["backward_layer"], _join(where, "backward_layer"), t,
                         legacy=False)

    if cls in _GROUPS_CLASSES:
        _drop(conf, "groups", 1, where, cls, t, "a grouped convolution")
    if cls in ("SeparableConv1D", "SeparableConv2D"):
        # Inherited from Conv's config; Keras 2 never uses them for these layers (their
        # kernels come from depthwise_*/pointwise_* settings).
        for key in ("kernel_initializer", "kernel_regularizer", "kernel_constraint"):
            _drop(conf, key, _ANY, where, cls, t, "")
    if cls in _RANDOM_CLASSES:
        _drop(conf, "rng_type", _ANY, where, cls, t, "")
    elif cls in _SPATIAL_DROPOUT:
        _drop(conf, "trainable", _ANY, where, cls, t, "")
        _drop(conf, "noise_shape", None, where, cls, t, "a custom noise shape")
    elif cls in _RNN_CLASSES:
        _drop(conf, "time_major", False, where, cls, t, "time-major inputs")
    elif cls == "MultiHeadAttention":
        for key in ("query_shape", "key_shape", "value_shape"):
            _drop(conf, key, _ANY, where, cls, t, "")
        _drop(conf, "softmax_robust_masking", False, where, cls, t, "robust masking")
    elif cls == "RandomCrop":
        # At inference Keras 2 crops the largest centred window of the target aspect ratio
        # and resizes it (smart_resize); Keras 3's RandomCrop returns the input unchanged.
        # Resizing(crop_to_aspect_ratio=True) computes exactly Keras 2's result.
        entry["class_name"] = "Resizing"
        entry["config"] = {**{k: conf[k] for k in ("name", "trainable", "dtype") if k in conf},
                           "height": conf.get("height"), "width": conf.get("width"),
                           "interpolation": "bilinear", "crop_to_aspect_ratio": True}
        conf = entry["config"]
        t.note("replaced by Resizing(crop_to_aspect_ratio=True), its inference behaviour", cls)
    elif cls in _IDENTITY_AT_INFERENCE:
        entry["class_name"] = "Identity"
        entry["config"] = {k: conf[k] for k in ("name", "trainable", "dtype") if k in conf}
        conf = entry["config"]
        t.note("replaced by Identity (random resizing only acts in training)", cls)
    elif cls in ("TFOpLambda", "SlicingOpLambda"):
        fn = conf.get("function")
        if not isinstance(fn, str) or _tf_symbol(fn) is None:
            t.problem(where, cls, f"it calls tf.{fn}, which ConvScope does not run from a model "
                                  "file (only TensorFlow math and array functions)")
        t.uses_tf_ops = True
        t.note("rebuilt as a layer calling the same TensorFlow function", cls)
    elif cls == "ThresholdedReLU":
        t.note("rebuilt as an exact Keras 3 layer", cls)
    elif cls == "Lambda" and t.trust_code:
        fn = conf.get("function")
        if isinstance(fn, list) and len(fn) == 3 and isinstance(fn[1], list):
            fn[1] = tuple(fn[1])  # JSON made the defaults tuple a list; Keras 3 wants a tuple
    elif cls == "Lambda":
        t.problem(where, cls, "a Lambda layer holds Python bytecode, and running code from a "
                              "model file is off by default (replace the Lambda by built-in "
                              "layers, or open the file with trust_code=True if you trust it)")
    elif cls in _REMOVED:
        t.problem(where, cls, _REMOVED[cls])

    for key, value in conf.items():
        # TF 1.x wrote a dtype into initializer configs; Keras 3 initializers take none, and
        # initializers do not matter here anyway (the weights come from the file).
        if (key.endswith("_initializer") and isinstance(value, dict)
                and isinstance(value.get("config"), dict) and "dtype" in value["config"]):
            del value["config"]["dtype"]
            t.note("dropped dtype from initializer configs", cls)
    for key in ("activation", "recurrent_activation"):
        if conf.get(key) == "hard_sigmoid":
            conf[key] = keras2_hard_sigmoid
            t.note("mapped activation hard_sigmoid to Keras 2's definition", cls)
    axis = conf.get("axis")
    if isinstance(axis, list) and len(axis) == 1 and isinstance(axis[0], int):
        conf["axis"] = axis = axis[0]  # what Keras 3's legacy reader does; native needs it too
    if isinstance(axis, list) and len(axis) > 1 and cls == "BatchNormalization":
        t.problem(where, cls, f"setting axis={json.dumps(axis)} (statistics per element of "
                              "several axes) has no Keras 3 equivalent; Keras 3's "
                              "BatchNormalization takes one axis")
    elif isinstance(axis, list) and len(axis) > 1 and legacy:
        # Keras 3's legacy reader keeps only one-element axis lists; its native one keeps all.
        entry["module"] = "keras.layers"
        entry["registered_name"] = None
        t.note("kept a multi-axis setting", cls)
    t.leaves.append((where, entry))


def translate_config(config: dict, trust_code: bool = False) -> tuple[dict, list[str]]:
    """Translate a Keras 2 `model_config` (parsed JSON) for Keras 3.

    Returns the new config and notes on what changed; raises `UserError` listing every
    setting that cannot be translated.
    """
    config = copy.deepcopy(config)
    t = _Translation(trust_code)
    _translate_root(config, t)
    if t.problems:
        raise UserError(_problem_message("this model", t.problems))
    return config, _notes(t)


def _translate_root(config: dict, t: _Translation):
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise UserError("the model configuration in the file is not a Keras model config")
    _translate_entry(config, "", t)  # layer paths are relative to the outer model


def _notes(t: _Translation) -> list[str]:
    notes = [f"{what}: {', '.join(sorted(classes))}" for what, classes in sorted(t.changes.items())]
    if t.renamed:
        old, new = t.renamed[0]
        notes.append(f"renamed {len(t.renamed)} layer(s) whose names contain '/', which Keras 3 "
                     f"forbids (e.g. '{old}' -> '{new}')")
    return notes


def _problem_message(what: str, problems: list[str], limit: int = 12) -> str:
    lines = "\n".join(f"  - {p}" for p in problems[:limit])
    if len(problems) > limit:
        lines += f"\n  - ... and {len(problems) - limit} more"
    return (f"{what} was written by Keras 2 (tf.keras) and Keras 3 cannot rebuild "
            f"{'this layer' if len(problems) == 1 else 'these layers'}:\n{lines}\n{_ADVICE}")


# --------------------------------------------------------------------------------------
# Building and weights.

def _scopes(trust_code: bool):
    from contextlib import ExitStack

    from keras.src.legacy.saving import saving_options
    from keras.src.saving import serialization_lib

    stack = ExitStack()
    stack.enter_context(saving_options.keras_option_scope(use_legacy_config=True))
    stack.enter_context(serialization_lib.SafeModeScope(not trust_code))
    stack.enter_context(keras.saving.custom_object_scope(_CUSTOM_OBJECTS))
    return stack


def _instantiate(entry: dict):
    from keras.src.legacy.saving import saving_utils
    from keras.src.saving import serialization_lib

    entry = copy.deepcopy({k: v for k, v in entry.items() if k != "inbound_nodes"})
    if "module" in entry:
        return serialization_lib.deserialize_keras_object(entry, custom_objects=_CUSTOM_OBJECTS)
    return saving_utils.model_from_config(entry, custom_objects=_CUSTOM_OBJECTS)


def _first_line(exc: BaseException) -> str:
    """The informative line of a Keras exception message."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip() or type(exc).__name__
    marker = "Exception encountered:"  # Keras wraps the real reason after this, maybe twice
    if marker in text:
        text = text[text.rindex(marker) + len(marker):].strip() or text
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [text]
    first = lines[0]
    if first.startswith("Exception encountered when calling") and len(lines) > 1:
        first = f"{first.rstrip('.')}: {lines[1]}"
    return first[:400]


def _build(config: dict, t: _Translation, trust_code: bool):
    from keras.src.legacy.saving import saving_utils

    if t.uses_tf_ops and keras.backend.backend() != "tensorflow":
        raise UserError("this model calls TensorFlow functions (TFOpLambda layers); open it "
                        "with the TensorFlow backend of Keras")
    with _scopes(trust_code):
        try:
            # (a copy: Keras edits configs in place, and t.leaves share this one's entries)
            return saving_utils.model_from_config(copy.deepcopy(config),
                                                  custom_objects=_CUSTOM_OBJECTS)
        except Exception as exc:  # Keras raises many types here
            failure = exc
        # Name the layers Keras 3 refuses by building them one at a time.
        problems = []
        for where, entry in t.leaves:
            try:
                _instantiate(entry)
            except Exception as exc:
                problems.append(f"{_label(where, entry.get('class_name'))}: "
                                f"{_first_line(exc)}")
    if problems:
        raise UserError(_problem_message("this model", problems))
    raise UserError("the model's layers were translated but Keras 3 could not connect them: "
                    f"{_first_line(failure).rstrip('.')}. {_ADVICE}")


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


# --------------------------------------------------------------------------------------

def load(path: str, *, trust_code: bool = False) -> keras.Model:
    """Open an HDF5 model file written by Keras 2 / tf.keras and return a Keras 3 model."""
    return load_with_notes(path, trust_code=trust_code)[0]


def load_with_notes(path: str, *, trust_code: bool = False) -> tuple[keras.Model, list[str]]:
    """Like `load`, and also return notes on what was translated (for the user)."""
    import h5py

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise UserError(f"model file not found: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise UserError(f"{path} is not a readable HDF5 file (corrupt or truncated?): "
                        f"{_first_line(exc)}") from None
    try:
        with f:
            raw = f.attrs.get("model_config")
            if raw is None:
                raise UserError(f"{path} holds weights only (no model configuration); save "
                                "the whole model (model.save) and open that")
            version = f.attrs.get("keras_version", b"")
            version = version.decode() if hasattr(version, "decode") else str(version)
            if version.startswith("3."):
                return _load_keras3_h5(path), []
            try:
                config = json.loads(raw.decode("utf-8") if hasattr(raw, "decode") else raw)
            except ValueError as exc:
                raise UserError(f"{path}: the model configuration is not valid JSON "
                                f"(corrupt file?): {_first_line(exc)}") from None
            t = _Translation(trust_code)
            config = copy.deepcopy(config)
            _translate_root(config, t)
            if t.problems:
                raise UserError(_problem_message(os.path.basename(path), t.problems))
            model = _build(config, t, trust_code)
            if "model_weights" not in f:
                raise UserError(f"{path} has a model configuration but no weights "
                                "(damaged file?)")
            try:
                _load_weights(f["model_weights"], model, t.root_renames)
            except UserError:
                raise
            except (OSError, KeyError, ValueError, TypeError) as exc:
                raise UserError(f"could not read the weights in {path} (corrupt or "
                                f"truncated?): {_first_line(exc)}") from None
            return model, _notes(t)
    except UserError as exc:
        msg = str(exc)
        if path not in msg and os.path.basename(path) not in msg:
            msg = f"{os.path.basename(path)}: {msg}"
        raise UserError(msg) from None


def _load_keras3_h5(path: str):
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as exc:
        raise UserError(f"Keras 3 could not open {path}: {_first_line(exc)}") from None
