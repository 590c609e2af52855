"""Requests to the engine thread and what comes back: frozen dataclasses, no Qt.

Every job has a `job_id` (unique in the process) and a `channel`. Jobs of one channel
supersede each other: the engine keeps only the latest pending job of a channel and
cancels the running one when a newer one arrives (engine/qt_bridge.py). Every result
carries the `job_id` and `channel` of the job that made it, so a client can drop results
of jobs it has superseded.

A job ends with exactly one terminal result (`final=True`): its own result type,
`JobFailed` or `JobCancelled`. Streaming jobs send `Progress` (and partial results with
`final=False`) before it.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import Remedy
from .summary import ModelSummary
from .filters.spec import DEFAULT_MODE

_ids = itertools.count(1)


def _next_id() -> int:
    return next(_ids)


# -- jobs ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Job:
    job_id: int = field(default_factory=_next_id, kw_only=True)
    channel: ClassVar[str] = "misc"
    # A stream's newer job replaces the pending one but lets the running one finish, and
    # its result is still wanted (a video frame being explained is not wasted work).
    stream: ClassVar[bool] = False
    # Preemption (engine/qt_bridge.py): a `yields` job (long: one pass per channel, mask,
    # step or method) lets the engine run other queued `nestable` jobs at each of its
    # cancellation checks (between chunks), then goes on where it was — the view in front
    # is served first and the long job resumes, not restarts. A nestable job is short.
    yields: ClassVar[bool] = False
    nestable: ClassVar[bool] = True

    def describe(self) -> str:
        """Short text for the status bar, in words ("FindExamples" -> "find examples"):
        a job without its own text never shows its class name to a user."""
        return _words(type(self).__name__)


@dataclass(frozen=True, eq=False)
class StartEngine(Job):
    """Import TensorFlow and pick the device (the first job, so the window shows first)."""

    device: str = "auto"
    channel: ClassVar[str] = "engine"
    nestable: ClassVar[bool] = False

    def describe(self) -> str:
        return "loading TensorFlow…"


@dataclass(frozen=True, eq=False)
class LoadModel(Job):
    spec: str = "demo"
    preprocess: str = "auto"
    device: str = "auto"
    # engine.model_options: the user's code (FILE.py / pkg.module), trust, head kind
    custom_objects: tuple = ()
    trust_model: bool = False
    head: str | None = None
    channel: ClassVar[str] = "load"
    nestable: ClassVar[bool] = False  # it replaces the model a yielding job is using

    def describe(self) -> str:
        return f"opening model {self.spec}"


@dataclass(frozen=True, eq=False)
class Predict(Job):
    image: Any = None  # engine.images.Image
    top: int = 5
    channel: ClassVar[str] = "predict"

    def describe(self) -> str:
        return f"predicting {getattr(self.image, 'name', 'image')}"


@dataclass(frozen=True, eq=False)
class Activations(Job):
    image: Any = None
    layer: str = ""
    channel: ClassVar[str] = "activations"

    def describe(self) -> str:
        return f"activations of {self.layer}"


@dataclass(frozen=True, eq=False)
class FilterPatterns(Job):
    layer: str = ""
    filters: tuple = ()
    size: int = 64
    steps: int = 40
    mode: str = DEFAULT_MODE  # one default everywhere (filters.spec)
    seed: int = 0
    animate: str = ""  # also write the ascent forming to this .gif / .mp4 file
    every: int = 5  # animate: steps between frames
    channel: ClassVar[str] = "filters"
    yields: ClassVar[bool] = True
    nestable: ClassVar[bool] = False

    def describe(self) -> str:
        return f"filter patterns of {self.layer} ({len(self.filters)} filters, {self.mode})"


@dataclass(frozen=True, eq=False)
class Cam(Job):
    image: Any = None
    method: str = "gradcam"
    layer: str | None = None  # None: the model's default CAM layer
    class_index: int | None = None  # None: the top prediction
    max_n: int | None = None
    options: tuple = ()  # (name, value) pairs: a pixel method's options, aug/eigen_smooth
    target: str = ""  # engine.targets spec ("": the class); issue 21
    channel: ClassVar[str] = "cam"

    @property
    def yields(self) -> bool:  # type: ignore[override]
        return _slow(self.method)

    @property
    def nestable(self) -> bool:  # type: ignore[override]
        return not _slow(self.method)

    def describe(self) -> str:
        return f"{_title(self.method)} on {self.layer or 'the default layer'}"


@dataclass(frozen=True, eq=False)
class CompareCams(Job):
    """Every method in `methods` on the same image, layer and class, one after another."""

    image: Any = None
    methods: tuple = ()
    layer: str | None = None
    class_index: int | None = None
    options: tuple = ()  # (method, name, value) triples: options per method
    target: str = ""  # engine.targets spec ("": the class)
    channel: ClassVar[str] = "compare"
    yields: ClassVar[bool] = True
    nestable: ClassVar[bool] = False

    def describe(self) -> str:
        return f"comparing {len(self.methods)} CAM methods"


@dataclass(frozen=True, eq=False)
class LiveFrame(Job):
    """One video frame for the Live view: its CAM overlay (or the layer's activation grid)
    and top predictions. The engine takes the newest pending frame (engine/video/live.py)."""

    frame: Any = None  # uint8 RGB (H, W, 3)
    index: int = 0  # frame number in its source
    t_read: float = 0.0  # time.perf_counter() when the reader got it
    source: str = ""  # the stream's name; a new source restarts the temporal smoothing
    mode: str = "cam"  # cam | activations
    method: str = "gradcam"
    layer: str | None = None
    class_index: int | None = None
    target: str = ""  # engine.targets spec instead of the class ("": the class)
    alpha: float = 0.4
    colormap: str = "jet"
    smooth: float = 0.0
    reset: bool = False  # start the smoothing afresh (options changed, a seek)
    top: int = 5
    channel: ClassVar[str] = "live"
    stream: ClassVar[bool] = True

    def describe(self) -> str:
        return f"live: frame {self.index}"


@dataclass(frozen=True, eq=False)
class ExportVideo(Job):
    """A whole video file explained, none dropped (engine/video/pipeline.py)."""

    source: str = ""
    out: str = ""
    options: Any = None  # engine.video.pipeline.VideoOptions
    channel: ClassVar[str] = "video-export"
    yields: ClassVar[bool] = True
    nestable: ClassVar[bool] = False

    def describe(self) -> str:
        return f"exporting the explained video to {self.out}"


def no_evidence_text(label: str, layer: str | None) -> str:
    """What a map that is zero everywhere means, in words (the window's canvas, figures;
    engine.cam.result re-exports it)."""
    where = f" at {layer}" if layer else ""
    return f"no evidence for {label} in this image{where}"


def _words(name: str) -> str:
    import re

    return " ".join(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+", name)) or name


def _slow(method: str) -> bool:
    """A method registered slow (one pass per channel, mask, position or sample)."""
    try:
        from .cam import registry

        return bool(registry.get(method).slow)
    except Exception:  # an unknown name: the job fails with its own message
        return False


def _title(method: str) -> str:
    try:
        from .cam import registry

        return registry.title(method)
    except Exception:
        return method


# -- results ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Result:
    job_id: int
    channel: str
    final: ClassVar[bool] = True


@dataclass(frozen=True, eq=False)
class Progress(Result):
    done: float = 0
    total: float = 0
    text: str = ""
    final: ClassVar[bool] = False


@dataclass(frozen=True, eq=False)
class JobFailed(Result):
    message: str = ""
    internal: bool = False  # a bug rather than bad input
    details: str = ""  # traceback for internal errors
    remedy: Remedy | None = None  # what the window can offer to do (engine.errors.Remedy)


@dataclass(frozen=True, eq=False)
class JobWarning(Result):
    """A Python warning raised while the job ran (the job goes on)."""

    message: str = ""  # its first line
    category: str = ""  # e.g. "UserWarning"
    details: str = ""  # where it was raised, and the whole text
    final: ClassVar[bool] = False


@dataclass(frozen=True, eq=False)
class JobCancelled(Result):
    pass


@dataclass(frozen=True, eq=False)
class EngineReady(Result):
    device: str = ""
    seconds: float = 0.0


@dataclass(frozen=True, eq=False)
class ModelLoaded(Result):
    summary: ModelSummary | None = None  # ConvModel.describe(): name, input, head, layers...
    labels: tuple = ()  # a name per class ("0", "1", ... when the model has none)
    cam_methods: tuple = ()  # names accepted by ConvModel.cam ((): engine.cam missing)
    cam_note: str = ""  # why there are no CAM methods, if so
    filters_available: bool = False
    explore_note: str = ""  # why every layer is not cached from one pass, if it is not
    heads: tuple = ()  # engine.targets.OutputHead.as_dict() of every output (issue 21)
    default_target: str = ""  # what a map explains by default ("": the class; engine.targets.window)
    seconds: float = 0.0

    @property
    def layers(self) -> tuple:  # engine.summary.LayerInfo
        return self.summary.layers if self.summary is not None else ()


@dataclass(frozen=True, eq=False)
class Predicted(Result):
    image_name: str = ""
    predictions: tuple = ()  # engine.model.Prediction


@dataclass(frozen=True, eq=False)
class ActivationsReady(Result):
    layer: str = ""
    image_name: str = ""
    activations: Any = None  # float32 (H, W, C)
    seconds: float = 0.0


@dataclass(frozen=True, eq=False)
class FiltersReady(Result):
    """Patterns so far (`last=False`) or the finished ones (`last=True`)."""

    layer: str = ""
    filters: tuple = ()
    patterns: Any = None  # uint8 (N, size, size, 3)
    step: int = 0
    steps: int = 0
    seconds: float = 0.0
    last: bool = True
    animation: str = ""  # the animation file written, if one was asked for

    @property
    def final(self) -> bool:  # type: ignore[override]
        return self.last


@dataclass(frozen=True, eq=False)
class CamReady(Result):
    """One map, as plain arrays and numbers. In a CompareCams stream, every method but the
    last is not final. The window blends `heatmap` over `pixels` itself
    (engine.cam.overlay.blend), at whatever alpha and colour map the user picks."""

    method: str = ""
    layer: str | None = ""
    class_index: int = 0
    label: str = ""
    score: float = 0.0
    heatmap: Any = None  # float32 (h, w) in [0, 1] (signed methods: [-1, 1])
    pixels: Any = None  # uint8 (H, W, 3): the original image the map is drawn over
    weights: Any = None  # float32 (K,) channel weights, or None
    display: Any = None  # pixel attributions: the map to draw at input size (occlusion), or None
    completeness_error: float | None = None  # Integrated Gradients: |Sum IG - dS| / |dS|
    error: str = ""  # compare mode: why this method does not apply
    seconds: float = 0.0
    last: bool = True
    no_evidence: bool = False  # the map is zero everywhere (engine.cam.result.no_evidence_text)
    target: str = ""  # the engine.targets spec the map explains ("": the class)
    target_text: str = ""  # that target in words

    @property
    def final(self) -> bool:  # type: ignore[override]
        return self.last


@dataclass(frozen=True, eq=False)
class LiveFrameReady(Result):
    index: int = 0
    t_read: float = 0.0
    source: str = ""
    frame: Any = None  # the frame as read (uint8 RGB)
    picture: Any = None  # what to show: the overlay, or the activation grid (uint8 RGB)
    heatmap: Any = None  # (h, w) in [0, 1], smoothed as shown (cam mode)
    predictions: tuple = ()  # engine.model.Prediction, top first
    mode: str = "cam"
    method: str = ""
    layer: str = ""
    class_index: int = 0
    label: str = ""
    probability: float = 0.0
    seconds: float = 0.0  # engine time for this frame


@dataclass(frozen=True, eq=False)
class VideoExported(Result):
    out: str = ""
    summary: Any = None  # engine.video.pipeline.VideoSummary


# -- figures (engine.figures) ---------------------------------------------------------------
# -- targets (issue 21; engine.targets) ---------------------------------------------------
@dataclass(frozen=True, eq=False)
class PredictMask(Job):
    """The predicted class per pixel of a spatial (segmentation) output, and the model's
    output heads (engine.targets.predicted_mask / heads)."""

    image: Any = None
    output: str | None = None  # None: the first spatial output
    channel: ClassVar[str] = "mask"


@dataclass(frozen=True, eq=False)
class MaskReady(Result):
    classes: Any = None  # int32 (H, W) at the image's own size
    names: tuple = ()  # a name per class
    output: str = ""
    grid: tuple = ()  # (h, w) of the output
    input_hw: tuple = ()  # (H, W) the model saw: region: coordinates are in these pixels
    heads: tuple = ()  # every output: engine.targets.OutputHead.as_dict()
    pixels: Any = None  # uint8 (H, W, 3): the image
    counts: tuple = ()  # (class, pixels) of the classes present, most pixels first


@dataclass(frozen=True, eq=False)
class MakeFigure(Job):
    """A figure for a paper: a preview (fmt "png" at a low dpi, `out` None) or the file.

    known: maps / patterns the views already computed (CamResult, KnownPatterns), reused."""

    spec: Any = None  # engine.figures.FigureSpec
    options: Any = None  # engine.figures.FigureOptions
    images: tuple = ()  # engine.images.Image, in spec order
    known: tuple = ()
    fmt: str = "png"
    out: str | None = None
    channel: ClassVar[str] = "figure"
    yields: ClassVar[bool] = True
    nestable: ClassVar[bool] = False

    def describe(self) -> str:
        what = f"writing {self.out}" if self.out else "preview"
        return f"{getattr(self.spec, 'kind', '')} figure ({what})"


@dataclass(frozen=True, eq=False)
class ExportFigure(MakeFigure):
    """Writing the figure file: its own channel, so a preview never supersedes it."""

    channel: ClassVar[str] = "figure-export"


@dataclass(frozen=True, eq=False)
class FigureReady(Result):
    content: bytes = b""  # the figure in `fmt` (PNG for a preview)
    fmt: str = "png"
    size_px: tuple = ()
    written: tuple = ()  # paths written (figure, recipe, ...)
    recipe: dict = field(default_factory=dict)
    seconds: float = 0.0
