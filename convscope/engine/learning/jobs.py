"""The window's "Compare with model…" as an engine job (frozen dataclasses, no Qt), and how
the engine thread runs it (engine.worker delegates here): the open model (A) and another
model file (B, kept open for the next comparison) on the same image and layer — both maps
for A's top class, their difference B - A, and the layers with no counterpart
(engine.learning.compare)."""
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


def run_compare(worker, job: CompareModel, emit, cancel, base) -> None:
    from ..explore import cache as explore
    from ..model import open_model
    from .compare import diff_maps

    a = worker._model()
    held = getattr(worker, "_compare_b", None)
    if held is None or held[0] != job.spec_b:
        b = open_model(job.spec_b, preprocess=a.preprocess)
        explore.enable(b, False)
        worker._compare_b = held = (job.spec_b, b)
    b = held[1]
    cancel.check()
    d = diff_maps(a, b, job.image, method=job.method, layer=job.layer)
    emit(ModelCompared(**base, name_a=a.name, name_b=os.path.basename(job.spec_b) or b.name,
                       layer=d.layer, method=d.cam_a.method, class_index=d.class_index,
                       label=a.label(d.class_index), score_a=d.cam_a.score, score_b=d.cam_b.score,
                       map_a=d.map_a, map_b=d.map_b, diff=d.diff, only_a=tuple(d.pairs.only_a),
                       only_b=tuple(d.pairs.only_b), change=tuple(d.change.items())))
