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

Modules: `stand_ins` (Keras 3 layers and functions replacing Keras 2 ones), `translate`
(the config tree), `nodes` (inbound nodes), `build` (the Keras 3 model), `weights`
(loading and checking the weights), `messages` (error-message pieces).
"""
from __future__ import annotations

import copy
import json
import os

import keras

from ..errors import Remedy, UserError
from .build import _build
from .messages import _first_line, _problem_message
from .stand_ins import SlicingOpLambda, TFOpLambda, ThresholdedReLU, keras2_hard_sigmoid
from .translate import LAMBDA_REFUSED, _notes, _Translation, _translate_root, translate_config
from .weights import _load_weights

__all__ = ["load", "load_with_notes", "translate_config", "keras2_hard_sigmoid",
           "TFOpLambda", "SlicingOpLambda", "ThresholdedReLU"]


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
                return _load_keras3_h5(path, trust_code), []
            try:
                config = json.loads(raw.decode("utf-8") if hasattr(raw, "decode") else raw)
            except ValueError as exc:
                raise UserError(f"{path}: the model configuration is not valid JSON "
                                f"(corrupt file?): {_first_line(exc)}") from None
            t = _Translation(trust_code)
            config = copy.deepcopy(config)
            _translate_root(config, t)
            if t.problems and all(LAMBDA_REFUSED in p for p in t.problems):
                # only Lambda layers stand in the way: one line that says how
                names = ", ".join(_layer_names(t.problems))
                raise UserError(f"{os.path.basename(path)} holds the Lambda layer(s) {names} "
                                "(Python code stored in the model file), which ConvScope "
                                "runs only if you trust the file: open it with --trust-model "
                                "(Python: trust_model=True)",
                                remedy=Remedy("trust_model", "Trust this file and open it", path))
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
        raise UserError(msg, remedy=exc.remedy) from None


def _layer_names(problems: list[str]) -> list[str]:
    """The quoted layer names of messages.py's "layer 'NAME' (Class): ..." problems."""
    import re

    return [m.group(0)[len("layer "):] for p in problems for m in [re.match(r"layer '[^']*'", p)] if m]


def _load_keras3_h5(path: str, trust_code: bool = False):
    from ..model_options import active_custom_objects, explain_load_error

    try:
        return keras.saving.load_model(path, compile=False, safe_mode=not trust_code)
    except Exception as exc:
        explained = explain_load_error(exc, path, custom_objects=active_custom_objects(),
                                       trust_model=trust_code)
        if explained is not None:
            raise explained from None
        raise UserError(f"Keras 3 could not open {path}: {_first_line(exc)}") from None
