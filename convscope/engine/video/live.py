"""The engine's side of the Live view: one video frame in, what to show out (no Qt).

Runs on the engine thread for each LiveFrame job the view sends; the bridge keeps only
the newest pending frame, so frames the engine had no time for are never computed. The
temporal smoothing state (an exponential moving average of the heatmap, see
engine.video.explain.Smoother) lives here, on the engine thread, and restarts when the
source, method, layer, class or mode changes, or when the view asks (a seek).
"""
from __future__ import annotations

import time

import numpy as np

from ..explore import cache as explore
from .. import jobs as J
from ..errors import UserError
from ..images import from_array
from .explain import Smoother, check_live_method, explain_frames, render, top_predictions


class _LiveState:
    def __init__(self):
        self.key = None
        self.smoother = Smoother(0.0)


def explain_live_frame(worker, model, job: J.LiveFrame, base: dict) -> J.LiveFrameReady:
    t0 = time.perf_counter()
    state = getattr(worker, "_live_state", None)
    if state is None:
        state = worker._live_state = _LiveState()
    frame = np.asarray(job.frame)
    if job.mode == "activations":
        return _activations(model, job, base, frame, t0)
    if job.mode != "cam":
        raise UserError(f"unknown live mode {job.mode!r}; use cam or activations")
    method = check_live_method(job.method)
    with explore.paused(model):  # a frame is seen once: no all-layer pass, nothing cached
        fm = explain_frames(model, [frame], method, job.layer, job.class_index,
                            target=job.target or None)[0]
    key = (job.source, method, fm.layer, job.class_index, job.target, fm.heatmap.shape)
    if job.reset or key != state.key or state.smoother.smooth != job.smooth:
        state.key, state.smoother = key, Smoother(job.smooth)
    heat = state.smoother(fm.heatmap)
    picture = render(frame, heat, job.alpha, job.colormap)
    return J.LiveFrameReady(
        **base, index=job.index, t_read=job.t_read, source=job.source, frame=frame,
        picture=picture, heatmap=heat, predictions=_predictions(model, frame, fm, job.top),
        mode="cam", method=method, layer=fm.layer, class_index=fm.class_index, label=fm.label,
        probability=fm.probability, seconds=time.perf_counter() - t0)


def _predictions(model, frame, fm, top: int) -> tuple:
    """The frame's top classes: from the logits the class map left, else (a target's map)
    one forward pass; none for a model without a classifier head (a U-Net)."""
    if fm.logits is not None:
        return top_predictions(model, fm.logits, top)
    if not model.head.classifier:
        return ()
    logits, _ = model.forward(model.prepare([from_array(frame)]), logits=True)
    return top_predictions(model, logits[0], top)


def _activations(model, job, base, frame, t0) -> J.LiveFrameReady:
    from ..explore.activation_view import render_grid

    if not job.layer:
        raise UserError("select a layer with a spatial output to see its activations live")
    model.layer(job.layer, spatial=True)
    logits, rec = model.forward(model.prepare([from_array(frame)]), record=[job.layer], logits=True)
    grid = render_grid(rec[job.layer][0], colormap="viridis")
    preds = top_predictions(model, logits[0], job.top)
    return J.LiveFrameReady(
        **base, index=job.index, t_read=job.t_read, source=job.source, frame=frame,
        picture=grid, predictions=preds, mode="activations", layer=job.layer,
        class_index=preds[0].index, label=preds[0].label, probability=preds[0].score,
        seconds=time.perf_counter() - t0)
