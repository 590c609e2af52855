"""The window's dataset jobs and their results (frozen dataclasses, no Qt), and how the
engine thread runs them (engine.worker delegates here).

- DatasetBatch: `convscope batch` as a job: progress per batch, cancellable between
  batches (the run folder stays resumable); the result carries the rows, the summary and
  the summary figure as an RGB array.
- DatasetIndex: `convscope examples`' index for one layer, stored where the window finds it.
- FindExamples: the stored top-k crops of one channel, if an index exists for its layer.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar

from .. import jobs as J
from . import defaults as D


@dataclass(frozen=True, eq=False)
class DatasetBatch(J.Job):
    images: str = ""  # DIR, GLOB or LIST.csv
    out: str = ""  # RUN_DIR
    methods: tuple = D.METHODS
    metrics: tuple = D.METRICS
    layer: str | None = None
    class_mode: str = D.CLASS_MODE
    steps: int = D.CURVE_STEPS  # the CLI's default too (engine.dataset.defaults)
    batch_size: int = 16
    resume: bool = False
    channel: ClassVar[str] = "dataset"

    def describe(self) -> str:
        return f"{', '.join(self.methods)} over {os.path.basename(self.images.rstrip('/')) or self.images}"


@dataclass(frozen=True, eq=False)
class DatasetIndex(J.Job):
    images: str = ""
    layer: str = ""
    top: int = 9
    score: str = "max"
    channel: ClassVar[str] = "dataset"

    def describe(self) -> str:
        return f"indexing {os.path.basename(self.images.rstrip('/'))} for {self.layer}"


@dataclass(frozen=True, eq=False)
class FindExamples(J.Job):
    layer: str = ""
    unit: int = 0  # the channel
    size: int = 96
    channel: ClassVar[str] = "examples"


@dataclass(frozen=True, eq=False)
class DatasetBatchReady(J.Result):
    run_dir: str = ""
    rows: tuple = ()  # dicts: the results.parquet rows
    summary: tuple = ()  # dicts: method, metric, mean, ci_low, ci_high, n
    figure: Any = None  # uint8 RGB (H, W, 3): the summary's first page
    errors: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, eq=False)
class DatasetIndexReady(J.Result):
    layer: str = ""
    path: str = ""
    files: int = 0
    channels: int = 0


@dataclass(frozen=True, eq=False)
class ExamplesReady(J.Result):
    layer: str = ""
    unit: int = 0
    crops: tuple = ()  # uint8 (size, size, 3) each, best first
    captions: tuple = ()  # "score · file" per crop
    found: bool = False  # an index exists for the layer


# -- running them on the engine thread -----------------------------------------------------
def run_batch(model, job: DatasetBatch, emit, cancel, base) -> None:
    from .explain import Settings
    from .runner import finalize, make_recipe, pending, run_local
    from .sources import list_items
    from .store import RunStore

    t0 = time.perf_counter()
    model.require_layers("a dataset run")
    items = list_items(job.images)
    settings = Settings(methods=tuple(job.methods), metrics=tuple(job.metrics), layer=job.layer,
                        class_mode=job.class_mode, steps=job.steps)
    store = RunStore(job.out)
    done = store.open(make_recipe(model, model.source, job.images, items, settings), job.resume)
    todo = pending(items, done)
    count = {"n": len(items) - len(todo)}

    def progress(n):
        count["n"] += n
        emit(J.Progress(**base, done=count["n"], total=len(items),
                        text=f"{count['n']} / {len(items)} images"))

    try:
        run_local(model, settings, store, todo, batch_size=job.batch_size, progress=progress,
                  cancel=cancel)
        out = finalize(store, settings, model.name)
    finally:
        store.close()
    import pyarrow.parquet as pq

    rows = pq.read_table(os.path.join(store.run_dir, "results.parquet")).to_pylist()
    emit(DatasetBatchReady(**base, run_dir=store.run_dir, rows=tuple(rows),
                           summary=tuple(out["summary"]), figure=summary_picture(store.run_dir, out),
                           errors=out["errors"], seconds=time.perf_counter() - t0))


def summary_picture(run_dir: str, out: dict):
    """The summary's metric panel as an RGB array (matplotlib Agg, object API)."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .store import RunStore
    from .summary import figures, mean_curves

    rows = list(out["summary"])
    methods = list(dict.fromkeys(r["method"] for r in rows))
    fig = figures(rows, mean_curves(RunStore(run_dir).read("rows"), methods))[0]
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def run_index(model, job: DatasetIndex, emit, cancel, base) -> None:
    from . import examples
    from .sources import list_items

    items = list_items(job.images)

    def progress(done, total):
        emit(J.Progress(**base, done=done, total=total, text=f"indexing: {done} / {total} images"))

    index = examples.compute(model, items, job.layer, None, job.top, job.score,
                             progress=progress, cancel=cancel)
    path = examples.save(index, examples.default_index_dir())
    emit(DatasetIndexReady(**base, layer=job.layer, path=path, files=len(items),
                           channels=len(index["channels"])))


def run_find(model, job: FindExamples, emit, cancel, base) -> None:
    from . import examples
    from .sources import model_sha256

    sha = getattr(model, "_convscope_sha", None)
    if sha is None:
        sha = model._convscope_sha = model_sha256(model)
    index = examples.find_index(sha, job.layer)
    if index is None:
        emit(ExamplesReady(**base, layer=job.layer, unit=job.unit))
        return
    pairs = examples.crops(index, job.unit, job.size)
    emit(ExamplesReady(**base, layer=job.layer, unit=job.unit, found=True,
                       crops=tuple(c for c, _ in pairs),
                       captions=tuple(f"{e['score']:.3g} · {os.path.basename(e['path'])}"
                                      for _, e in pairs)))
