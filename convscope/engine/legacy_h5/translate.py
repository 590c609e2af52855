"""Config translation: a Keras 2 `model_config` tree rewritten, in place, into what Keras 3
accepts (through nested Functional and Sequential models)."""
from __future__ import annotations

import copy
import json

from ..errors import UserError

LAMBDA_REFUSED = "open it with --trust-model (Python: trust_model=True)"
from .messages import _label, _problem_message
from .nodes import _skips_first_node, _translate_node
from .stand_ins import _tf_symbol, keras2_hard_sigmoid

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


def _join(where: str, name) -> str:
    return f"{where}/{name}" if where else str(name)


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
                              f"layers, or {LAMBDA_REFUSED} if you trust the file)")
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
