"""CamResult: one image's class activation map, and the normalisation every method shares."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..images import Image
from ..jobs import no_evidence_text  # noqa: F401  (the sentence for an empty map)

# A map whose spread is below this fraction of its magnitude is float noise on a constant.
_FLAT = 1e-6




def normalise(raw: np.ndarray) -> np.ndarray:
    """ReLU, then min-max to [0, 1] over the whole map (one image, (h, w)).

    A constant map (including all-negative, so all zero after ReLU) gives all zeros, never
    NaN; non-finite values count as 0.
    """
    r = np.maximum(np.nan_to_num(np.asarray(raw, np.float64), nan=0.0, posinf=0.0, neginf=0.0), 0.0)
    lo, hi = float(r.min()), float(r.max())
    span = hi - lo
    if not span > _FLAT * max(abs(hi), abs(lo)) or span <= 0.0:
        return np.zeros(r.shape, np.float32)
    return np.clip((r - lo) / span, 0.0, 1.0).astype(np.float32)


def normalise_signed(raw: np.ndarray) -> np.ndarray:
    """Signed maps (e.g. Integrated Gradients): divided by the largest magnitude, so in
    [-1, 1] with the sign kept; an all-zero (or non-finite) map gives zeros."""
    r = np.nan_to_num(np.asarray(raw, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(r).max()) if r.size else 0.0
    if peak <= 0.0:
        return np.zeros(r.shape, np.float32)
    return np.clip(r / peak, -1.0, 1.0).astype(np.float32)


@dataclass(frozen=True, eq=False)
class CamResult:
    """A class activation map for one image.

    heatmap: (h, w) float32 in [0, 1] at the target layer's resolution (ReLU + min-max).
    raw: (h, w) float32, the method's map before ReLU and normalisation (for CAM, the GAP
        identity holds on it: score == raw.mean() + bias).
    weights: (K,) float32 channel weights for the methods that weight channels, else None.
    score: the target score the map explains, before softmax / sigmoid (a logit; for
        class 0 of a single sigmoid unit, the negated logit). For Eigen-CAM, which has no
        class, the score of the class reported.
    kind: "cam" (a layer's map) or "pixel" (a pixel attribution, engine.attribution: the
        heatmap is at the model's input resolution, or occlusion's grid of patch positions).
    signed: the heatmap keeps its sign, scaled to [-1, 1] (Integrated Gradients,
        occlusion); otherwise it is in [0, 1].
    display: the map to draw at the model's input resolution when it is not simply the
        heatmap upsampled (occlusion: each pixel the mean over the patches covering it).
    info: method details (options used; Integrated Gradients' completeness error, ...).
    """

    heatmap: np.ndarray
    raw: np.ndarray
    method: str
    layer: str
    class_index: int
    label: str
    score: float
    image: Image
    weights: np.ndarray | None = None
    kind: str = "cam"
    signed: bool = False
    display: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    target: str = ""  # the target's spec (engine.targets), "" for a class chosen as before

    @property
    def no_evidence(self) -> bool:
        """The map is zero everywhere (after ReLU and normalisation): nothing in this image
        counts for the class at this layer. Drawn, it would be a uniform tint; say it instead
        (no_evidence_text)."""
        return not bool(np.any(self.heatmap))

    def upsampled(self) -> np.ndarray:
        """The heatmap at the overlay's size (the image's, at most OVERLAY_MAX_PIXELS),
        (H, W) float32 in [0, 1] (bilinear); in [-1, 1] for signed maps, from `display`
        when there is one (pixel attributions: at the image's own size)."""
        if self.kind == "pixel":
            from ..attribution.display import resize

            return resize(self.display if self.display is not None else self.heatmap,
                          self.image.size, signed=self.signed)
        from .overlay import overlay_size, upsample

        return upsample(self.heatmap, overlay_size(self.image.size))

    def overlay(self, alpha: float = 0.4, colormap: str = "jet") -> np.ndarray:
        """uint8 RGB at the original image's size (reduced to at most
        engine.cam.overlay.OVERLAY_MAX_PIXELS): (1 - alpha) * image + alpha * colour.

        Pixel attributions are drawn over a grey copy of the image instead, each pixel as
        opaque as its attribution is strong (engine.attribution.display); signed maps use
        a diverging colour map (coolwarm) whatever `colormap` says."""
        if self.kind == "pixel":
            from ..attribution.display import pixel_overlay

            return pixel_overlay(self.image.pixels, self.display if self.display is not None
                                 else self.heatmap, signed=self.signed, alpha=alpha,
                                 colormap=colormap)
        from .overlay import blend

        return blend(self.image.pixels, self.heatmap, alpha=alpha, colormap=colormap)

    def as_dict(self) -> dict:
        out = {"method": self.method, "layer": self.layer, "class": int(self.class_index),
               "label": self.label, "score": float(self.score),
               "heatmap_shape": [int(s) for s in self.heatmap.shape],
               "image": self.image.path or self.image.name,
               "no_evidence": self.no_evidence}
        if self.target:
            out["target"] = self.target
        if self.kind != "cam" or self.info:
            out.update({"kind": self.kind, "signed": self.signed})
            out.update({k: v for k, v in self.info.items() if isinstance(v, (int, float, str, bool))})
        return out
