"""Explaining video frames: CAMs of frame batches, temporal smoothing, overlay + caption.

No TensorFlow of its own (engine.cam, which imports it, is imported only when used): maps come from engine.cam.compute_cam (a batch of frames is a
batch of images). Used by `convscope video` (engine/cli/video.py), the window's Live view
(one frame at a time, engine/video/live.py) and its Export video.

Temporal smoothing (exponential moving average of the heatmap, per pixel of the target
layer's map): s_t = a * s_(t-1) + (1 - a) * h_t, with s_0 = h_0 and a = `smooth` in
[0, 0.9]; a = 0 is no smoothing. Each map stays in [0, 1] (a convex combination of maps in
[0, 1]).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import UserError

MAX_SMOOTH = 0.9


@dataclass(frozen=True)
class FrameMap:
    """One frame's map: heatmap (h, w) in [0, 1] and what it explains."""

    heatmap: np.ndarray
    class_index: int
    label: str
    probability: float  # the model's own output for the class (softmax / sigmoid / raw)
    method: str
    layer: str
    logits: np.ndarray | None = None  # the model's pre-activation outputs for the frame


def check_smooth(smooth: float) -> float:
    smooth = float(smooth)
    if not 0.0 <= smooth <= MAX_SMOOTH:
        raise UserError(f"--smooth must be between 0 and {MAX_SMOOTH}, not {smooth:g}")
    return smooth


def live_ok(method: str) -> bool:
    """Fast enough to run on every frame live: not a method that needs a forward pass per
    channel or sample (engine.cam.registry's `slow`); and a class activation map (pixel
    attributions are drawn over a grey image, not live)."""
    from ..cam import registry

    m = registry.get(method)
    return not m.slow and m.kind == "cam"


def live_note(method: str) -> str:
    """Why a method is not offered live, in a few words for a menu ("" when it is)."""
    from ..cam import registry

    m = registry.get(method)
    if live_ok(m.name):
        return ""
    return "pixel map, not on video" if m.kind != "cam" else "too slow live"


def check_live_method(method: str) -> str:
    """The method's canonical name if it is fast enough to run live, else UserError."""
    from ..cam import registry

    m = registry.get(method)
    if not live_ok(m.name):
        fast = ", ".join(registry.title(n) for n in registry.names() if live_ok(n))
        why = ("is a pixel attribution: it is not drawn on video" if m.kind != "cam" else
               "needs a forward pass per channel or sample: too slow to run live")
        raise UserError(f"{m.title} {why}. Use one of {fast}, or the CAM tab"
                        + ("" if m.kind != "cam" else " / `convscope video`"))
    return m.name


def explain_frames(model, frames, method: str = "gradcam", layer: str | None = None,
                   class_index=None, cancel=None, target=None) -> list[FrameMap]:
    """CAMs of a batch of frames (uint8 RGB arrays) in one call of compute_cam.

    class_index: None for each frame's top prediction, or one class for all frames.
    target: a target instead (engine.targets); `probability` is then its confidence
    (bounded where it has one, else its score) and the label names the target."""
    from ..cam import compute_cam
    from ..cam import compute, targets
    from ..images import from_array

    imgs = [from_array(f, name=f"frame{i}") for i, f in enumerate(frames)]
    results = compute_cam(model, imgs, method=method, layer=layer, class_index=class_index,
                          cancel=cancel, target=target)
    if target is not None:
        from .. import targets as target_mod

        bound = target_mod.bind(model, target, imgs[:1])
        probs, _ = bound.confidence(model, compute.prepared(model, imgs))
        return [FrameMap(r.heatmap, int(r.class_index), r.target or str(r.label), float(p),
                         r.method, r.layer, None) for r, p in zip(results, probs)]
    # The model's own output for the class: from the logits the CAM pass left in the
    # per-model cache (no second forward pass; a cache miss recomputes them).
    if results[0].layer is not None:
        _, logits = compute.activations(model, imgs, results[0].layer)
    else:  # a pixel attribution (saliency, IG, ...) uses no layer: the logits alone
        logits, _ = model.forward(compute.prepared(model, imgs), logits=True)
    unit, sign, _ = targets.resolve(model, [r.class_index for r in results], len(results))
    probs = targets.probability_np(logits, unit, sign, model.head.activation)
    return [FrameMap(r.heatmap, int(r.class_index), str(r.label), float(p), r.method, r.layer,
                     logits[i]) for i, (r, p) in enumerate(zip(results, probs))]


