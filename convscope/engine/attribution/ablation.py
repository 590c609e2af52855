"""Ablation-CAM (Desai & Ramaswamy 2020, eq. 3-4).

The weight of channel k is the fraction of the class score lost when the channel is
removed:
    w_k = (y_c - y_c^k) / y_c
with y_c the class score (before softmax) and y_c^k the score with feature map A_k set
to zero at the target layer; the map is Sum_k w_k A_k, then ReLU and min-max as every
CAM. (A score of exactly 0 gives weights 0.)

One forward pass records A; then only the layers above the target re-run, K times, with
one channel zeroed per batch row (engine.attribution.graphs `ablated`: the target layer's
call returns the ablated activations), in batches; cancellable between batches.
"""
from __future__ import annotations

import numpy as np

from ..cam import compute
from ..cam.weights import weighted_sum
from . import graphs


def ablation_weights(y: np.ndarray, y_k: np.ndarray) -> np.ndarray:
    """(N, K) weights (y - y_k) / y, 0 where y == 0."""
    y = np.asarray(y, np.float64)[:, None]
    ok = y != 0.0
    return np.where(ok, (y - y_k) / np.where(ok, y, 1.0), 0.0).astype(np.float32)


def ablation_cam(m, imgs, layer: str, unit, sign, score, chunk_size=None, progress=None,
                 cancel=None, scorer=None):
    """(raw maps (N, h, w), weights (N, K)) for images whose targets are resolved."""
    A, _ = compute.activations(m, imgs, layer)
    x = compute.prepared(m, imgs)
    n, k = A.shape[0], A.shape[-1]
    chunk = chunk_size or graphs.auto_chunk(x.shape[1:3], "forward")
    per_image = graphs.n_chunks(k, chunk)
    total = n * per_image
    y_k = np.empty((n, k), np.float64)
    for i in range(n):
        u, s = np.repeat(unit[i:i + 1], 1), np.repeat(sign[i:i + 1], 1)

        def run(idx, i=i, u=u, s=s):
            return graphs.ablated_scores(m, x[i:i + 1], A[i:i + 1], idx, layer,
                                         np.repeat(u, len(idx)), np.repeat(s, len(idx)),
                                         scorer=scorer)

        y_k[i] = np.concatenate(graphs.run_chunked(k, chunk, run, progress, cancel,
                                                   done=i * per_image, total=total))
    w = ablation_weights(score, y_k)
    return weighted_sum(A, w), w
