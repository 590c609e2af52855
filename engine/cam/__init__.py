"""Class activation maps (design §5): CAM, Grad-CAM, Grad-CAM++, Score-CAM, Faster
Score-CAM, LayerCAM, HiResCAM, XGrad-CAM, Eigen-CAM; overlays; faithfulness curves.

    from engine.cam import compute_cam, METHODS
    cam = compute_cam(model, image, method="gradcam++")     # or model.cam(...)
    cam.heatmap, cam.overlay(alpha=0.4, colormap="jet")

Modules: `weights` (the formulas, numpy), `targets` (which score, which probability),
`compute` (compiled TensorFlow computations and caches), `head` (GAP + Dense detection
for CAM), `overlay`, `faithfulness` (deletion / insertion AUC), `result` (CamResult).
"""
from .api import METHODS, compute_cam, method_name
from .result import CamResult, normalise

__all__ = ["compute_cam", "METHODS", "CamResult", "method_name", "normalise"]
