"""Two models on the same image: their maps and the signed difference, and which layers
correspond (by path) — two checkpoints of one run, a fine-tuned model and its base, ...

- diff = map_B - map_A, each map computed alone by engine.cam (ReLU + min-max per map), for
  the same class (default: A's top prediction), at the same layer (default: A's default
  CAM layer, which B must have, with the same spatial size). So a model against itself
  gives a zero map, and diff(A, B) is exactly B's map minus A's.
- counterparts: layers are matched by path; `only_a` / `only_b` list the spatial layers
  with no counterpart. For matched layers of the same output shape, `change` is the
  relative change of the activations on the image, ||act_B - act_A|| / ||act_A||.
- at the compared layer: both activations (H, W, C), each channel's mean activation over
  the spatial positions, mean_c = 1/(H W) sum_{h,w} act[h, w, c], for A and for B, and the
  per-channel change mean_B - mean_A (signed); `shared_grids` draws both layers' channels
  on ONE min-max scale (over A and B together), so a channel brighter in B's grid is more
  active in B, not merely rescaled.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UserError


def _shape(shape) -> str:
    return "x".join("?" if s is None else str(s) for s in shape)


def check_same_input(a, b, what: str = "diff") -> None:
    """UserError unless the two models take the same input (the maps must line up)."""
    if tuple(a.input_shape) != tuple(b.input_shape):
        raise UserError(f"the two models take different inputs ({a.name}: "
                        f"{_shape(a.input_shape)}, {b.name}: {_shape(b.input_shape)}); {what} "
                        "compares models with the same input, e.g. two checkpoints of one run")


def spatial_paths(m) -> list[str]:
    return [i.path for i in m.layers if i.spatial and not i.is_container
            and i.class_name != "InputLayer"]


@dataclass
class Counterparts:
    common: list
    only_a: list
    only_b: list


def counterparts(a, b) -> Counterparts:
    pa, pb = spatial_paths(a), spatial_paths(b)
    sb, sa = set(pb), set(pa)
    return Counterparts([p for p in pa if p in sb], [p for p in pa if p not in sb],
                        [p for p in pb if p not in sa])


@dataclass
class Diff:
    map_a: np.ndarray  # (h, w) in [0, 1]
    map_b: np.ndarray
    diff: np.ndarray  # map_b - map_a, in [-1, 1]
    cam_a: object  # CamResult
    cam_b: object
    layer: str
    class_index: int
    pairs: Counterparts
    change: dict = field(default_factory=dict)  # layer -> relative activation change
    acts_a: np.ndarray | None = None  # (H, W, C) at `layer`
    acts_b: np.ndarray | None = None

    @property
    def means_a(self) -> np.ndarray:
        """(C,) each channel's mean activation over the spatial positions, in A."""
        return channel_means(self.acts_a)

    @property
    def means_b(self) -> np.ndarray:
        return channel_means(self.acts_b)

    @property
    def channel_change(self) -> np.ndarray:
        """(C,) mean_B - mean_A per channel."""
        return self.means_b - self.means_a


def channel_means(act: np.ndarray) -> np.ndarray:
    a = np.asarray(act, np.float64)
    return a.reshape(-1, a.shape[-1]).mean(axis=0)


def shared_grids(acts_a: np.ndarray, acts_b: np.ndarray, per_row: int | None = None,
                 colormap: str = "viridis") -> tuple[np.ndarray, np.ndarray]:
    """Both layers' channels as grids (uint8 RGB) on one min-max scale over A and B."""
    from .. import colormaps, grid

    a = np.asarray(acts_a, np.float32)
    b = np.asarray(acts_b, np.float32)
    lo = float(min(a.min(), b.min()))
    hi = float(max(a.max(), b.max()))
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    per_row = per_row or grid.default_per_row(a.shape[-1])
    out = []
    for x in (a, b):
        tiles = np.moveaxis(np.clip((x - lo) * scale, 0, 255).astype(np.uint8), -1, 0)
        out.append(colormaps.apply_u8(grid.tile(tiles, per_row, margin=1, fill=0), colormap))
    return out[0], out[1]


def no_counterpart(layer: str, b, pairs: Counterparts) -> UserError:
    only = f"; layers of A with no counterpart in B: {', '.join(pairs.only_a)}" if pairs.only_a else ""
    return UserError(f"layer {layer!r} has no counterpart in {b.name} (no spatial layer with "
                     f"that path){only}; give a --layer both models have")


def diff_maps(a, b, image, method: str = "gradcam", layer: str | None = None,
              class_index=None) -> Diff:
    check_same_input(a, b)
    pairs = counterparts(a, b)
    layer = layer or a.default_cam_layer
    if layer is None:
        raise UserError(f"{a.name} has no spatial layer before its pooling; give --layer")
    a.layer(layer, spatial=True)
    if layer not in pairs.common:
        raise no_counterpart(layer, b, pairs)
    cls = a.class_index(class_index) if class_index is not None else None
    cam_a = a.cam(image, method=method, layer=layer, class_index=cls)
    cls = cam_a.class_index
    cam_b = b.cam(image, method=method, layer=layer, class_index=cls)
    if cam_a.heatmap.shape != cam_b.heatmap.shape:
        raise UserError(f"layer {layer!r} makes {_shape(cam_a.heatmap.shape)} maps in {a.name} "
                        f"but {_shape(cam_b.heatmap.shape)} in {b.name}; the maps cannot be "
                        "subtracted; give another --layer")
    change = {}
    acts_a = a.activations([image], layers=pairs.common)
    acts_b = b.activations([image], layers=pairs.common)
    for p in pairs.common:
        x, y = acts_a[p].astype(np.float64), acts_b[p].astype(np.float64)
        if x.shape == y.shape:
            norm = float(np.linalg.norm(x))
            change[p] = float(np.linalg.norm(y - x) / norm) if norm > 0 else float("nan")
    return Diff(map_a=cam_a.heatmap, map_b=cam_b.heatmap,
                diff=(cam_b.heatmap.astype(np.float32) - cam_a.heatmap.astype(np.float32)),
                cam_a=cam_a, cam_b=cam_b, layer=layer, class_index=int(cls), pairs=pairs,
                change=change, acts_a=_one(acts_a[layer]), acts_b=_one(acts_b[layer]))


def _one(act: np.ndarray) -> np.ndarray:
    """(H, W, C) of the one image (activations of a list come as (1, H, W, C))."""
    a = np.asarray(act)
    return a[0] if a.ndim == 4 else a
