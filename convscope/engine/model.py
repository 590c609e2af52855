"""ConvModel: an opened model and everything the views ask of it (design §4).

One instance belongs to one thread (the engine thread in the GUI). Compiled functions are
cached per request shape so scrubbing through layers does not retrace every time.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from . import images as image_io
from . import layers as layer_tree
from . import memory
from . import preprocess as prep
from . import tf_runtime
from .errors import UserError
from .hooks import Intercept, first_output, head_activation
from .lru import Lru
from .summary import HeadInfo, LayerInfo, ModelSummary

FORWARD_FNS_KEPT = 6  # compiled forward passes a model keeps (least recently used out)


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    score: float


def open_model(spec: str, preprocess: str = "auto", device: str = "auto", *,
               custom_objects=None, trust_model: bool = False,
               head: str | None = None) -> "ConvModel":
    """Open a model spec: path (.keras/.h5/SavedModel folder), builtin:NAME, or demo.

    custom_objects: the user's code for custom layers: a FILE.py path, a `pkg.module` name,
    a list of those, or a {name: class} dict (engine.model_options). trust_model: allow
    Python code stored in the file (Lambda layers: Keras' safe_mode=False; the legacy HDF5
    loader's trust_code). head: how to read the output (engine.heads.KINDS), None to guess.
    """
    from . import heads
    from .model_options import load_custom_objects

    head = heads.check_kind(head)  # a bad --head fails before TensorFlow starts
    device_name = tf_runtime.init(device)
    from .loading import open_spec

    objects = load_custom_objects(custom_objects)
    return ConvModel(open_spec(spec, custom_objects=objects, trust_model=trust_model),
                     preprocess=preprocess, device=device_name, head=head)


def from_keras(keras_model, preprocess: str = "auto", labels=None, name: str | None = None) -> "ConvModel":
    """A ConvModel over a keras.Model already in memory (e.g. the one `fit` is training:
    engine.learning.Recorder). Same checks and machinery as a model opened from a file;
    the exploration cache is off, since the weights may change between calls."""
    device_name = tf_runtime.init("auto")
    import keras

    from .loading import Loaded, _auto_mode

    if not isinstance(keras_model, keras.Model):
        raise UserError(f"expected a keras.Model, got a {type(keras_model).__name__}")
    title = name or keras_model.name
    m = ConvModel(Loaded(keras_model=keras_model, name=title, source=f"in-memory:{title}",
                         labels=list(labels) if labels else None,
                         auto_preprocess=_auto_mode(keras_model)),
                  preprocess=preprocess, device=device_name)
    from .explore import cache as explore

    explore.enable(m, False)
    return m


class ConvModel:
    def __init__(self, loaded, preprocess: str = "auto", device: str = "", head: str | None = None):
        self.keras_model = loaded.keras_model
        self.name = loaded.name
        self.source = loaded.source
        self.note = loaded.note
        self.predict_only = loaded.predict_only
        self.device = device
        if preprocess == "auto":
            preprocess = loaded.auto_preprocess
        if preprocess not in prep.MODES:
            raise UserError(f"unknown preprocessing {preprocess!r}; use auto or one of {', '.join(prep.MODES)}")
        self.preprocess = preprocess
        # compiled forward passes per (recorded layers, logits): a few, least recently used
        # first out, since each trace of a big model holds tens of MB (a walk through the
        # layers on the per-layer path traces one per layer)
        self._forward_fns = Lru(FORWARD_FNS_KEPT)
        self.passes: Counter = Counter()  # forward / backward passes run (engine.explore.cache)
        self.input_shape = self._input_shape()
        self.layer_index = {} if self.predict_only else layer_tree.index(self.keras_model)
        self.layers: list[LayerInfo] = [] if self.predict_only else layer_tree.describe(self.keras_model)
        self._by_path = {info.path: info for info in self.layers}
        self.head = self._head(loaded.labels, head)
        self.sidecar_labels = loaded.labels  # as found (a segmentation output's class names too)
        self.labels = (loaded.labels if self.head.classifier and loaded.labels
                       and not self.head.regression
                       and len(loaded.labels) >= self.head.classes else None)
        from . import default_layer

        self.default_cam_layer = (None if self.predict_only
                                  else default_layer.find(self.keras_model, self.layers))

    # -- description -------------------------------------------------------------------
    def layer(self, path: str, spatial: bool = False) -> LayerInfo:
        """The LayerInfo at `path`; UserError if absent (or, with spatial, not (H, W, C))."""
        self.require_layers("this view")
        info = self._by_path.get(path)
        if info is None:
            import difflib

            near = difflib.get_close_matches(path, list(self._by_path), n=4, cutoff=0.6)
            leaf = {p.rsplit("/", 1)[-1]: p for p in self._by_path}
            near += [leaf[m] for m in difflib.get_close_matches(path, list(leaf), n=2, cutoff=0.8)
                     if leaf[m] not in near]
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise UserError(f"no layer {path!r} in this model{hint}; `info` lists the layers")
        if spatial and not info.spatial:
            shape = "x".join(str(s) for s in info.output_shape) if info.output_shape else "unknown"
            raise UserError(f"layer {path!r} ({info.class_name}) has no spatial output "
                            f"(its output is {shape}); choose a layer with an (H, W, C) output")
        return info

    def require_layers(self, what: str) -> None:
        if self.predict_only:
            raise UserError(f"{what} needs a Keras model: {self.note}")

    def require_classifier(self, what: str) -> None:
        """UserError unless the model ends in a vector of class scores."""
        if not self.head.classifier:
            raise UserError(
                f"{what} need class scores, but this model has no classifier head: its "
                f"output is {self.head.describe_output()} (e.g. VGG16 with include_top=False). "
                "Activations and filter patterns work; for predictions and class activation "
                "maps open the model with its classifier")

    def label(self, index: int) -> str:
        if self.labels:
            return self.labels[index]
        if self.head.regression:
            return "the output value" if self.head.units == 1 else f"output {index}"
        return str(index)

    def class_index(self, wanted) -> int:
        from .labels import resolve

        return resolve(self.labels, self.head.classes, wanted)

    def describe(self) -> ModelSummary:
        """The model in plain data (engine.summary): what the window and `info` show."""
        params = int(sum(info.params for info in self.layers if info.depth == 0)) if self.layers else None
        return ModelSummary(
            name=self.name, source=self.source, input_shape=tuple(self.input_shape),
            preprocess=self.preprocess, head=self.head, params=params, device=self.device,
            predict_only=self.predict_only, default_cam_layer=self.default_cam_layer,
            note=self.note, layers=tuple(self.layers), output_names=self._output_names())

    def summary(self) -> dict:
        """describe() as a JSON-ready dict (`convscope info --json`)."""
        return self.describe().as_dict()

    # -- input ---------------------------------------------------------------------------
    def pixels(self, images) -> np.ndarray:
        """Images fitted to the model input: float32 (N, H, W, C) in [0, 255], not preprocessed."""
        imgs = image_io.as_images(images)
        h, w, c = self.input_shape
        fh, fw = image_io.fitted_size(imgs[0], h, w)
        memory.check_forward(self, len(imgs), fh, fw)  # before any resize allocates
        first = image_io.fit(imgs[0], h, w, c)
        h, w = first.shape[:2]  # free sizes: the whole batch takes the first image's size
        return np.stack([first] + [image_io.fit(im, h, w, c) for im in imgs[1:]])

    def prepare(self, images) -> np.ndarray:
        """The model's input batch: fitted and preprocessed, float32 (N, H, W, C)."""
        return prep.apply(self.pixels(images), self.preprocess).astype(np.float32)

    # -- computation -----------------------------------------------------------------------
    def forward(self, x: np.ndarray, record: Sequence[str] = (), logits: bool = False):
        """One compiled forward pass: (model output (N, units), {path: output})."""
        if record:
            self.require_layers("recording layer outputs")
        key = (tuple(record), bool(logits))
        self.passes["forward"] += 1
        fn = self._forward_fns.get(key)
        if fn is None:
            fn = self._make_forward(*key)
            self._forward_fns.put(key, fn)
        out, recorded = fn(x)
        return out.numpy(), {p: t.numpy() for p, t in zip(record, recorded)}

    def _make_forward(self, record, logits):
        import tensorflow as tf

        model, index = self.keras_model, self.layer_index

        @tf.function(reduce_retracing=True)
        def fn(x):
            if self.predict_only:
                return first_output(model(x)), []
            # Patches are applied while tracing, which is when they matter.
            with Intercept(model, record=record, logits=logits, index=index) as ic:
                y = model(x, training=False)
            return first_output(y), [ic.outputs[p] for p in record]

        return fn

    def scores(self, images) -> np.ndarray:
        """Model outputs (N, units) for images."""
        if not isinstance(images, (list, tuple)) and not self.predict_only:
            from .explore import cache as explore  # one image: from its all-layer pass, if cached

            out = explore.scores(self, images)
            if out is not None:
                return out
        if self.head.squashed or not self.head.classifier:
            out, _ = self.forward(self.prepare(images))
            return out
        # the model's own output is not what the head reads (a binary logit, --head):
        # the logits, squashed as the head says (engine.heads)
        logits, _ = self.forward(self.prepare(images), logits=True)
        return _squash(logits, self.head.activation)

    def predict(self, images, top: int = 5):
        """Top predictions; a list of Prediction, or a list of lists for a list of images."""
        self.require_classifier("predictions")
        single = not isinstance(images, (list, tuple))
        out = self.scores(images)
        result = [self._top(row, top) for row in out]
        return result[0] if single else result

    def _top(self, row: np.ndarray, top: int) -> list[Prediction]:
        if self.head.binary_sigmoid:
            p1 = float(row[0])
            pairs = [(1, p1), (0, 1.0 - p1)]
        else:
            pairs = list(enumerate(row.astype(float)))
        pairs.sort(key=lambda ps: -ps[1])
        return [Prediction(int(i), self.label(int(i)), float(s)) for i, s in pairs[:max(1, top)]]

    def activations(self, images, layers: Iterable[str] | None = None) -> dict:
        """{path: (H, W, C)} from ONE forward pass ((N, H, W, C) for a list of images).

        `layers=None` means every layer with a spatial output.
        """
        self.require_layers("activations")
        paths = list(layers) if layers is not None else [
            i.path for i in self.layers if i.spatial and not i.is_container and i.class_name != "InputLayer"]
        for path in paths:
            self.layer(path)
        single = not isinstance(images, (list, tuple))
        if single:
            from .explore import cache as explore  # every spatial layer from one pass, cached per image

            cached = explore.activations(self, images, paths)
            if cached is not None:
                return cached
        _, rec = self.forward(self.prepare(images), record=paths)
        return {p: (a[0] if single else a) for p, a in rec.items()}

    def cam(self, images, method: str = "gradcam", layer: str | None = None,
            class_index=None, target=None, **options):
        """Class activation map(s); see engine.cam. target: explain a region, a value, an
        output, a channel, a similarity instead of a class (engine.targets)."""
        from .cam import compute_cam

        return compute_cam(self, images, method=method, layer=layer,
                           class_index=class_index, target=target, **options)

    def filter_patterns(self, layer: str, filters=None, size: int = 64, steps: int | None = None,
                        **options) -> np.ndarray:
        """(N, size, size, 3) uint8 patterns that maximise each filter; see engine.filters.ascent.
        steps: 40 (classic, the seed's) or 128 (regularized) when not given."""
        from .filters.ascent import filter_patterns, resolve_layer

        layer = resolve_layer(self, layer)  # "output": the layer making the model's output
        if self.layer(layer).class_name == "InputLayer":
            raise UserError(f"{layer!r} is the model's input, not a layer with filters; "
                            "choose a convolution layer")
        return filter_patterns(self, layer, filters=filters, size=size, steps=steps, **options)

    # -- internals ------------------------------------------------------------------------
    def _output_names(self) -> tuple:
        """Names of the model's outputs (the layers making them), in order."""
        outputs = [] if self.predict_only else list(getattr(self.keras_model, "outputs", None) or [])
        names = []
        for i, t in enumerate(outputs):
            history = getattr(t, "_keras_history", None)
            names.append(history.operation.name if history is not None else f"output {i}")
        return tuple(names)

    def _input_shape(self) -> tuple:
        m = self.keras_model
        shape = None
        if hasattr(m, "inputs") and m.inputs and len(m.inputs) > 1:
            shapes = ", ".join("x".join("?" if d is None else str(d) for d in t.shape[1:])
                               for t in m.inputs)
            raise UserError(
                f"{self.name} takes {len(m.inputs)} inputs ({shapes}); ConvScope's views feed "
                "one image, so models with several inputs are not supported. Build a "
                "single-input model from the branch you want to see, e.g. "
                "keras.Model(branch_input, branch_output), and open that")
        if hasattr(m, "inputs") and m.inputs:
            shape = tuple(m.inputs[0].shape[1:])
        elif self.predict_only:
            shape = _savedmodel_input_shape(m)
        if shape is None or len(shape) != 3:
            raise UserError(f"{self.name}: ConvScope needs a model whose input is one image "
                            f"(H, W, C); this one takes {shape}")
        return tuple(None if s is None else int(s) for s in shape)

    def _head(self, labels, kind: str | None) -> HeadInfo:
        """What the output is (engine.heads): guessed from the model, or `kind` (--head)."""
        from . import heads

        if self.predict_only:
            out = self.forward(self.prepare(image_io.from_array(np.zeros((32, 32, 3), np.uint8))))[0]
            return heads.read("linear", tuple(out.shape[1:]), labels, kind)
        shape = tuple(self.keras_model.outputs[0].shape[1:])
        # a feature map (include_top=False) or a sequence: no classes
        return heads.read(head_activation(self.keras_model), shape, labels, kind)


def _squash(z: np.ndarray, activation: str) -> np.ndarray:
    """softmax / sigmoid / identity of logits (N, units), as the head reads them."""
    z = np.asarray(z, np.float64)
    if activation == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    if activation == "sigmoid":
        return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    return z.astype(np.float32)


def _savedmodel_input_shape(layer):
    try:
        sig = layer.call_endpoint_fn.structured_input_signature[1]
        spec = sig[sorted(sig)[0]]
        return tuple(spec.shape[1:])
    except Exception:
        return None
