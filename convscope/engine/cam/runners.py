"""How each kind of method gets its inputs: one runner per `needs` of engine.cam.registry.

A runner takes the registered Method and a registry.Context, runs the passes the method
needs (engine.cam.compute: compiled, cached, nested layers included) and returns
registry.Maps. The formulas themselves are the Method's `weights` (engine.cam.weights).
"""
from __future__ import annotations

import numpy as np

from ..errors import UserError
from . import compute, head as gap_head, targets
from .registry import Context, Maps, Method
from .weights import top_std_channels


def gradients(method: Method, ctx: Context) -> Maps:
    """A and g = d score / d A from one fused forward + backward pass (cached)."""
    _report(ctx, 0, 1)
    A, _, g, unit, sign, score = compute.gradients(ctx.model, ctx.images, ctx.layer,
                                                   ctx.unit, ctx.sign, scorer=ctx.scorer)
    raw, w = method.weights(A, g)
    _report(ctx, 1, 1)
    return Maps(_smoothed(ctx, method, A, g, w, raw), w, unit, sign, score)


def _activations(ctx: Context, report: bool = True):
    if report:
        _report(ctx, 0, 1)
    A, logits = compute.activations(ctx.model, ctx.images, ctx.layer)
    if report:
        _report(ctx, 1, 1)
    if ctx.scorer is not None:  # a target: resolved by its own pass (engine.targets.run)
        from ..targets import run

        unit, sign, score, _ = run.scores(ctx.model, ctx.scorer,
                                          compute.prepared(ctx.model, ctx.images), ctx.unit, ctx.sign)
        return A, unit, sign, score
    unit, sign, score = targets.select_np(logits, ctx.unit, ctx.sign, ctx.model.head.binary_sigmoid)
    return A, unit, sign, score


def activations(method: Method, ctx: Context) -> Maps:
    """A alone (one forward pass, cached); the score only names the class reported."""
    A, unit, sign, score = _activations(ctx)
    raw, w = method.weights(A)
    return Maps(raw, w, unit, sign, score)


def dense(method: Method, ctx: Context) -> Maps:
    """A and the column of the GAP + Dense kernel for each image's class (sign applied)."""
    A, unit, sign, score = _activations(ctx)
    gh = gap_head.find(ctx.model.keras_model, ctx.model.layer_index)
    raw, w = method.weights(A, (gh.kernel[:, unit] * sign).T)
    return Maps(_smoothed(ctx, method, A, None, w, raw), w, unit, sign, score)


def masked(method: Method, ctx: Context) -> Maps:
    """Score-CAM family: the target probability of the input masked by each channel kept
    (all, or the `max_n` with the largest spatial standard deviation)."""
    m, imgs = ctx.model, ctx.images
    A, unit, sign, score = _activations(ctx, report=False)
    max_n, chunk_size = ctx.options.get("max_n"), ctx.options.get("chunk_size")
    if max_n is not None:
        if int(max_n) < 1:
            raise UserError(f"max_n must be at least 1, not {max_n}")
        channels = top_std_channels(A, int(max_n))
    else:
        channels = np.tile(np.arange(A.shape[-1]), (len(imgs), 1))
    x = compute.prepared(m, imgs)
    total = compute.n_chunks(m, channels.size, chunk_size, x.shape[1:3]) + 1  # + the first pass
    _report(ctx, 1, total)
    probs = compute.masked_scores(m, x, A, channels, unit, sign, ctx.layer,
                                  chunk_size=chunk_size, progress=ctx.progress,
                                  cancel=ctx.cancel, done=1, total=total, scorer=ctx.scorer)
    raw, w = method.weights(A, channels, probs)
    return Maps(_smoothed(ctx, method, A, None, w, raw), w, unit, sign, score)


def custom(method: Method, ctx: Context) -> Maps:
    """A method that is not a channel weighting: its own compute function does it all."""
    return method.resolve_compute()(ctx)


RUNNERS = {"gradients": gradients, "activations": activations, "dense": dense,
           "masked": masked, "compute": custom}


def _smoothed(ctx: Context, method: Method, A, g, w, raw):
    """eigen_smooth (engine.attribution.smoothing) when asked for."""
    if not ctx.options.get("eigen_smooth"):
        return raw
    from ..attribution.smoothing import smoothed

    return smoothed(ctx, method.name, A, g, w, raw)


def _report(ctx: Context, done, total) -> None:
    if ctx.progress is not None:
        ctx.progress(done, total)
