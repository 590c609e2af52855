"""The registry entries of the pixel attributions and Ablation-CAM: one each.

Keras-free (engine.cam.registry loads it by name, from ENTRY_MODULES): the compute functions
are named as "module:function" strings, imported only when a method runs.
"""
from __future__ import annotations

from ..cam.registry import Method, register

_RUN = "convscope.engine.attribution.methods:"

register(Method(
    "ablation-cam", "Ablation-CAM", "Ablation-CAM: weight of a feature map = the fraction of "
    "the score lost when it is zeroed (one head pass per channel)", needs="compute",
    compute=_RUN + "ablation", options={"chunk_size": None}, slow=True))
register(Method(
    "saliency", "Saliency", "Saliency: |gradient of the class score| per pixel (one backward "
    "pass)", needs="compute", compute=_RUN + "saliency", kind="pixel", layer="none"))
register(Method(
    "smoothgrad", "SmoothGrad", "SmoothGrad: saliency averaged over noisy copies of the image "
    "(less noise)", needs="compute", compute=_RUN + "smoothgrad", kind="pixel", layer="none",
    options={"samples": 50, "sigma": 0.15, "seed": 0, "chunk_size": None}, slow=True))
register(Method(
    "integrated-gradients", "Integrated Gradients", "Integrated Gradients: gradients along the "
    "path from a baseline; the attributions add up to the score difference (red for, blue "
    "against)", needs="compute", compute=_RUN + "integrated_gradients", kind="pixel",
    signed=True, layer="none", aliases=("ig",),
    options={"steps": 64, "baseline": "black", "seed": 0, "chunk_size": None}, slow=True))
register(Method(
    "guided-backprop", "Guided Backprop", "Guided Backprop: only positive signals passed back "
    "through the ReLUs (sharp edges; not class-discriminative)", needs="compute",
    compute=_RUN + "guided_backprop", kind="pixel", layer="none"))
register(Method(
    "guided-gradcam", "Guided Grad-CAM", "Guided Grad-CAM: guided backprop × the upsampled "
    "Grad-CAM of the layer", needs="compute", compute=_RUN + "guided_gradcam", kind="pixel"))
register(Method(
    "occlusion", "Occlusion", "Occlusion: score drop when a grey square hides each part of the "
    "image (red: hiding it lowers the score; one forward pass per position)", needs="compute",
    compute=_RUN + "occlusion", kind="pixel", signed=True, layer="none",
    options={"patch": None, "stride": None, "fill": 128.0, "chunk_size": None}, slow=True))
register(Method(
    "rise", "RISE", "RISE: random masks weighted by the class probability they leave (one "
    "forward pass per mask)", needs="compute", compute=_RUN + "rise", kind="pixel",
    layer="none", options={"masks": 1000, "seed": 0, "chunk_size": None}, slow=True))
