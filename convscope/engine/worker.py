"""Running one job against the current model: Qt-free, so it is testable without a display.

`Worker` holds the open ConvModel and turns a job (engine.jobs) into results, sent through
an `emit` callback: streaming progress first (throttled), then exactly one terminal result.
Failures never escape: a UserError becomes `JobFailed` with its message (and its remedy),
a cancellation `JobCancelled`, anything else `JobFailed(internal=True)` with a short
message and the traceback in `details`. Python warnings raised while a job runs are sent
as `JobWarning` results (as superqt's workers do), so they reach the window instead of
vanishing on this thread.

Which method runs a job: the `HANDLERS` table, job type -> function(worker, job, emit,
cancel, base); a module that adds a job registers its function with `@handles(JobType)`.

Everything here runs on the one engine thread (engine/qt_bridge.py) — TensorFlow is first
imported by the StartEngine job there.
"""
from __future__ import annotations

import gc
import time
import traceback
from typing import Callable

from . import jobs as J
from .dataset import jobs as DJ
from .learning import jobs as LJ
from .targets import window as TW
from .cancel import CancelToken
from .errors import Cancelled, UserError, first_line
from .thread_warnings import captured

Emit = Callable[[J.Result], None]

PROGRESS_INTERVAL = 0.1  # seconds between streamed progress results of one job
# Keras-internal notices that say nothing to a user (also silenced in pyproject's pytest).
WARNING_NOISE = ("__array__ implementation doesn't accept a copy keyword",
                 "The structure of `inputs` doesn't match")

Handler = Callable[["Worker", J.Job, Emit, CancelToken, dict], None]
HANDLERS: dict[type, Handler] = {}


def handles(job_type: type):
    """Register the function that runs jobs of `job_type` (one per type)."""
    def register(fn: Handler) -> Handler:
        if job_type in HANDLERS:
            raise ValueError(f"{job_type.__name__} already has a handler")
        HANDLERS[job_type] = fn
        return fn
    return register


