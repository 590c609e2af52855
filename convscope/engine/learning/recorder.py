"""Recorder: a Keras callback that records what the network sees, epoch by epoch.

    from convscope.engine import Recorder
    model.fit(x, y, epochs=10, callbacks=[Recorder("runs/exp1", images=["a.png", arr])])

Each recorded epoch (every `every` epochs, and epoch 0 when the run starts empty) writes,
for the probe images (engine.learning.store holds the layout):
- the model's outputs and each image's top class and score;
- the map of each of `methods` at each of `layers` (default: the model's default CAM
  layer), explaining the class `classes` says: "top" (each image's top prediction, the
  default), "label" (each image's true class, from `labels=`), or a list of classes;
- activation statistics of every spatial layer (engine.learning.stats) from one forward pass;
- optionally the filter patterns of chosen channels (`filters={"conv3": [0, 1, 2]}`);
- Keras' logs (loss, metrics) and, with checkpoints=True, the model as epoch_NNN.keras;
- with tensorboard=True, the overlays as image summaries and the statistics as histograms
  and scalars in RUN/tensorboard (engine.learning.tensorboard).

The maps are computed by the project's own code (engine.cam) on the model being trained,
wrapped as a ConvModel by engine.model.from_keras, in inference mode (training=False).
The engine's per-image caches are cleared before each epoch (the weights have changed).
"""
from __future__ import annotations

import os

import keras
import numpy as np

from .. import images as image_io
from ..errors import UserError
from . import stats as layer_stats
from . import store


