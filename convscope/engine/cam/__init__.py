"""Class activation maps (design §5): CAM, Grad-CAM, Grad-CAM++, Score-CAM, Faster
Score-CAM, LayerCAM, HiResCAM, XGrad-CAM, Eigen-CAM; overlays; faithfulness curves.

    from convscope.engine.cam import compute_cam, METHODS
    cam = compute_cam(model, image, method="gradcam++")     # or model.cam(...)
    cam.heatmap, cam.overlay(alpha=0.4, colormap="jet")

Modules: `registry` (the one table of methods: names, titles, what each needs; light, no
TensorFlow), `weights` (the formulas, numpy), `runners` (the passes each kind of method
needs), `targets` (which score, which probability), `compute` (compiled TensorFlow
computations and caches), `head` (GAP + Dense detection for CAM), `overlay`,
`faithfulness` (deletion / insertion AUC), `result` (CamResult).

The names below are loaded on first use, so `import convscope.engine.cam.registry` does not import
Keras (the GUI reads method titles from it).
"""
_LAZY = {"compute_cam": ".api", "METHODS": ".api", "method_name": ".api",
         "CamResult": ".result", "normalise": ".result"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["compute_cam", "METHODS", "CamResult", "method_name", "normalise"]