def top_predictions(model, logits: np.ndarray, top: int = 5):
    """Top predictions (engine.model.Prediction) from one row of pre-activation logits."""
    from ..model import Prediction

    z = np.asarray(logits, np.float64)
    act = model.head.activation
    if act == "softmax":
        e = np.exp(z - z.max())
        out = e / e.sum()
    elif act == "sigmoid":
        out = 1.0 / (1.0 + np.exp(-z))
    else:
        out = z
    if model.head.binary_sigmoid:
        pairs = [(1, float(out[0])), (0, 1.0 - float(out[0]))]
    else:
        pairs = [(int(i), float(s)) for i, s in enumerate(out)]
    pairs.sort(key=lambda p: -p[1])
    return tuple(Prediction(i, model.label(i), s) for i, s in pairs[:max(1, top)])


class Smoother:
    """Exponential moving average of heatmaps (see the module docstring)."""

    def __init__(self, smooth: float = 0.0):
        self.smooth = check_smooth(smooth)
        self.state: np.ndarray | None = None

    def reset(self) -> None:
        self.state = None

    def __call__(self, heatmap: np.ndarray) -> np.ndarray:
        h = np.asarray(heatmap, np.float32)
        if self.state is None or self.state.shape != h.shape or self.smooth == 0.0:
            self.state = h.copy()
        else:
            self.state = (self.smooth * self.state + (1.0 - self.smooth) * h).astype(np.float32)
        return self.state


# -- pictures ------------------------------------------------------------------------------
def caption_text(label: str, probability: float) -> str:
    return f"{label} {100 * probability:.0f}%" if 0.0 <= probability <= 1.0 else \
        f"{label} {probability:.3g}"


def caption_box(height: int, width: int, text: str) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1), exclusive, of the caption drawn at the bottom left."""
    scale, thick = _font(height)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, height // 80)
    x1 = min(width, tw + 2 * pad)
    y0 = max(0, height - (th + base + 2 * pad))
    return 0, y0, x1, height


def draw_caption(rgb: np.ndarray, text: str) -> np.ndarray:
    """A copy of rgb with `text` in white on a dark box at the bottom left."""
    out = np.array(rgb, np.uint8, copy=True)
    h, w = out.shape[:2]
    x0, y0, x1, y1 = caption_box(h, w, text)
    box = out[y0:y1, x0:x1].astype(np.float32)
    out[y0:y1, x0:x1] = np.rint(box * 0.35).astype(np.uint8)  # darken, keep a hint of the image
    scale, thick = _font(h)
    pad = max(2, h // 80)
    (_, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    cv2.putText(out, text, (x0 + pad, y1 - pad - base), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (255, 255, 255), thick, cv2.LINE_AA)
    return out


def _font(height: int) -> tuple[float, int]:
    scale = max(0.3, height / 400.0)
    return scale, max(1, int(round(scale * 1.5)))


def render(frame: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4, colormap: str = "jet",
           caption: str | None = None, side_by_side: bool = False) -> np.ndarray:
    """The overlay of one frame (engine.cam.overlay.blend, as `cam` draws it), with the
    caption; side by side: the frame on the left, the overlay on the right."""
    from ..cam.overlay import blend  # (engine.cam imports TensorFlow: only when drawing)

    out = blend(frame, heatmap, alpha=alpha, colormap=colormap)
    if caption:
        out = draw_caption(out, caption)
    if side_by_side:
        out = np.concatenate([np.asarray(frame, np.uint8)[..., :3], out], axis=1)
    return out
