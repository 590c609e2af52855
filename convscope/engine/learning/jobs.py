"""The window's learning jobs (frozen dataclasses, no Qt), and how the engine thread runs
them (engine.worker delegates here):
- CompareModel ("Compare with model…"): the open model (A) and another model file (B, kept
  open for the next comparison) on the same image and layer — both maps for A's top class,
  their difference B - A, and the layers with no counterpart (engine.learning.compare);
- LayerCKA ("Representation similarity (CKA)…"): linear CKA between every spatial layer of
  A and of B (or A itself) over a folder of images, one minibatch at a time, with progress
  and cancellation between minibatches (engine.learning.cka)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import jobs as J


@dataclass(frozen=True, eq=False)
class CompareModel(J.Job):
    spec_b: str = ""  # model B: a .keras/.h5 file, builtin:NAME, demo
    image: Any = None  # engine.images.Image
    layer: str | None = None  # None: A's default CAM layer
    method: str = "gradcam"
    top: int = 3  # predictions of each model
    patterns: int = 4  # filter patterns (A's and B's) of this many most-changed channels; 0: none
    pattern_size: int = 64
    channel: ClassVar[str] = "compare_model"

    def describe(self) -> str:
        return f"comparing with {os.path.basename(self.spec_b) or self.spec_b}"


@dataclass(frozen=True, eq=False)
class ModelCompared(J.Result):
    name_a: str = ""
    name_b: str = ""
    layer: str = ""
    method: str = ""
    class_index: int = 0
    label: str = ""
    score_a: float = 0.0
    score_b: float = 0.0
    map_a: Any = None  # (h, w) float32 in [0, 1]
    map_b: Any = None
    diff: Any = None  # map_b - map_a
    only_a: tuple = ()  # spatial layers of A with no counterpart in B
    only_b: tuple = ()
    change: tuple = ()  # (layer, relative activation change) for the shared layers
    means_a: Any = None  # (C,) each channel's mean activation at `layer` in A
    means_b: Any = None
    grid_a: Any = None  # uint8 RGB grids of the layer's channels, one scale for A and B
    grid_b: Any = None
    preds_a: tuple = ()  # ((index, label, score), ...) top predictions of A
    preds_b: tuple = ()
    pattern_channels: tuple = ()  # the channels with the largest |mean_B - mean_A|
    patterns_a: Any = None  # (n, s, s, 3) uint8 filter patterns of those channels in A
    patterns_b: Any = None


def model_b(worker, spec: str, a):
    """Model B, opened with A's preprocessing and kept on the worker for the next job (one
    model held: a comparison with another file replaces it)."""
    from ..explore import cache as explore
    from ..model import open_model

    held = getattr(worker, "_compare_b", None)
    if held is None or held[0] != spec:
        worker._compare_b = None  # the old B goes before the new one is read
        b = open_model(spec, preprocess=a.preprocess)
        explore.enable(b, False)
        worker._compare_b = held = (spec, b)
    return held[1]


def run_compare(worker, job: CompareModel, emit, cancel, base) -> None:
    import numpy as np

    from .compare import diff_maps, shared_grids

    a = worker._model()
    b = model_b(worker, job.spec_b, a)
    cancel.check()
    d = diff_maps(a, b, job.image, method=job.method, layer=job.layer)
    cancel.check()
    grid_a, grid_b = shared_grids(d.acts_a, d.acts_b)
    preds = [tuple((p.index, p.label, p.score) for p in m.predict(job.image, top=job.top))
             for m in (a, b)]
    channels, pats = (), (None, None)
    if job.patterns > 0 and d.acts_a.shape == d.acts_b.shape:
        change = np.abs(d.channel_change)
        channels = tuple(int(c) for c in np.argsort(-change, kind="stable")[:job.patterns])
        emit(J.Progress(**base, done=0, total=2, text="filter patterns of the most-changed channels"))
        pats = []
        for i, m in enumerate((a, b)):
            cancel.check()
            pats.append(m.filter_patterns(d.layer, filters=list(channels), size=job.pattern_size,
                                          steps=40, mode="classic", cancel=cancel))
            emit(J.Progress(**base, done=i + 1, total=2, text="filter patterns of the most-changed channels"))
    emit(ModelCompared(**base, name_a=a.name, name_b=os.path.basename(job.spec_b) or b.name,
                       layer=d.layer, method=d.cam_a.method, class_index=d.class_index,
                       label=a.label(d.class_index), score_a=d.cam_a.score, score_b=d.cam_b.score,
                       map_a=d.map_a, map_b=d.map_b, diff=d.diff, only_a=tuple(d.pairs.only_a),
                       only_b=tuple(d.pairs.only_b), change=tuple(d.change.items()),
                       means_a=d.means_a, means_b=d.means_b, grid_a=grid_a, grid_b=grid_b,
                       preds_a=preds[0], preds_b=preds[1], pattern_channels=channels,
                       patterns_a=pats[0], patterns_b=pats[1]))


@dataclass(frozen=True, eq=False)
class LayerCKA(J.Job):
    images: str = ""  # a folder of images (its sub-folders too)
    spec_b: str | None = None  # model B; None: the open model against itself
    batch_size: int = 32
    max_images: int | None = None
    channel: ClassVar[str] = "cka"

    def describe(self) -> str:
        return f"CKA over {os.path.basename(self.images.rstrip('/')) or self.images}"


@dataclass(frozen=True, eq=False)
class CKAReady(J.Result):
    name_a: str = ""
    name_b: str = ""
    layers_a: tuple = ()  # rows
    layers_b: tuple = ()  # columns
    matrix: Any = None  # (len(layers_a), len(layers_b)) float64; NaN: a constant layer
    images: int = 0
    batch_size: int = 0


def image_files(folder: str, limit: int | None = None) -> list[str]:
    """The image files under `folder`, sorted (the `cka` command also takes globs and
    LIST.csv files, through engine.dataset, which this package does not import)."""
    from ..errors import UserError
    from ..images import is_image_path

    if not os.path.isdir(folder):
        raise UserError(f"image folder not found: {folder}; give a folder of images")
    paths = sorted(os.path.join(root, f) for root, _, files in os.walk(folder) for f in files
                   if is_image_path(f))
    return paths[:limit] if limit else paths


def run_cka(worker, job: LayerCKA, emit, cancel, base) -> None:
    from ..errors import UserError
    from .cka import MIN_BATCH, layer_cka
    from .compare import spatial_paths

    if job.batch_size < MIN_BATCH:
        raise UserError(f"the minibatch must hold at least {MIN_BATCH} images, not {job.batch_size}")
    paths = image_files(job.images, job.max_images)
    if len(paths) < MIN_BATCH:
        raise UserError(f"CKA needs at least {MIN_BATCH} images; {job.images} has {len(paths)}")
    a = worker._model()
    b = a if not job.spec_b else model_b(worker, job.spec_b, a)
    for m in {id(a): a, id(b): b}.values():
        m.require_layers("CKA")
        if not spatial_paths(m):
            raise UserError(f"{m.name} has no layer with a spatial output: nothing to compare")
    layers_a, layers_b = spatial_paths(a), spatial_paths(b)

    def progress(done, total):
        emit(J.Progress(**base, done=done, total=total,
                        text=f"CKA: minibatch {done} / {total} ({len(paths)} images)"))

    matrix = layer_cka(a, layers_a, b, layers_b, paths, batch_size=job.batch_size,
                       progress=progress, cancel=cancel)
    emit(CKAReady(**base, name_a=a.name, name_b=(b.name if b is a else
                                                 os.path.basename(job.spec_b) or b.name),
                  layers_a=tuple(layers_a), layers_b=tuple(layers_b), matrix=matrix,
                  images=len(paths), batch_size=job.batch_size))


@dataclass(frozen=True, eq=False)
class EpochMaps(J.Job):
    """One epoch of a folder of checkpoints without a recording (File ▸ Open run…): the
    maps and top predictions of the window's images under that checkpoint. The window opens
    the checkpoint first, so the engine usually finds it open; otherwise it opens it here
    (not kept)."""

    checkpoint: str = ""
    epoch: int = 0
    images: tuple = ()  # engine.images.Image
    method: str = "gradcam"
    channel: ClassVar[str] = "run_epochs"

    def describe(self) -> str:
        return f"maps of epoch {self.epoch} ({os.path.basename(self.checkpoint)})"


@dataclass(frozen=True, eq=False)
class EpochMapsReady(J.Result):
    checkpoint: str = ""
    epoch: int = 0
    method: str = ""
    layer: str = ""
    maps: tuple = ()  # (h, w) float32 in [0, 1] per image, for its top class
    classes: tuple = ()  # top class per image
    labels: tuple = ()
    scores: tuple = ()


def run_epoch_maps(worker, job: EpochMaps, emit, cancel, base) -> None:
    from ..model import open_model

    m = worker.model
    if m is None or os.path.abspath(str(m.source)) != os.path.abspath(job.checkpoint):
        m = open_model(job.checkpoint, preprocess=m.preprocess if m is not None else "auto")
    m.require_classifier("class maps")
    maps, classes, labels, scores = [], [], [], []
    for i, image in enumerate(job.images):
        cancel.check()
        top = m.predict(image, top=1)[0]
        cam = m.cam(image, method=job.method, class_index=top.index)
        maps.append(cam.heatmap)
        classes.append(int(top.index))
        labels.append(str(top.label))
        scores.append(float(top.score))
        emit(J.Progress(**base, done=i + 1, total=len(job.images), text=job.describe()))
    emit(EpochMapsReady(**base, checkpoint=job.checkpoint, epoch=job.epoch, method=job.method,
                        layer=cam.layer if job.images else "", maps=tuple(maps),
                        classes=tuple(classes), labels=tuple(labels), scores=tuple(scores)))