class Throttle:
    """Calls through at most once per `interval` seconds (the first call always passes).
    `clock`: seconds, monotonic (injectable for tests)."""

    def __init__(self, interval: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.interval = PROGRESS_INTERVAL if interval is None else interval
        self.clock = clock
        self._last: float | None = None

    def ready(self) -> bool:
        now = self.clock()
        if self._last is None:
            self._last = now
            return True
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


class Worker:
    def __init__(self, progress_interval: float | None = None) -> None:
        from .explore.prefetch import Prefetcher

        self.model = None  # engine.model.ConvModel
        # seconds between streamed progress / partial results of one job
        self.progress_interval = PROGRESS_INTERVAL if progress_interval is None else progress_interval
        self.prefetcher = Prefetcher()  # idle work (engine/explore/prefetch.py)
        self.explore_note = ""  # why the all-layer cache is off for this model, if it is

    def answerable(self, job: J.Job) -> bool:
        """The caches answer this job without TensorFlow (engine/fast_answers.py): the
        bridge's fast lane may run it on another thread."""
        from . import fast_answers

        return fast_answers.answerable(self.model, job)

    def fast_answer(self, job: J.Job) -> list | None:
        """The job's results from the caches (any thread), or None (then run() it)."""
        from . import fast_answers

        return fast_answers.answer(self.model, job)

    def idle_task(self):
        """One unit of idle prefetch as callable(token), or None (engine/qt_bridge.py):
        first the all-layer passes' tracing of a model opened without an image yet, then
        engine/prefetch.py's units."""
        return self.warm_task(painted=True) or self.prefetcher.next_task(self.model)

    def warm_task(self, painted: bool | None = None):
        """A model opened cold (first paint first), once its first picture is out (or
        `painted`): one unit that analyses the current image (explore.analyse: every
        layer and the top class's gradients, one pass; the all-layer passes traced on a
        blank image when there is none) and ends the cold state, as callable(token); None
        otherwise. The bridge runs it in idle time and at a long job's checks."""
        from .explore import cache as explore

        cold = getattr(self, "_cold", None)
        if cold is None or cold is not self.model:
            return None
        if not explore.state(cold).enabled or explore.STORE.budget <= 0:
            explore.set_cold(cold, False)  # the cache is off: nothing to warm
            self._cold = None
            return None
        if not (painted if painted is not None else getattr(self, "_painted", False)):
            return None

        def warm(token, model=cold):
            self._cold = None
            explore.set_cold(model, False)
            images = self.prefetcher.current_images()
            if images:
                explore.analyse(model, images[0])
            elif not explore.state(model).fns:
                explore.warm_up(model)
        return warm

    # -- the one entry point ------------------------------------------------------------
    def run(self, job: J.Job, emit: Emit, cancel: CancelToken | None = None) -> None:
        cancel = cancel or CancelToken()
        base = {"job_id": job.job_id, "channel": job.channel}
        emit = _Painted(self, emit)
        handler = HANDLERS.get(type(job))
        # As superqt's workers: record the warnings this job raises. Per thread, not
        # catch_warnings: that swaps process-wide state other threads also swap.
        with captured() as caught:
            try:
                if handler is None:
                    raise UserError(f"the engine does not know the job {type(job).__name__}")
                cancel.check()
                handler(self, job, _WarningsFirst(emit, caught, base), cancel, base)
                final = None
            except Cancelled:
                final = J.JobCancelled(**base)
            except UserError as exc:
                final = J.JobFailed(**base, message=str(exc), remedy=getattr(exc, "remedy", None))
            except MemoryError:  # an allocation the estimates (engine.memory) did not foresee
                final = J.JobFailed(**base, message=f"out of memory ({job.describe()}); try a "
                                    "smaller image, layer or fewer filters")
            except Exception as exc:  # a bug, or a failure TensorFlow did not explain
                final = J.JobFailed(**base, internal=True, details=traceback.format_exc(),
                                    message=f"internal error ({job.describe()}): "
                                            f"{type(exc).__name__}: {first_line(exc)}")
        _flush_warnings(emit, caught, base)
        if final is not None:
            emit(final)

    def run_all(self, job: J.Job, cancel: CancelToken | None = None) -> list[J.Result]:
        """Run a job and return everything it emitted (for scripts and tests)."""
        out: list[J.Result] = []
        self.run(job, out.append, cancel)
        return out

    # -- jobs -----------------------------------------------------------------------------
    @handles(J.StartEngine)
    def _start_engine(self, job: J.StartEngine, emit, cancel, base) -> None:
        from . import tf_runtime

        t0 = time.perf_counter()
        device = tf_runtime.init(job.device)
        emit(J.EngineReady(**base, device=device, seconds=time.perf_counter() - t0))

    @handles(J.LoadModel)
    def _load_model(self, job: J.LoadModel, emit, cancel, base) -> None:
        from .model import open_model

        t0 = time.perf_counter()
        emit(J.Progress(**base, done=0, total=2, text=f"reading {job.spec}…"))
        model = open_model(job.spec, preprocess=job.preprocess, device=job.device,
                           custom_objects=list(job.custom_objects) or None,
                           trust_model=job.trust_model, head=job.head)
        cancel.check()
        from .explore import cache as explore

        explore.fit_budget(model)  # one process budget: the cache gets what the model leaves

        # First paint first (issue 17): the model's passes are traced by the first image's
        # analysis itself (explore.analyse), not on a blank image before it; tracing on a
        # blank image waits for idle time (idle_task), in case no image comes first. Only a
        # model the all-layer cache does not serve traces its plain forward pass now.
        h, w, _ = model.input_shape
        plan = explore.plan(model, (h or 64, w or 64))
        self.explore_note = plan.note
        if not (explore.usable(model) and plan.all_layers):
            emit(J.Progress(**base, done=1, total=2, text="compiling the forward pass…"))
            _warm_up(model)
            self._cold = None
        else:
            explore.set_cold(model)  # the first picture by the per-layer path (as the CLI)
            self._cold = model  # the all-layer cache is warmed in idle time (idle_task)
        self._painted = False
        # Only now replace the old model: a file that fails to open leaves it working.
        if self.model is not None:
            explore.forget(self.model)  # its cached layers go now, not when it is collected
        self.model = model
        # The old model, its compiled functions and caches hang together in reference
        # cycles (Keras layers <-> tf.functions): free them now, not whenever gc runs.
        gc.collect()
        methods, note = _cam_methods(model)
        heads, default_target = TW.of_model(model)
        if default_target and not methods and not model.predict_only and _has_module("cam"):
            from .cam import registry  # no classifier, but a target to explain (issue 21)

            methods, note = registry.names(), ""
        emit(J.ModelLoaded(
            **base, summary=model.describe(),
            labels=tuple(model.label(i) for i in range(model.head.classes)),
            cam_methods=methods, cam_note=note,
            filters_available=not model.predict_only and _has_module("filters"),
            explore_note=self.explore_note, heads=heads, default_target=default_target,
            seconds=time.perf_counter() - t0))

    @handles(J.Predict)
    def _predict(self, job: J.Predict, emit, cancel, base) -> None:
        from .explore import cache as explore

        model = self._model()
        if explore.is_cold(model):  # the first picture first: the default CAM layer's pass
            preds = _first_predictions(model, job.image, job.top)
        else:
            explore.analyse(model, job.image)  # every layer + top-class gradients, one pass
            preds = model.predict(job.image, top=job.top)
        emit(J.Predicted(**base, image_name=job.image.name, predictions=tuple(preds)))

    @handles(J.Activations)
    def _activations(self, job: J.Activations, emit, cancel, base) -> None:
        model = self._model()
        model.layer(job.layer, spatial=True)
        t0 = time.perf_counter()
        act = model.activations(job.image, [job.layer])[job.layer]
        emit(J.ActivationsReady(**base, layer=job.layer, image_name=job.image.name,
                                activations=act, seconds=time.perf_counter() - t0))

    @handles(J.FilterPatterns)
    def _filter_patterns(self, job: J.FilterPatterns, emit, cancel, base) -> None:
        model = self._model()
        throttle = Throttle(self.progress_interval)
        t0 = time.perf_counter()
        fields = dict(base, layer=job.layer, filters=tuple(job.filters))

        frames = [] if job.animate else None
        if frames is not None:
            from .filters import animation

            animation.check_path(job.animate)

        def progress(step, steps, patterns=None):
            if frames is not None and patterns is not None:
                frames.append(_frame(patterns))
            if patterns is not None and step < steps and throttle.ready():
                emit(J.FiltersReady(**fields, patterns=patterns, step=int(step), steps=int(steps),
                                    seconds=time.perf_counter() - t0, last=False))
            cancel.check()

        patterns = model.filter_patterns(job.layer, filters=list(job.filters), size=job.size,
                                         steps=job.steps, mode=job.mode, seed=job.seed,
                                         progress=progress, cancel=cancel,
                                         **({"every": max(1, job.every)} if frames is not None else {}))
        if frames is not None:
            animation.save(job.animate, frames)
        emit(J.FiltersReady(**fields, patterns=patterns, step=job.steps, steps=job.steps,
                            seconds=time.perf_counter() - t0, last=True,
                            animation=job.animate if frames is not None else ""))

    @handles(J.Cam)
    def _cam_job(self, job: J.Cam, emit, cancel, base) -> None:
        emit(self._cam(job.method, job, emit, cancel, base, last=True))

    @handles(J.CompareCams)
    def _compare_cams(self, job: J.CompareCams, emit, cancel, base) -> None:
        if not job.methods:
            raise UserError("no CAM methods to compare")
        for i, method in enumerate(job.methods):
            last = i == len(job.methods) - 1
            cancel.check()
            try:
                emit(self._cam(method, job, emit, cancel, base, last=last))
            except UserError as exc:  # e.g. CAM on a head without global pooling
                emit(J.CamReady(**base, method=method, error=str(exc), last=last))

    @handles(J.LiveFrame)
    def _live_frame(self, job: J.LiveFrame, emit, cancel, base) -> None:
        from .video.live import explain_live_frame

        emit(explain_live_frame(self, self._model(), job, base))

    @handles(J.ExportVideo)
    def _export_video(self, job: J.ExportVideo, emit, cancel, base) -> None:
        from .video.pipeline import explain_video

        throttle = Throttle()

        def progress(done, total):
            if throttle.ready():
                emit(J.Progress(**base, done=done, total=total or 0,
                                text=f"exporting video: frame {done}" + (f"/{total}" if total else "")))

        summary = explain_video(self._model(), job.source, job.out, job.options,
                                progress=progress, cancel=cancel)
        emit(J.VideoExported(**base, out=job.out, summary=summary))

    @handles(J.MakeFigure)
    @handles(J.ExportFigure)
    def _make_figure(self, job: J.MakeFigure, emit, cancel, base) -> None:
        from .figures.job import FigureMaker

        if getattr(self, "_figures", None) is None:
            self._figures = FigureMaker()  # keeps the last figure's arrays for previews
        self._figures.run(self._model(), job, emit, cancel, base)

    @handles(DJ.DatasetBatch)
    def _dataset_batch(self, job, emit, cancel, base) -> None:  # engine.dataset.jobs
        DJ.run_batch(self._model(), job, emit, cancel, base)

    @handles(DJ.DatasetIndex)
    def _dataset_index(self, job, emit, cancel, base) -> None:
        DJ.run_index(self._model(), job, emit, cancel, base)

    @handles(DJ.FindExamples)
    def _find_examples(self, job, emit, cancel, base) -> None:
        DJ.run_find(self._model(), job, emit, cancel, base)

    @handles(LJ.CompareModel)
    def _compare_model(self, job, emit, cancel, base) -> None:  # engine.learning.jobs
        LJ.run_compare(self, job, emit, cancel, base)

    @handles(LJ.LayerCKA)
    def _layer_cka(self, job, emit, cancel, base) -> None:  # engine.learning.jobs
        LJ.run_cka(self, job, emit, cancel, base)

    @handles(LJ.EpochMaps)
    def _epoch_maps(self, job, emit, cancel, base) -> None:  # engine.learning.jobs
        LJ.run_epoch_maps(self, job, emit, cancel, base)

    # -- helpers --------------------------------------------------------------------------
    def _model(self):
        if self.model is None:
            raise UserError("no model is open yet: open a model file or pick a built-in one")
        return self.model

    def _cam(self, method, job, emit, cancel, base, last) -> J.CamReady:
        model = self._model()
        model.require_layers("class activation maps")
        throttle = Throttle(self.progress_interval)

        def progress(done, total=None, *_):
            if total and throttle.ready():
                emit(J.Progress(**base, done=done, total=total,  # "Score-CAM: 3/17", as the menus
                                text=f"{J._title(method)}: {done}/{total}"))
            cancel.check()

        options = {"progress": progress, "cancel": cancel}
        if getattr(job, "max_n", None) is not None:
            options["max_n"] = job.max_n
        options.update(_method_options(job, method))
        t0 = time.perf_counter()
        target = getattr(job, "target", "") or None  # engine.targets spec (issue 21)
        cam = model.cam(job.image, method=method, layer=job.layer,
                        class_index=None if target else job.class_index, target=target,
                        **options)
        return J.CamReady(**base, method=cam.method, layer=cam.layer,
                          class_index=int(cam.class_index), label=str(cam.label),
                          score=float(cam.score), heatmap=cam.heatmap,
                          pixels=cam.image.pixels, weights=cam.weights, display=cam.display,
                          completeness_error=cam.info.get("completeness_error"),
                          seconds=time.perf_counter() - t0, last=last,
                          no_evidence=cam.no_evidence, target=cam.target,
                          target_text=TW.in_words(cam.target))

    @handles(J.PredictMask)
    def _predict_mask(self, job: J.PredictMask, emit, cancel, base) -> None:
        emit(TW.mask_ready(self._model(), job, base))  # engine.targets.window


def _frame(patterns):
    """One animation frame: the patterns in a square grid, as the Filters view shows them."""
    import math

    from . import grid

    return grid.tile(patterns, math.ceil(math.sqrt(len(patterns))), margin=4, fill=31)


def _warm_up(model) -> None:
    """Trace the forward pass once, so the first image does not pay for it."""
    import numpy as np

    from .images import from_array

    h, w, _ = model.input_shape
    model.scores(from_array(np.zeros((h or 64, w or 64, 3), np.uint8)))


def _first_predictions(model, image, top: int):
    """Predictions of a model just opened, from ONE fused forward + backward pass to its
    default CAM layer (engine.cam.compute, cached per image): the default map that follows
    (Grad-CAM, top class) is then a look-up — the window's first picture costs what `cam`
    on the command line costs. The all-layer analysis comes in idle time."""
    import numpy as np

    layer = model.default_cam_layer
    if layer is None or not model.head.classifier or not _has_module("cam"):
        return model.predict(image, top=top)
    from .cam import compute
    from .video.explain import top_predictions

    _, logits, *_ = compute.gradients(model, [image], layer, np.array([-1], np.int32),
                                      np.ones(1, np.float32))
    return list(top_predictions(model, logits[0], top))


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(f"{__package__}.{name}") is not None


def _cam_methods(model) -> tuple[tuple, str]:
    if model.predict_only:
        return (), model.note
    if not model.head.classifier:
        return (), (f"class activation maps need class scores; this model has no classifier "
                    f"head (its output is {model.head.describe_output()})")
    if not _has_module("cam"):
        return (), "class activation maps are not available in this build (engine.cam missing)"
    from .cam import registry

    return registry.names(), ""


class _Painted:
    """emit() that notes when a picture went out (a map or a layer's activations): the
    first paint of a model opened cold is done (Worker.warm_task)."""

    def __init__(self, worker: Worker, emit: Emit):
        self.worker, self.emit = worker, emit

    def __call__(self, result: J.Result) -> None:
        self.emit(result)
        if isinstance(result, (J.CamReady, J.ActivationsReady)) and not getattr(result, "error", ""):
            self.worker._painted = True


class _WarningsFirst:
    """emit() that first sends the warnings caught so far, so they arrive before the
    result they came with (and before the job's terminal result)."""

    def __init__(self, emit: Emit, caught: list, base: dict):
        self.emit, self.caught, self.base = emit, caught, base

    def __call__(self, result: J.Result) -> None:
        _flush_warnings(self.emit, self.caught, self.base)
        self.emit(result)


def _flush_warnings(emit: Emit, caught: list, base: dict) -> None:
    seen = set()
    while caught:
        w = caught.pop(0)
        text = str(w.message).strip()
        if not text or text in seen or any(n in text for n in WARNING_NOISE):
            continue
        seen.add(text)
        emit(J.JobWarning(**base, message=first_line(w.message), category=w.category.__name__,
                          details=f"{w.filename}:{w.lineno}: {w.category.__name__}: {text}"))


def _method_options(job, method: str) -> dict:
    """A Cam job's options, or a CompareCams job's options for `method`."""
    opts = getattr(job, "options", ())
    if isinstance(job, J.CompareCams):
        return {k: v for m, k, v in opts if m == method}
    return dict(opts)
