"""Running one job against the current model: Qt-free, so it is testable without a display.

`Worker` holds the open ConvModel and turns a job (engine.jobs) into results, sent through
an `emit` callback: streaming progress first (throttled), then exactly one terminal result.
Failures never escape: a UserError becomes `JobFailed` with its message, a cancellation
`JobCancelled`, anything else `JobFailed(internal=True)` with a short message and the
traceback in `details`.

Everything here runs on the one engine thread (engine/qt_bridge.py) — TensorFlow is first
imported by the StartEngine job there.
"""
from __future__ import annotations

import gc
import time
import traceback
from typing import Callable

from . import jobs as J
from .cancel import CancelToken
from .errors import Cancelled, UserError

Emit = Callable[[J.Result], None]

PROGRESS_INTERVAL = 0.1  # seconds between streamed progress results of one job


class Throttle:
    """Calls through at most once per `interval` seconds (the first call always passes)."""

    def __init__(self, interval: float = PROGRESS_INTERVAL):
        self.interval = interval
        self._last = -1e9

    def ready(self) -> bool:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False


class Worker:
    def __init__(self) -> None:
        self.model = None  # engine.model.ConvModel

    # -- the one entry point ------------------------------------------------------------
    def run(self, job: J.Job, emit: Emit, cancel: CancelToken | None = None) -> None:
        cancel = cancel or CancelToken()
        base = {"job_id": job.job_id, "channel": job.channel}
        handler = getattr(self, "_do_" + type(job).__name__, None)
        try:
            if handler is None:
                raise UserError(f"the engine does not know the job {type(job).__name__}")
            cancel.check()
            handler(job, emit, cancel, base)
        except Cancelled:
            emit(J.JobCancelled(**base))
        except UserError as exc:
            emit(J.JobFailed(**base, message=str(exc)))
        except MemoryError:  # an allocation the estimates (engine.memory) did not foresee
            emit(J.JobFailed(**base, message=f"out of memory ({job.describe()}); try a "
                             "smaller image, layer or fewer filters"))
        except Exception as exc:  # a bug, or a failure TensorFlow did not explain
            emit(J.JobFailed(**base, internal=True, details=traceback.format_exc(),
                             message=f"internal error ({job.describe()}): "
                                     f"{type(exc).__name__}: {_first_line(exc)}"))

    def run_all(self, job: J.Job, cancel: CancelToken | None = None) -> list[J.Result]:
        """Run a job and return everything it emitted (for scripts and tests)."""
        out: list[J.Result] = []
        self.run(job, out.append, cancel)
        return out

    # -- jobs -----------------------------------------------------------------------------
    def _do_StartEngine(self, job: J.StartEngine, emit, cancel, base) -> None:
        from . import tf_runtime

        t0 = time.perf_counter()
        device = tf_runtime.init(job.device)
        emit(J.EngineReady(**base, device=device, seconds=time.perf_counter() - t0))

    def _do_LoadModel(self, job: J.LoadModel, emit, cancel, base) -> None:
        from .model import open_model

        t0 = time.perf_counter()
        emit(J.Progress(**base, done=0, total=2, text=f"reading {job.spec}…"))
        model = open_model(job.spec, preprocess=job.preprocess, device=job.device)
        cancel.check()
        emit(J.Progress(**base, done=1, total=2, text="compiling the forward pass…"))
        _warm_up(model)
        # Only now replace the old model: a file that fails to open leaves it working.
        self.model = model
        # The old model, its compiled functions and caches hang together in reference
        # cycles (Keras layers <-> tf.functions): free them now, not whenever gc runs.
        gc.collect()
        summary = {k: v for k, v in model.summary().items() if k != "layers"}
        methods, note = _cam_methods(model)
        emit(J.ModelLoaded(
            **base, summary=summary, layers=tuple(model.layers),
            labels=tuple(model.label(i) for i in range(model.head.classes)),
            cam_methods=methods, cam_note=note,
            filters_available=not model.predict_only and _has_module("filters"),
            seconds=time.perf_counter() - t0))

    def _do_Predict(self, job: J.Predict, emit, cancel, base) -> None:
        preds = self._model().predict(job.image, top=job.top)
        emit(J.Predicted(**base, image_name=job.image.name, predictions=tuple(preds)))

    def _do_Activations(self, job: J.Activations, emit, cancel, base) -> None:
        model = self._model()
        model.layer(job.layer, spatial=True)
        t0 = time.perf_counter()
        act = model.activations(job.image, [job.layer])[job.layer]
        emit(J.ActivationsReady(**base, layer=job.layer, image_name=job.image.name,
                                activations=act, seconds=time.perf_counter() - t0))

    def _do_FilterPatterns(self, job: J.FilterPatterns, emit, cancel, base) -> None:
        model = self._model()
        throttle = Throttle()
        t0 = time.perf_counter()
        fields = dict(base, layer=job.layer, filters=tuple(job.filters))

        def progress(step, steps, patterns=None):
            if patterns is not None and step < steps and throttle.ready():
                emit(J.FiltersReady(**fields, patterns=patterns, step=int(step), steps=int(steps),
                                    seconds=time.perf_counter() - t0, last=False))
            cancel.check()

        patterns = model.filter_patterns(job.layer, filters=list(job.filters), size=job.size,
                                         steps=job.steps, mode=job.mode, seed=job.seed,
                                         progress=progress, cancel=cancel)
        emit(J.FiltersReady(**fields, patterns=patterns, step=job.steps, steps=job.steps,
                            seconds=time.perf_counter() - t0, last=True))

    def _do_Cam(self, job: J.Cam, emit, cancel, base) -> None:
        emit(self._cam(job.method, job, emit, cancel, base, last=True))

    def _do_CompareCams(self, job: J.CompareCams, emit, cancel, base) -> None:
        if not job.methods:
            raise UserError("no CAM methods to compare")
        for i, method in enumerate(job.methods):
            last = i == len(job.methods) - 1
            cancel.check()
            try:
                emit(self._cam(method, job, emit, cancel, base, last=last))
            except UserError as exc:  # e.g. CAM on a head without global pooling
                emit(J.CamReady(**base, method=method, error=str(exc), last=last))

    def _do_LiveFrame(self, job: J.LiveFrame, emit, cancel, base) -> None:
        from .live import explain_live_frame

        emit(explain_live_frame(self, self._model(), job, base))

    def _do_ExportVideo(self, job: J.ExportVideo, emit, cancel, base) -> None:
        from .video_pipeline import explain_video

        throttle = Throttle()

        def progress(done, total):
            if throttle.ready():
                emit(J.Progress(**base, done=done, total=total or 0,
                                text=f"exporting video: frame {done}" + (f"/{total}" if total else "")))

        summary = explain_video(self._model(), job.source, job.out, job.options,
                                progress=progress, cancel=cancel)
        emit(J.VideoExported(**base, out=job.out, summary=summary))

    # -- helpers --------------------------------------------------------------------------
    def _model(self):
        if self.model is None:
            raise UserError("no model is open yet: open a model file or pick a built-in one")
        return self.model

    def _cam(self, method, job, emit, cancel, base, last) -> J.CamReady:
        model = self._model()
        model.require_layers("class activation maps")
        throttle = Throttle()

        def progress(done, total=None, *_):
            if total and throttle.ready():
                emit(J.Progress(**base, done=done, total=total, text=f"{method}: {done}/{total}"))
            cancel.check()

        options = {"progress": progress, "cancel": cancel}
        if getattr(job, "max_n", None) is not None:
            options["max_n"] = job.max_n
        t0 = time.perf_counter()
        cam = model.cam(job.image, method=method, layer=job.layer,
                        class_index=job.class_index, **options)
        return J.CamReady(**base, method=cam.method, layer=cam.layer,
                          class_index=int(cam.class_index), label=str(cam.label),
                          score=float(cam.score), heatmap=cam.heatmap, cam=cam,
                          seconds=time.perf_counter() - t0, last=last)


def _warm_up(model) -> None:
    """Trace the forward pass once, so the first image does not pay for it."""
    import numpy as np

    from .images import from_array

    h, w, _ = model.input_shape
    model.scores(from_array(np.zeros((h or 64, w or 64, 3), np.uint8)))


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
    from . import cam

    return tuple(cam.METHODS), ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
