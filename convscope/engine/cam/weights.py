"""The formulas: from a layer's activations (and gradients) to a raw, un-normalised map.

Pure numpy, vectorised over the batch. Shapes: activations `A` and gradients `g` are
(N, h, w, K), with `g = d score / d A` where `score` is the target class's score *before*
softmax / sigmoid (engine.cam.targets). Every function returns the raw map (N, h, w),
before ReLU and min-max normalisation (engine.cam.result.normalise does those), and, for
the methods that weight channels, the channel weights (N, K).

Notation as in the papers: k a channel, (i, j) / (a, b) spatial positions, S the score.
"""
from __future__ import annotations

import numpy as np

_TINY = np.finfo(np.float32).tiny


def weighted_sum(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Sum_k w[n, k] * A[n, :, :, k] -> (N, h, w)."""
    return np.einsum("nhwk,nk->nhw", A, w, optimize=False).astype(np.float32)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, and 0 where den is 0 (or so small the quotient means nothing)."""
    ok = np.abs(den) > _TINY
    return np.where(ok, num / np.where(ok, den, 1.0), 0.0)


def cam(A: np.ndarray, dense_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CAM (Zhou et al. 2016): M = Sum_k W[k, c] A_k, with W the Dense kernel after GAP.

    `dense_w` (N, K) is the kernel column of each image's class (negated for class 0 of a
    single sigmoid unit). Then logit_c = mean_ij M_ij + bias_c exactly (the GAP identity).
    """
    w = dense_w.astype(np.float32)
    return weighted_sum(A, w), w


def gradcam(A: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM (Selvaraju et al. 2017): w_k = mean_ij g_kij; M = Sum_k w_k A_k."""
    w = g.mean(axis=(1, 2), dtype=np.float64).astype(np.float32)
    return weighted_sum(A, w), w


def gradcam_pp(A: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grad-CAM++, the paper's definition (Chattopadhay et al. 2018, eq. 19 with Y = exp(S)).

    The paper explains Y_c = exp(S_c), S_c the pre-softmax score. Because the network is
    piecewise linear in A near the input (ReLU), higher derivatives of S vanish and the
    derivatives of Y are exact in closed form:
        dY/dA = exp(S) g,  d2Y/dA2 = exp(S) g^2,  d3Y/dA3 = exp(S) g^3,
    so exp(S) cancels from the alphas:
        alpha_kij = g_kij^2 / (2 g_kij^2 + (Sum_ab A_kab) g_kij^3)     (0 where g = 0)
        w_k       = Sum_ij alpha_kij * relu(exp(S) g_kij)
    and we drop the remaining exp(S) factor: it is one positive number per image, so it
    changes the raw map's scale only, never the normalised heatmap, while exp(S) itself
    overflows float32 for S > 88 (tf-keras-vis keeps it, and also re-normalises the alphas
    over all positions, which the paper does not; pytorch-grad-cam matches this variant).
    Only first-order gradients of S are needed, hence one backward pass.
    """
    g64 = g.astype(np.float64)
    g2 = g64 * g64
    g3 = g2 * g64
    sum_a = A.sum(axis=(1, 2), keepdims=True, dtype=np.float64)
    alpha = np.where(g64 != 0.0, _safe_div(g2, 2.0 * g2 + sum_a * g3), 0.0)
    w = (alpha * np.maximum(g64, 0.0)).sum(axis=(1, 2)).astype(np.float32)
    return weighted_sum(A, w), w


def layercam(A: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, None]:
    """LayerCAM (Jiang et al. 2021): M = Sum_k relu(g_k) * A_k, position by position."""
    return np.einsum("nhwk,nhwk->nhw", np.maximum(g, 0.0), A, optimize=False).astype(np.float32), None


def hirescam(A: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, None]:
    """HiResCAM (Draelos & Carin 2020): M = Sum_k g_k * A_k, position by position.

    On a GAP + Dense head it equals CAM / (h w); mean_ij M = S - bias there.
    """
    return np.einsum("nhwk,nhwk->nhw", g, A, optimize=False).astype(np.float32), None


def xgradcam(A: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """XGrad-CAM (Fu et al. 2020): w_k = Sum_ij (A_kij / Sum_ab A_kab) g_kij (0 if Sum A = 0)."""
    A64 = A.astype(np.float64)
    sum_a = A64.sum(axis=(1, 2))
    w = _safe_div((A64 * g).sum(axis=(1, 2)), sum_a).astype(np.float32)
    return weighted_sum(A, w), w


def eigencam(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigen-CAM (Muhammad & Yeasin 2020): A (hw x K) projected on its first right singular
    vector v1 (no centring, as the paper). Class-independent.

    Computed from the smaller Gram matrix (A^T A, K x K, or A A^T, hw x hw) with one
    batched symmetric eigensolve: A v1 = sigma1 u1, so either side gives the projection.
    The sign of a singular vector is arbitrary; we choose the one whose projection has a
    positive sum, i.e. the map that agrees with the bulk of the activation (for ReLU maps
    v1 is non-negative anyway). The weights returned are v1 (N, K).
    """
    import tensorflow as tf  # its eigensolver: numpy's threaded OpenBLAS thrashes on busy CPUs

    n, h, w_, k = A.shape
    flat = tf.constant(A.reshape(n, h * w_, k), tf.float64)
    if k <= h * w_:
        _, vecs = tf.linalg.eigh(tf.matmul(flat, flat, transpose_a=True))  # A^T A, (N, K, K)
        v = vecs[:, :, -1]  # the eigenvector of the largest eigenvalue
        proj = tf.linalg.matvec(flat, v)
    else:
        vals, vecs = tf.linalg.eigh(tf.matmul(flat, flat, transpose_b=True))  # A A^T
        sigma = tf.sqrt(tf.maximum(vals[:, -1:], 0.0))
        proj = vecs[:, :, -1] * sigma
        v = tf.linalg.matvec(flat, vecs[:, :, -1], transpose_a=True) / tf.where(sigma > 0, sigma, 1.0)
    proj, v = proj.numpy(), v.numpy()
    flip = np.where(proj.sum(axis=1) < 0, -1.0, 1.0)[:, None]
    empty = ~A.reshape(n, -1).any(axis=1)
    proj[empty], v[empty] = 0.0, 0.0
    return (proj * flip).reshape(n, h, w_).astype(np.float32), (v * flip).astype(np.float32)


def top_std_channels(A: np.ndarray, max_n: int) -> np.ndarray:
    """Faster Score-CAM's choice: per image, the `max_n` channels with the largest spatial
    standard deviation (N, max_n) int, ordered by channel index (ties: lower index first)."""
    k = A.shape[-1]
    max_n = int(min(max_n, k))
    std = A.reshape(A.shape[0], -1, k).std(axis=1, dtype=np.float64)
    order = np.argsort(-std, axis=1, kind="stable")[:, :max_n]
    return np.sort(order, axis=1)


def scorecam(A: np.ndarray, channels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score-CAM (Wang et al. 2020): M = Sum_k s_k A_k over the evaluated channels.

    `channels` (N, n) are the channel indices evaluated per image, `scores` (N, n) the
    target score of the input masked by each channel (engine.cam.targets.probability).
    The weights returned are (N, K), zero for channels not evaluated.
    """
    n, _, _, k = A.shape
    w = np.zeros((n, k), np.float32)
    np.put_along_axis(w, channels, scores.astype(np.float32), axis=1)
    return weighted_sum(A, w), w
