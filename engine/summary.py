"""What the engine tells the window about an opened model: plain frozen dataclasses, no
TensorFlow, so they cross the thread boundary and the GUI reads fields, not string keys.

`ModelSummary.as_dict()` is the JSON of `convscope info --json` (and ConvModel.summary()).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LayerInfo:
    path: str
    name: str
    class_name: str
    output_shape: tuple | None  # without the batch axis; None where Keras cannot say
    params: int
    depth: int  # 0 for top-level layers
    is_container: bool  # a nested model whose layers are listed under it

    @property
    def parent(self) -> str | None:
        return self.path.rsplit("/", 1)[0] if "/" in self.path else None

    @property
    def spatial(self) -> bool:
        """True for a (H, W, C) output: the layers every view can show."""
        return self.output_shape is not None and len(self.output_shape) == 3

    @property
    def channels(self) -> int | None:
        return self.output_shape[-1] if self.spatial else None

    def as_dict(self) -> dict:
        return {"path": self.path, "class": self.class_name,
                "output_shape": list(self.output_shape) if self.output_shape else None,
                "params": self.params, "spatial": self.spatial,
                "nested_model": self.is_container}


@dataclass(frozen=True)
class HeadInfo:
    activation: str  # softmax | sigmoid | linear; "none" when the output is no class vector
    units: int  # size of the output vector (0: no classifier head)
    classes: int  # selectable classes (2 for a single sigmoid unit; 0: no classifier head)
    output_shape: tuple = ()  # the model's output without the batch axis

    @property
    def binary_sigmoid(self) -> bool:
        return self.activation == "sigmoid" and self.units == 1

    @property
    def classifier(self) -> bool:
        return self.classes > 0

    def describe_output(self) -> str:
        shape = "x".join("?" if d is None else str(d) for d in self.output_shape)
        kind = "feature map" if len(self.output_shape) == 3 else "output"
        return f"a {shape} {kind}"

    def as_dict(self) -> dict:
        return {"activation": self.activation, "units": self.units, "classes": self.classes}


@dataclass(frozen=True)
class ModelSummary:
    name: str
    source: str  # the spec that was opened ("demo", a path, builtin:NAME[?weights=none])
    input_shape: tuple  # (H, W, C), None for a free size
    preprocess: str
    head: HeadInfo
    params: int | None  # None for a SavedModel (predictions only)
    device: str
    predict_only: bool
    default_cam_layer: str | None
    note: str  # what the user should know ("" if nothing)
    layers: tuple = ()  # LayerInfo, in execution order, nested models expanded

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "input_shape": list(self.input_shape),
                "output_shape": list(self.head.output_shape), "preprocess": self.preprocess,
                "head": self.head.as_dict(), "params": self.params, "device": self.device,
                "predict_only": self.predict_only, "default_cam_layer": self.default_cam_layer,
                "note": self.note, "layers": [info.as_dict() for info in self.layers]}
