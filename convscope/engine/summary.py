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
    # engine.heads: softmax | sigmoid | logits | binary-logit | regression | none, why, and
    # whether the user chose it (--head); squashed: the model's own output already is
    # `activation` of the logits (so its plain output reads as the probabilities)
    kind: str = ""
    reason: str = ""
    forced: bool = False
    squashed: bool = True

    @property
    def binary_sigmoid(self) -> bool:
        """One unit, two classes (a sigmoid unit or a binary logit): class 1's score is the
        logit, class 0's its negation."""
        return self.activation == "sigmoid" and self.units == 1

    @property
    def regression(self) -> bool:
        return self.kind == "regression"

    @property
    def classifier(self) -> bool:
        return self.classes > 0

    def describe_output(self) -> str:
        shape = "x".join("?" if d is None else str(d) for d in self.output_shape)
        kind = "feature map" if len(self.output_shape) == 3 else "output"
        return f"a {shape} {kind}"

    def as_dict(self) -> dict:
        return {"activation": self.activation, "units": self.units, "classes": self.classes,
                "kind": self.kind, "reason": self.reason, "chosen": self.forced}

    def describe(self) -> str:
        """One line for the model panel and `info`: the kind, the classes and why."""
        if not self.classifier:
            return f"none: the output is {self.describe_output()}"
        what = ("the output value" if self.regression and self.units == 1 else
                f"{self.classes} classes" if not self.regression else f"{self.units} values")
        return f"{self.kind} · {what} ({self.reason})"


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
    output_names: tuple = ()  # the model's outputs (a multi-output model has several)

    @property
    def outputs(self) -> int:
        return max(1, len(self.output_names))

    def outputs_note(self) -> str:
        """'' for one output; else says that every view explains the first."""
        if self.outputs < 2:
            return ""
        return (f"{self.outputs} outputs ({', '.join(self.output_names)}); by default every "
                f"view explains the first, {self.output_names[0]!r} (a map explains another "
                "with --target output:NAME)")

    def as_dict(self) -> dict:
        return {"name": self.name, "source": self.source, "input_shape": list(self.input_shape),
                "output_shape": list(self.head.output_shape), "preprocess": self.preprocess,
                "head": self.head.as_dict(), "params": self.params, "device": self.device,
                "predict_only": self.predict_only, "default_cam_layer": self.default_cam_layer,
                "note": self.note, "outputs": list(self.output_names),
                "layers": [info.as_dict() for info in self.layers]}
