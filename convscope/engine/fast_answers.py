"""Answers the caches already hold: no TensorFlow, so any thread may compute them.

The engine bridge's fast lane (engine/qt_bridge.py) answers with these the requests the
exploration cache (engine/explore.py) can serve, without waiting for the engine thread —
which may be busy with a long job of a tab the user left (Score-CAM on VGG16: seconds per
chunk). Two kinds:

- `Activations` of a layer of an image whose all-layer pass is cached: a look-up.
- `Cam` by a gradient method (Grad-CAM, Grad-CAM++, LayerCAM, HiResCAM, XGrad-CAM: the
  registry's needs="gradients") at a cached layer, for a class whose gradients at every
  layer are cached: the method's numpy formula (engine.cam.weights) on the cached A and
  d score / d A, normalised as engine.cam.api.compute_cam does (ReLU, min-max). The same
  numbers as the engine thread's path (a test compares them).

`answerable(model, job)` is cheap and exact (a cache membership test); `answer` returns
None if an entry was evicted meanwhile (the caller then sends the job to the engine).
"""
from __future__ import annotations

import time

import numpy as np

from .explore import cache as explore
from . import jobs as J


def answerable(model, job) -> bool:
    return _answer(model, job, dry=True) is not None


def answer(model, job) -> list | None:
    """The job's results (its terminal one last), or None when the cache cannot answer."""
    return _answer(model, job, dry=False)


def _answer(model, job, dry: bool):
    if model is None or model.predict_only or not explore.usable(model):
        return None
    if isinstance(job, J.Activations):
        return _activations(model, job, dry)
    if isinstance(job, J.Cam):
        return _cam(model, job, dry)
    return None


def _activations(model, job: J.Activations, dry: bool):
    t0 = time.perf_counter()
    got = explore.cached_activations(model, job.image, [job.layer])
    if got is None:
        return None
    if dry:
        return ()
    return [J.ActivationsReady(job_id=job.job_id, channel=job.channel, layer=job.layer,
                               image_name=job.image.name, activations=got[job.layer],
                               seconds=time.perf_counter() - t0)]


def _cam(model, job: J.Cam, dry: bool):
    from .cam import registry, targets
    from .cam.result import normalise

    spec = registry.get(job.method)
    if spec.needs != "gradients" or spec.kind != "cam" or spec.signed or job.options:
        return None
    if getattr(job, "target", None):  # a target's map is never the cached class map
        return None
    if not model.head.classifier:
        return None
    layer = job.layer or model.default_cam_layer
    if layer is None:
        return None
    t0 = time.perf_counter()
    unit, sign, _ = targets.resolve(model, job.class_index, 1)
    hit = explore.cached_gradients(model, job.image, layer, unit, sign)
    if hit is None:
        return None
    if dry:
        return ()
    A, _, g, unit, sign, score = hit
    raw, w = spec.weights(A, g)  # the registry's formula, as the "gradients" runner applies it
    c = targets.class_of(int(unit[0]), float(sign[0]), model.head.binary_sigmoid)
    heatmap = normalise(raw[0])
    return [J.CamReady(job_id=job.job_id, channel=job.channel, method=spec.name, layer=layer,
                       class_index=int(c), label=str(model.label(c)), score=float(score[0]),
                       heatmap=heatmap, pixels=job.image.pixels,
                       weights=None if w is None else np.asarray(w[0], np.float32),
                       seconds=time.perf_counter() - t0, last=True,
                       no_evidence=not bool(np.any(heatmap)))]
