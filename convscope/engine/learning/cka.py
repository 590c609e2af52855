"""Linear CKA between layers, accumulated over minibatches (memory does not grow with the
number of images).

Definitions (Kornblith et al. 2019, "Similarity of Neural Network Representations
Revisited"; Nguyen, Raghu & Kornblith 2021, "Do Wide and Deep Networks Learn the Same
Things?", eq. 2-3):
- a layer's representation of n images is X (n, p): each image's output flattened;
  the linear kernel is K = X X^T (n x n).
- the unbiased HSIC estimator (Song et al. 2012), for n >= 4, with K~ and L~ the kernels
  with their diagonals set to 0:
      HSIC_1(K, L) = 1 / (n (n - 3)) * [ tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n - 1)(n - 2))
                                          - 2 / (n - 2) * 1^T K~ L~ 1 ]
- minibatch CKA over k minibatches of images:
      CKA = (1/k sum_i HSIC_1(K_i, L_i))
            / sqrt( (1/k sum_i HSIC_1(K_i, K_i)) (1/k sum_i HSIC_1(L_i, L_i)) )
  With one minibatch holding every image it is the full-batch unbiased CKA; with several
  it is an estimate of the same quantity (each HSIC_1 is unbiased), which is what makes
  memory independent of the number of images: only three sums per layer pair are kept.
CKA is 1 for identical representations, and invariant to orthogonal transforms and
isotropic scaling of either. A representation that does not vary over the images has
HSIC_1(K, K) = 0: its CKA is undefined (NaN).
"""
from __future__ import annotations

import numpy as np

MIN_BATCH = 4  # HSIC_1 divides by n (n - 3)


def gram(x: np.ndarray) -> np.ndarray:
    """The linear kernel X X^T (float64) of a batch of representations (n, ...)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    return x @ x.T


def hsic1(k: np.ndarray, l: np.ndarray) -> float:
    """The unbiased HSIC estimator of two (n, n) kernel matrices (see the module docstring)."""
    n = k.shape[0]
    if n < MIN_BATCH:
        raise ValueError(f"the unbiased HSIC needs at least {MIN_BATCH} images, got {n}")
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    trace = float(np.sum(k * l))  # tr(K~ L~) for symmetric matrices
    sums = float(k.sum()) * float(l.sum()) / ((n - 1) * (n - 2))
    cross = 2.0 / (n - 2) * float(k.sum(axis=0) @ l.sum(axis=0))  # 1^T K~ L~ 1
    return (trace + sums - cross) / (n * (n - 3))


class MinibatchCKA:
    """Sums of HSIC_1 over minibatches for every (layer of A, layer of B) pair.

    update(a, b): a and b are lists of the batch's representations, one array (n, ...)
    per layer of A / of B, for the same n images. result(): the (len(a), len(b)) matrix.
    """

    def __init__(self, n_a: int, n_b: int):
        self.xy = np.zeros((n_a, n_b))
        self.xx = np.zeros(n_a)
        self.yy = np.zeros(n_b)
        self.batches = 0
        self.images = 0

    def update(self, a: list, b: list | None = None) -> None:
        ka = [gram(x) for x in a]
        kb = ka if b is None else [gram(y) for y in b]
        if len(ka) != len(self.xx) or len(kb) != len(self.yy):
            raise ValueError("update with as many layers as the accumulator was made for")
        self_a = [hsic1(k, k) for k in ka]
        self_b = self_a if b is None else [hsic1(k, k) for k in kb]
        self.xx += self_a
        self.yy += self_b
        for i, k in enumerate(ka):
            for j, l in enumerate(kb):
                self.xy[i, j] += hsic1(k, l)
        self.batches += 1
        self.images += len(ka[0]) if ka else 0

    def result(self) -> np.ndarray:
        """CKA (n_a, n_b); NaN where a layer's representation did not vary."""
        denom = np.sqrt(np.clip(np.outer(self.xx, self.yy), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denom > 0, self.xy / np.where(denom > 0, denom, 1.0), np.nan)
        return out


def batches(n: int, size: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of `size` covering n items; a last range shorter than MIN_BATCH
    joins the one before (HSIC_1 needs 4 images)."""
    size = max(int(size), MIN_BATCH)
    ranges = [(i, min(i + size, n)) for i in range(0, n, size)]
    if len(ranges) > 1 and ranges[-1][1] - ranges[-1][0] < MIN_BATCH:
        last = ranges.pop()
        ranges[-1] = (ranges[-1][0], last[1])
    return ranges


def layer_cka(model_a, paths_a: list, model_b, paths_b: list, images: list,
              batch_size: int = 32, progress=None, cancel=None) -> np.ndarray:
    """The CKA matrix (len(paths_a), len(paths_b)) between layers of two ConvModels (or a
    model and itself: model_b is model_a) over `images` (paths, arrays or Image; loaded one
    minibatch at a time)."""
    from .. import cancel as cancel_mod
    from .. import images as image_io

    if len(images) < MIN_BATCH:
        from ..errors import UserError

        raise UserError(f"CKA needs at least {MIN_BATCH} images (the unbiased HSIC divides "
                        f"by n (n - 3)); got {len(images)}")
    same = model_b is model_a and list(paths_b) == list(paths_a)
    acc = MinibatchCKA(len(paths_a), len(paths_b))
    spans = batches(len(images), batch_size)
    for done, (start, stop) in enumerate(spans):
        cancel_mod.check(cancel)
        chunk = image_io.as_images(list(images[start:stop]))
        _, rec_a = model_a.forward(model_a.prepare(chunk), record=list(paths_a))
        feats_a = [rec_a[p] for p in paths_a]
        if same:
            acc.update(feats_a)
        else:
            _, rec_b = model_b.forward(model_b.prepare(chunk), record=list(paths_b))
            acc.update(feats_a, [rec_b[p] for p in paths_b])
        if progress is not None:
            progress(done + 1, len(spans))
    return acc.result()