class Recorder(keras.callbacks.Callback):
    def __init__(self, run_dir, images, methods=("gradcam",), layers=None, classes="top",
                 every: int = 1, filters=None, checkpoints: bool = True,
                 tensorboard: bool = False, labels=None, preprocess: str = "auto",
                 class_names=None, filter_size: int = 48, filter_steps: int | None = None):
        super().__init__()
        self.run_dir = os.path.abspath(os.fspath(run_dir))
        import dataclasses

        self.images = [im if im.path or im.name != "array" else dataclasses.replace(im, name=f"probe {i + 1}")
                       for i, im in enumerate(image_io.as_images(
                           list(images) if isinstance(images, (list, tuple)) else images))]
        if isinstance(methods, str):
            methods = (methods,)
        self.methods = tuple(methods)
        self.map_layers = None if layers is None else tuple([layers] if isinstance(layers, str) else layers)
        if int(every) < 1:
            raise UserError(f"every must be at least 1, not {every}")
        self.every = int(every)
        if isinstance(classes, str) and classes not in ("top", "label"):
            raise UserError(f"classes must be 'top', 'label' or a list of classes, not {classes!r}")
        if classes == "label":
            if labels is None or len(labels) != len(self.images):
                raise UserError("classes='label' needs labels=[one class per probe image]")
        elif not isinstance(classes, str) and len(classes) not in (1, len(self.images)):
            raise UserError("give one class for all probe images, or one per image")
        self.classes, self.labels = classes, None if labels is None else [int(v) for v in labels]
        self.filters = {k: [int(c) for c in v] for k, v in dict(filters or {}).items()}
        self.checkpoints, self.tensorboard = bool(checkpoints), bool(tensorboard)
        self.preprocess, self.class_names = preprocess, class_names
        self.filter_size, self.filter_steps = int(filter_size), filter_steps
        self.cm = None
        self._tb = None

    # -- the recipe ------------------------------------------------------------------------
    def _recipe(self) -> dict:
        import hashlib

        probes = []
        for im in self.images:
            probes.append({"name": im.name, "path": os.path.abspath(im.path) if im.path else None,
                           "sha256": hashlib.sha256(np.ascontiguousarray(im.pixels).tobytes()).hexdigest()})
        classes = self.classes if isinstance(self.classes, str) else [
            c if isinstance(c, str) else int(c) for c in self.classes]
        return {"images": probes, "methods": list(self.methods),
                "layers": list(self.map_layers_resolved), "stat_layers": list(self.stat_layers),
                "classes": classes, "labels": self.labels, "every": self.every,
                "filters": self.filters, "checkpoints": self.checkpoints,
                "preprocess": self.cm.preprocess}

    # -- Keras' hooks ------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if self.cm is None or self.cm.keras_model is not self.model:  # a new fit may bring a new model
            self._open()
        if self.tensorboard and self._tb is None:
            from .tensorboard import Writer

            self._tb = Writer(os.path.join(self.run_dir, "tensorboard"))
        run = store.open_run(self.run_dir) if os.path.isfile(os.path.join(self.run_dir, store.RUN_FILE)) else None
        if run is None or not run.epochs:
            self.record(0, {})

    def on_epoch_end(self, epoch, logs=None):
        number = int(epoch) + 1  # Keras prints "Epoch 1/N" for epoch index 0
        if number % self.every == 0:
            self.record(number, logs or {})

    def on_train_end(self, logs=None):
        if self._tb is not None:
            self._tb.close()
            self._tb = None

    # -- the work ----------------------------------------------------------------------------
    def _open(self) -> None:
        from ..model import from_keras

        cm = from_keras(self.model, preprocess=self.preprocess, labels=self.class_names)
        cm.require_classifier("the Recorder's maps")
        self.cm = cm
        self.stat_layers = [i.path for i in cm.layers if i.spatial and not i.is_container
                            and i.class_name != "InputLayer"]
        if self.map_layers is None:
            if cm.default_cam_layer is None:
                raise UserError("this model has no spatial layer before its pooling; give layers=")
            self.map_layers_resolved = (cm.default_cam_layer,)
        else:
            self.map_layers_resolved = tuple(cm.layer(p, spatial=True).path for p in self.map_layers)
        for layer in self.filters:
            cm.layer(layer)
        from ..cam import registry

        self.methods = tuple(registry.get(m).name for m in self.methods)  # UserError naming them
        self.pixels = cm.pixels(self.images).astype(np.uint8)
        meta = {"convscope_run": store.FORMAT, "recipe": self._recipe(),
                "model": {"name": cm.name, "input_shape": list(cm.input_shape),
                          "labels": cm.labels, "head": cm.head.activation,
                          "classes": cm.head.classes},
                "versions": _versions()}
        store.start(self.run_dir, meta, self.pixels)

    def _class_arg(self):
        if self.classes == "top":
            return None
        if self.classes == "label":
            return self.labels
        cls = list(self.classes)
        return cls * len(self.images) if len(cls) == 1 else cls

    def record(self, epoch: int, logs: dict) -> None:
        """Compute and write epoch `epoch` (also callable by hand, e.g. after a custom loop)."""
        from ..cam import compute as cam_compute

        if self.cm is None:
            self._open()
        cm = self.cm
        cam_compute.clear(cm)  # per-image caches hold the previous weights' numbers
        rows, arrays = [], {}
        for name, value in sorted(logs.items()):
            try:
                rows.append((epoch, f"log/{name}", "", None, float(value)))
            except (TypeError, ValueError):
                pass
        out, rec = cm.forward(cm.prepare(self.images), record=self.stat_layers)
        arrays["probs"] = np.asarray(out, np.float32)
        for path in self.stat_layers:
            scalars, channel_means = layer_stats.layer_stats(rec[path])
            for key, value in scalars.items():
                rows.append((epoch, f"stat/{key}", path, None, value))
            arrays[f"channel_means|{path}"] = channel_means
        tops = [cm._top(row, 1) for row in out]  # what cm.predict says, without a second pass
        for i, top in enumerate(tops):
            rows.append((epoch, "pred/class", "", i, top[0].index))
            rows.append((epoch, "pred/score", "", i, top[0].score))
            if self.labels is not None:
                rows.append((epoch, "pred/label_score", "", i, _score_of(cm, out[i], self.labels[i])))
        for method in self.methods:
            for layer in self.map_layers_resolved:
                maps = cm.cam(self.images, method=method, layer=layer, class_index=self._class_arg())
                key = store.map_key(method, layer)
                arrays[key] = np.stack([r.heatmap for r in maps]).astype(np.float32)
                arrays[f"class|{method}|{layer}"] = np.array([r.class_index for r in maps], np.int32)
        for layer, channels in self.filters.items():
            arrays[f"patterns|{layer}"] = cm.filter_patterns(
                layer, filters=channels, size=self.filter_size, steps=self.filter_steps)
            arrays[f"pattern_channels|{layer}"] = np.asarray(channels, np.int32)
        checkpoint = None
        if self.checkpoints:
            model = self.model

            def checkpoint(tmp):
                model.save(tmp)
        store.write_epoch(self.run_dir, epoch, rows, arrays, checkpoint, labels=cm.labels)
        if self._tb is not None:
            self._tb.write(epoch, rows, arrays, self.pixels)


def _score_of(cm, row: np.ndarray, label: int) -> float:
    if cm.head.binary_sigmoid:
        return float(row[0]) if label == 1 else 1.0 - float(row[0])
    return float(row[label])


def _versions() -> dict:
    import platform

    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "numpy": np.__version__,
            "python": platform.python_version()}
