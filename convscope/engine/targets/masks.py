"""A segmentation output's predicted mask for people: its picture (each pixel blended with
its class's colour), the classes present with their share and bounding box -- a `region:`
spec ready to explain -- and a figure with a class legend (matplotlib). No Qt; used by
`convscope predict` on a segmentation model and by the window's CAM view (mask).

    mask_picture(pixels, classes, alpha) -> uint8 (H, W, 3), PALETTE[c] for class c
    class_regions(pm) -> [ClassRegion(index, name, pixels, fraction, box, spec), ...]
    save_mask_figure(out, path, pixels, pm, regions)  (a claimed engine.outputs path)
    box_to_input(box, image_hw, input_hw) / box_to_image(...): a box between the image's
        own pixels and the model input's (what region: takes)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Class colours of the mask (tab10, then repeated): class c gets PALETTE[c % len(PALETTE)].
PALETTE = np.array([(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
                    (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
                    (188, 189, 34), (23, 190, 207)], np.uint8)


def mask_picture(pixels: np.ndarray, classes: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """The predicted mask over the image: each pixel blended with its class's colour."""
    colour = PALETTE[classes % len(PALETTE)].astype(np.float32)
    out = (1.0 - alpha) * pixels[..., :3].astype(np.float32) + alpha * colour
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class ClassRegion:
    index: int
    name: str
    pixels: int  # of the image
    fraction: float
    box: tuple  # (x0, y0, x1, y1) in model-input pixels, x1 / y1 exclusive
    spec: str  # region:x0,y0,x1,y1:C -- the target explaining this class over its box

    def as_dict(self) -> dict:
        return {"index": self.index, "label": self.name, "pixels": self.pixels,
                "fraction": self.fraction, "box": list(self.box), "target": self.spec}


def class_regions(pm) -> list[ClassRegion]:
    """The classes of a PredictedMask present in the image, most pixels first, each with the
    bounding box of its pixels (converted to model-input pixels, rounded outwards)."""
    classes = pm.classes
    H, W = classes.shape
    total = H * W
    out = []
    for c in np.unique(classes):
        ys, xs = np.nonzero(classes == c)
        box = box_to_input((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                           (H, W), pm.input_hw)
        name = pm.names[c] if c < len(pm.names) else f"class {c}"
        out.append(ClassRegion(int(c), str(name), int(len(ys)), len(ys) / total, box,
                               f"region:{','.join(map(str, box))}:{int(c)}"))
    return sorted(out, key=lambda r: -r.pixels)


def save_mask_figure(out, path: str, pixels: np.ndarray, pm, regions) -> None:
    """The mask over the image with a legend (name, share, region spec) into a claimed
    engine.outputs path (PNG, PDF or SVG by its suffix)."""
    import os

    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    fig = Figure(figsize=(6.4, 4.8), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(mask_picture(pixels, pm.classes))
    ax.set_axis_off()
    ax.set_title(f"predicted mask of {pm.output!r}")
    handles = [Patch(color=PALETTE[r.index % len(PALETTE)] / 255.0,
                     label=f"{r.name}  {100 * r.fraction:.1f}%  {r.spec}") for r in regions]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, frameon=False)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    out.write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=150,
                                            metadata={"Software": None} if fmt == "png" else None))


def box_to_input(box: tuple, image_hw: tuple, input_hw: tuple) -> tuple:
    """A box (x0, y0, x1, y1) in the image's own pixels -> model-input pixels, what
    `region:` takes: the image is stretched to the input (engine.images.fit), so each axis
    scales by input / image; rounded outwards and clipped to the input."""
    (H0, W0), (h, w) = image_hw, input_hw
    x0, y0, x1, y1 = box
    sx, sy = w / W0, h / H0
    return (max(0, int(np.floor(x0 * sx))), max(0, int(np.floor(y0 * sy))),
            min(int(w), int(np.ceil(x1 * sx))), min(int(h), int(np.ceil(y1 * sy))))


def box_to_image(box: tuple, image_hw: tuple, input_hw: tuple) -> tuple:
    """The inverse: a region: box (input pixels) on the image, in (fractional) pixels."""
    (H0, W0), (h, w) = image_hw, input_hw
    x0, y0, x1, y1 = box
    sx, sy = W0 / w, H0 / h
    return (x0 * sx, y0 * sy, x1 * sx, y1 * sy)
