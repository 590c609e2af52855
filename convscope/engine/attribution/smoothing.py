"""CAM smoothing options, as pytorch-grad-cam offers them, for every CAM method.

eigen_smooth: the map is the first principal component of the *weighted* activations
  instead of their sum. For a method whose map is Sum_k W_k (W (h, w, K): w_k A_k for
  channel-weight methods, relu(g) A for LayerCAM, g A for HiResCAM), reshape W to
  (hw, K), centre each channel over the positions (a principal component is one of
  centred data, as pytorch-grad-cam's get_2d_projection), take the first right singular
  vector v1 and project: map = (W - mean) v1. A singular vector's sign is arbitrary; we
  choose the one whose map correlates positively with the plain sum map (the method's
  own answer), which pytorch-grad-cam leaves to chance.

aug_smooth: test-time augmentation (pytorch-grad-cam's): the image horizontally flipped
  or not, times zoom 1.0 or 1.1 (the centre of the image scaled by 1.1) — 4 copies, one
  batch; each copy's heatmap (ReLU + min-max) is mapped back to the original geometry at
  the layer's resolution (flip back; zoom out about the centre by 1 / 1.1, bilinear, edges
  repeated) and the 4 are averaged, then min-max normalised again. The class is the one
  of the original image (top prediction unless given), for every copy.
"""
from __future__ import annotations

import cv2
import numpy as np

ZOOMS = (1.0, 1.1)


def weighted_activations(method: str, A: np.ndarray, g, wts) -> np.ndarray | None:
    """W (N, h, w, K) whose channel sum is the method's raw map; None if it has none."""
    if method in ("layercam",):
        return A * np.maximum(g, 0.0)
    if method in ("hirescam",):
        return A * g
    if wts is not None and wts.ndim == 2:
        return A * wts[:, None, None, :]
    return None


def smoothed(ctx, method: str, A: np.ndarray, g, wts, raw):
    """raw, or its eigen_smooth version when ctx.options asks for it (engine.cam.runners)."""
    if not ctx.options.get("eigen_smooth"):
        return raw
    W = weighted_activations(method, A, g, wts)
    return raw if W is None else eigen_project(W)  # Eigen-CAM is that projection already


def eigen_project(W: np.ndarray) -> np.ndarray:
    """(N, h, w, K) -> (N, h, w): projection of the centred W on its first right singular
    vector, signed to agree with the plain channel sum."""
    n, h, w, k = W.shape
    out = np.zeros((n, h, w), np.float32)
    for i in range(n):
        flat = W[i].reshape(h * w, k).astype(np.float64)
        centred = flat - flat.mean(axis=0, keepdims=True)
        if not np.any(centred):
            continue
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        proj = centred @ vt[0]
        plain = flat.sum(axis=1)
        if np.dot(proj - proj.mean(), plain - plain.mean()) < 0:
            proj = -proj
        out[i] = proj.reshape(h, w)
    return out


def augment(pixels: np.ndarray, flip: bool, zoom: float) -> np.ndarray:
    """One augmented copy of a (H, W, C) pixel image: zoom about the centre, then flip."""
    h, w = pixels.shape[:2]
    out = pixels
    if zoom != 1.0:
        mat = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), 0.0, zoom)
        out = cv2.warpAffine(out, mat, (w, h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT).reshape(pixels.shape)
    if flip:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def deaugment(heat: np.ndarray, flip: bool, zoom: float) -> np.ndarray:
    """Map a heatmap of an augmented copy back to the original geometry (same size)."""
    out = heat[:, ::-1] if flip else heat
    if zoom != 1.0:
        h, w = out.shape
        mat = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), 0.0, 1.0 / zoom)
        out = cv2.warpAffine(np.ascontiguousarray(out, np.float32), mat, (w, h),
                             flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(out, np.float32)


def augmentations():
    return [(flip, zoom) for zoom in ZOOMS for flip in (False, True)]


def aug_smooth_cam(compute, image, first, **kwargs):
    """aug_smooth for one image: `first` is the plain CamResult of `image` (flip False,
    zoom 1); compute(images, class_index=...) returns CamResults for a list of images.
    Returns (averaged heatmap (h, w) in [0, 1], the per-copy heatmaps)."""
    from ..cam.result import normalise
    from ..images import from_array

    rest = [a for a in augmentations() if a != (False, 1.0)]
    copies = [from_array(augment(image.pixels, flip, zoom), name=f"{image.name} (augmented)")
              for flip, zoom in rest]
    results = compute(copies, class_index=[first.class_index] * len(copies), **kwargs)
    maps = [first.heatmap] + [deaugment(r.heatmap, flip, zoom)
                              for r, (flip, zoom) in zip(results, rest)]
    return normalise(np.mean(maps, axis=0)), maps
