"""Opening a model spec: a .keras file, a legacy .h5/.hdf5, a SavedModel folder,
`builtin:NAME[?weights=none]` or `demo` (design §2)."""
from __future__ import annotations

import contextlib
import os
import sys
import zipfile
from dataclasses import dataclass
from urllib.parse import parse_qs

from . import labels as label_files
from .builtin_models import BUILTINS
from .errors import Remedy, UserError, first_line
from .input_files import regular_file

DEMO_PATH = os.path.join(label_files.RESOURCES, "models", "demo.keras")
MODEL_SUFFIXES = (".keras", ".h5", ".hdf5")


def is_model_path(path: str) -> bool:
    """A model file or SavedModel folder (by its name), as opposed to an image."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "saved_model.pb"))
    return os.path.splitext(path)[1].lower() in MODEL_SUFFIXES


@dataclass
class Loaded:
    keras_model: object  # keras.Model, or a TFSMLayer for SavedModels (predict only)
    name: str
    source: str  # what was opened, for the summary
    labels: list[str] | None
    auto_preprocess: str
    predict_only: bool = False
    note: str = ""  # what the user should know (e.g. translated legacy config)


def open_spec(spec: str, custom_objects: dict | None = None, trust_model: bool = False) -> Loaded:
    """custom_objects: {name: class} the user's code defines (engine.model_options);
    trust_model: run Python code stored in the file (Lambda layers)."""
    spec = os.fspath(spec).strip()
    if spec == "demo":
        if not os.path.isfile(DEMO_PATH):
            raise UserError(f"the demo model is missing ({DEMO_PATH}); run scripts/train_demo.py")
        loaded = _open_file(DEMO_PATH)
        loaded.name, loaded.source = "demo — shapes CNN", "demo"
        return loaded
    if spec.startswith("builtin:"):
        return _open_builtin(spec[len("builtin:"):])
    if not os.path.exists(spec):
        raise UserError(f"model file not found: {spec}")
    if os.path.isdir(spec):
        return _open_savedmodel(spec)
    regular_file(spec, "model file")  # a FIFO would block the loader forever
    import keras

    with keras.saving.custom_object_scope(custom_objects or {}):
        return _open_file(spec, custom_objects, trust_model)


def _open_file(path: str, custom_objects: dict | None = None, trust_model: bool = False) -> Loaded:
    import keras

    from .model_options import explain_load_error

    suffix = os.path.splitext(path)[1].lower()
    note = ""
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise UserError(f"{path} is not a valid .keras file (not a zip archive); "
                            "is it corrupt or truncated?")
        try:
            model = keras.saving.load_model(path, compile=False, safe_mode=not trust_model)
        except Exception as exc:  # Keras raises many types for bad files
            explained = explain_load_error(exc, path, custom_objects=custom_objects,
                                           trust_model=trust_model)
            if explained is not None:
                raise explained from None
            raise UserError(f"Keras could not open {path}: {first_line(exc)}") from None
    elif suffix in (".h5", ".hdf5"):
        model, note = _open_h5(path, trust_model)
    else:
        raise UserError(f"{path}: not a model file ConvScope knows; open a .keras, .h5/.hdf5 "
                        "file, a SavedModel folder, builtin:NAME or demo")
    if not isinstance(model, keras.Model):
        raise UserError(f"{path} holds a {type(model).__name__}, not a Keras model")
    return Loaded(keras_model=model, name=os.path.basename(path), source=path,
                  labels=label_files.sidecar(path), auto_preprocess=_auto_mode(model),
                  note=note)


def _open_h5(path: str, trust_model: bool = False):
    """HDF5 files written by Keras 3 open as they are; files from Keras 2 / tf.keras go
    through the translating loader first, because Keras 3 refuses some and silently misreads
    others (hard_sigmoid, Normalization in nested models)."""
    from . import legacy_h5

    try:
        model, notes = legacy_h5.load_with_notes(path, trust_code=trust_model)
    except UserError:
        raise
    except Exception as exc:  # h5py / Keras on a damaged file (found by tests/test_fuzz.py)
        from .model_options import active_custom_objects, explain_load_error

        explained = explain_load_error(exc, path, custom_objects=active_custom_objects(),
                                       trust_model=trust_model)
        if explained is not None:
            raise explained from None
        raise UserError(f"could not read the HDF5 model {path}: {first_line(exc)}; "
                        "is it corrupt or truncated?") from None
    note = ""
    if notes:
        note = "opened through the Keras 2 compatibility loader: " + "; ".join(notes)
    return model, note


def _open_savedmodel(path: str) -> Loaded:
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise UserError(f"{path} is a folder but not a SavedModel (no saved_model.pb)")
    import keras

    try:
        layer = keras.layers.TFSMLayer(path, call_endpoint="serving_default")
    except Exception as exc:
        raise UserError(f"could not open the SavedModel {path}: {first_line(exc)}") from None
    return Loaded(keras_model=layer, name=os.path.basename(path.rstrip("/")), source=path,
                  labels=label_files.sidecar(path), auto_preprocess="rescale",
                  predict_only=True,
                  note="SavedModel: predictions only. Keras 3 cannot rebuild its layers, so "
                       "activations, filters and CAMs need a Keras model (.keras or .h5 file)")


def _open_builtin(rest: str) -> Loaded:
    name, _, query = rest.partition("?")
    name = name.strip().lower()
    if name not in BUILTINS:
        raise UserError(f"unknown built-in model {name!r}; choose one of {', '.join(BUILTINS)}")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    weights = options.get("weights", "imagenet").lower()
    if weights not in ("imagenet", "none"):
        raise UserError("builtin models take ?weights=imagenet (default) or ?weights=none")
    top = options.get("include_top", "true").lower()
    if top not in ("true", "false"):
        raise UserError("builtin models take &include_top=true (default) or false")
    unknown = sorted(set(options) - {"weights", "include_top"})
    if unknown:
        raise UserError(f"unknown option(s) {', '.join(unknown)} for builtin:{name}; "
                        "use ?weights=none and/or &include_top=false")
    import keras

    ctor = getattr(keras.applications, BUILTINS[name].ctor)
    try:
        # Keras reports downloads on stdout; keep stdout for results (--json), and hold its
        # "Downloading data from ..." line back until the download makes progress: a failed
        # download then ends in our one error line, not two.
        with contextlib.redirect_stdout(_HeldNotice(sys.stderr)):
            model = ctor(weights=None if weights == "none" else "imagenet",
                         include_top=top == "true")
    except Exception as exc:
        if weights == "imagenet":
            from keras.src.backend import config as keras_config  # no public accessor

            cache = os.path.join(os.path.expanduser(keras_config.keras_home()), "models")
            raise UserError(
                f"the ImageNet weights of {name} are not in Keras' cache ({cache}) and could "
                f"not be downloaded ({first_line(exc)}). Connect to the internet once, copy "
                f"the weights file into that folder, or use builtin:{name}?weights=none "
                "for random weights",
                remedy=Remedy("open_model", "Open with random weights",
                              f"builtin:{name}?weights=none"
                              + ("&include_top=false" if top == "false" else ""))) from None
        raise UserError(f"could not build {name}: {first_line(exc)}") from None
    query = "&".join(q for q in ("weights=none" if weights == "none" else "",
                                 "include_top=false" if top == "false" else "") if q)
    return Loaded(keras_model=model, name=name + (" (random weights)" if weights == "none" else "")
                  + (" (no top)" if top == "false" else ""),
                  source=f"builtin:{name}" + (f"?{query}" if query else ""),
                  labels=label_files.imagenet(), auto_preprocess=BUILTINS[name].preprocess)


class _HeldNotice:
    """A stdout stand-in: the first line is held back and written to `target` only when
    more output follows (a download's progress bar); alone, it is dropped."""

    def __init__(self, target):
        self.target, self.held, self.passing = target, "", False

    def write(self, text: str) -> int:
        if self.passing:
            return self.target.write(text)
        if "\n" not in self.held:
            self.held += text
            return len(text)
        self.passing = True
        self.target.write(self.held)
        return self.target.write(text)

    def flush(self) -> None:
        if self.passing:
            self.target.flush()

    def isatty(self) -> bool:
        return False


def _auto_mode(model) -> str:
    """Own convnets are fed x/255 as in the seeds, unless the model rescales itself."""
    for layer in model.layers[:4]:
        if type(layer).__name__ in ("Rescaling", "Normalization"):
            return "none"
    return "rescale"

