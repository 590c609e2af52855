"""Method names and titles as the engine lists them (no list of methods is kept here).

Figures ask the engine which CAM methods exist (engine.cam) and how a method's name is
written for a reader; a method added to the engine appears in figures without a change
here. A method without a title of its own is shown by its name.
"""
from __future__ import annotations

# How the published papers write the names (a title, not a list of what exists).
_TITLES = {"cam": "CAM", "gradcam": "Grad-CAM", "gradcam++": "Grad-CAM++",
           "scorecam": "Score-CAM", "faster-scorecam": "Faster Score-CAM",
           "layercam": "LayerCAM", "hirescam": "HiResCAM", "xgradcam": "XGrad-CAM",
           "eigencam": "Eigen-CAM"}


def methods() -> tuple[str, ...]:
    """Every method the engine computes, in the engine's order."""
    from .. import cam

    registry = getattr(cam, "REGISTRY", None)
    if registry is not None:
        return tuple(registry)
    return tuple(cam.METHODS)


def canonical(method: str) -> str:
    """The engine's name for `method` (any spelling), or UserError listing them."""
    from ..cam import method_name

    return method_name(method)


def title(method: str) -> str:
    """The name a reader knows (Grad-CAM++), from the engine's registry when it has one."""
    from .. import cam

    entry = (getattr(cam, "REGISTRY", None) or {}).get(method)
    text = getattr(entry, "title", None)
    return text or _TITLES.get(method, method)
