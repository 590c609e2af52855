"""What a figure shows (FigureSpec: what to compute) and how it looks (FigureOptions).

Both are frozen, JSON-round-trippable dataclasses: together they are the heart of a
figure's recipe (engine.figures.recipe), so the same two objects remake the figure.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ..errors import UserError

KINDS = ("cam", "methods", "layers", "classes", "activations", "filters", "curves")
FORMATS = {".pdf": "pdf", ".svg": "svg", ".png": "png", ".tif": "tiff", ".tiff": "tiff"}
WIDTHS_MM = {"single": 89.0, "double": 183.0}  # journal column widths (Nature, Science, Cell)
MIN_WIDTH_MM, MAX_WIDTH_MM = 30.0, 600.0
MIN_DPI, MAX_DPI = 50, 1200
CAM_KINDS = ("cam", "methods", "layers", "classes", "curves")


@dataclass(frozen=True)
class FigureSpec:
    """What to compute. Empty tuples / None mean the model's defaults.

    images: the images' paths (or names, for images that exist only in memory).
    methods: CAM method names (engine.cam); one for cam/layers/classes, several for
        methods/curves. layers: the target layer(s); () = the model's default CAM layer.
    classes: class indices or labels; () = each image's top prediction.
    top_classes: classes kind: the image's K top predictions (when `classes` is empty).
    top: activations kind: keep the N channels with the largest mean activation.
    filters: filters kind: the filter indices (() = the first 16).
    """

    kind: str = "cam"
    images: tuple = ()
    methods: tuple = ("gradcam",)
    layers: tuple = ()
    classes: tuple = ()
    top_classes: int | None = None
    top: int | None = None
    filters: tuple = ()
    filter_mode: str = "regularized"  # engine.filter_spec.DEFAULT_MODE (a test checks they agree)
    filter_steps: int | None = None
    filter_size: int = 64
    seed: int = 0
    max_n: int | None = None
    curve_steps: int = 50
    target: str = ""  # what the maps explain instead of a class (engine.targets spec)

    def as_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "FigureSpec":
        return cls(**_known(cls, d, tuple_fields=("images", "methods", "layers", "classes", "filters")))

    def check(self) -> None:
        if self.kind not in KINDS:
            raise UserError(f"unknown figure kind {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not self.images and self.kind != "filters":
            raise UserError(f"a {self.kind} figure needs at least one --image")
        one_image = ("cam", "layers", "classes", "activations", "curves")
        if self.kind in one_image and len(self.images) > 1:
            raise UserError(f"a {self.kind} figure shows one image; give one --image "
                            "(the methods figure takes several)")
        if self.kind in ("cam", "layers", "classes") and len(self.methods) != 1:
            raise UserError(f"a {self.kind} figure shows one method; give one --method")
        if self.kind in CAM_KINDS and not self.methods:
            raise UserError(f"a {self.kind} figure needs at least one method")
        if self.kind in ("activations", "filters") and len(self.layers) != 1:
            raise UserError(f"a {self.kind} figure needs one --layer")
        if self.kind == "layers" and len(self.layers) < 1:
            raise UserError("a layers figure needs --layers L1,L2,...")
        if self.kind in ("cam", "methods", "curves") and len(self.layers) > 1:
            raise UserError(f"a {self.kind} figure uses one layer; --layers is for the layers figure")
        if self.kind == "methods" and len(self.classes) not in (0, 1, len(self.images)):
            raise UserError("give one class for all images, or one per image")
        if self.target and (self.classes or self.top_classes):
            raise UserError("give --class(es) or --target, not both")
        if self.target and self.kind not in CAM_KINDS:
            raise UserError(f"--target: a {self.kind} figure draws no maps")
        if self.kind not in ("classes", "methods") and len(self.classes) > 1:
            raise UserError("several classes: use --kind classes")
        for name, value, low in (("top", self.top, 1), ("top_classes", self.top_classes, 1),
                                 ("max_n", self.max_n, 1), ("curve_steps", self.curve_steps, 2)):
            if value is not None and value < low:
                raise UserError(f"--{name.replace('_', '-')} must be at least {low}, not {value}")


@dataclass(frozen=True)
class FigureOptions:
    """How the figure looks; nothing here changes a computed number.

    width: "single" (89 mm), "double" (183 mm) or millimetres; the height follows the
    layout. dpi: raster output, and the resolution cap of bitmaps inside vector files.
    colormap: None = jet for maps (the seeds'), viridis for activations.
    heatmap: the cam figure also shows the heatmap alone. normalise: activations
    ("channel": the seeds' standardise x64 +128 per channel; "layer": one min-max).
    """

    width: str = "double"
    dpi: int = 300
    font: str = "DejaVu Sans"
    font_size: float = 7.0
    colormap: str | None = None
    alpha: float = 0.4
    title: str = ""
    panel_labels: bool = False
    colorbar: bool = True
    heatmap: bool = True
    normalise: str = "channel"
    per_row: int | None = None

    def as_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, d: dict) -> "FigureOptions":
        return cls(**_known(cls, d))

    def width_mm(self) -> float:
        return parse_width(self.width)

    def cmap(self, kind: str) -> str:
        return self.colormap or ("viridis" if kind == "activations" else "jet")

    def check(self) -> None:
        parse_width(self.width)
        if not MIN_DPI <= int(self.dpi) <= MAX_DPI:
            raise UserError(f"--dpi must be between {MIN_DPI} and {MAX_DPI}, not {self.dpi}")
        if not 3 <= float(self.font_size) <= 30:
            raise UserError(f"--font-size must be between 3 and 30 pt, not {self.font_size}")
        if not 0.0 <= float(self.alpha) <= 1.0:
            raise UserError(f"--alpha must be between 0 and 1, not {self.alpha}")
        if self.normalise not in ("channel", "layer"):
            raise UserError(f"normalise must be channel or layer, not {self.normalise!r}")
        if self.per_row is not None and self.per_row < 1:
            raise UserError("--per-row must be at least 1")
        if self.colormap is not None:
            from ..colormaps import lut

            lut(self.colormap)  # UserError naming the choices


def parse_width(width) -> float:
    """'single' -> 89, 'double' -> 183, '120' / 120 -> 120 (millimetres)."""
    text = str(width).strip().lower().removesuffix("mm").strip()
    if text in WIDTHS_MM:
        return WIDTHS_MM[text]
    try:
        mm = float(text)
    except ValueError:
        raise UserError(f"--width {width!r}: give single (89 mm), double (183 mm) or a "
                        "number of millimetres") from None
    if not MIN_WIDTH_MM <= mm <= MAX_WIDTH_MM:
        raise UserError(f"--width must be between {MIN_WIDTH_MM:.0f} and {MAX_WIDTH_MM:.0f} mm, not {mm:g}")
    return mm


def format_of(path: str) -> str:
    """pdf / svg / png / tiff from the file name's extension, else UserError."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in FORMATS:
        raise UserError(f"cannot write {path}: a figure is .pdf, .svg, .png or .tif")
    return FORMATS[ext]


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _known(cls, d: dict, tuple_fields: tuple = ()) -> dict:
    if not isinstance(d, dict):
        raise UserError("the recipe's figure section is not a JSON object")
    names = {f.name for f in dataclasses.fields(cls)}
    out = {k: v for k, v in d.items() if k in names}
    for k in tuple_fields:
        if k in out:
            out[k] = tuple(out[k] or ())
    return out

