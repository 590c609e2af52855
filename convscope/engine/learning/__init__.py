"""Watching a network learn: record what it sees during `fit`, read the run back, compare
two models map by map and layer by layer.

    from convscope.engine import Recorder                       # a keras.callbacks.Callback
    model.fit(x, y, epochs=5, callbacks=[Recorder("runs/exp1", images=probes)])
    from convscope.engine.learning import open_run, cka
    run = open_run("runs/exp1"); run.epochs; run.arrays(3)["map|gradcam|conv5"]

Modules: `recorder` (the callback), `store` (the run folder: run.json, scalars.parquet,
epochs/epoch_NNN.npz, checkpoints/epoch_NNN.keras; atomic, resumable), `stats` (per-layer
activation statistics), `tensorboard` (optional tf.summary output), `cka` (linear CKA with
the unbiased HSIC estimator, accumulated over minibatches), `compare` (two models on the
same image: maps and their difference, per-channel means, layer counterparts), `jobs` (the
window's engine jobs: "Compare with model…", the CKA heatmap, a checkpoint folder's epochs
computed on demand).
Entry points: `Recorder`, `open_run`, `cka.layer_cka`, `compare.diff_maps`.
"""
from __future__ import annotations

from .store import Run, open_run


def __getattr__(name):
    if name == "Recorder":  # imports Keras: only when asked for
        from .recorder import Recorder

        return Recorder
    raise AttributeError(name)


__all__ = ["Recorder", "Run", "open_run"]
