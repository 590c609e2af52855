"""Drawing a figure with matplotlib's object API (Figure + the Agg/PDF/SVG canvases; no
pyplot, no GUI) and writing it reproducibly, with its recipe embedded.

Quality rules: text stays text (pdf.fonttype 42 = TrueType fonts embedded; SVG text as
<text>), bitmaps are drawn with interpolation "none" (vector files embed them as they are;
raster output repeats pixels), and nothing carries a date: PDF CreationDate and SVG Date are
dropped and svg.hashsalt is fixed, so the same inputs give the same bytes.

Where the recipe goes: PNG tEXt chunk "convscope-recipe", PDF document-info entry
/ConvScopeRecipe, SVG <metadata> (dc:description), TIFF ImageDescription.
"""
from __future__ import annotations

import io
import json
import threading

from ..errors import UserError
from ..thread_warnings import captured, reraise

RECIPE_KEY = "convscope-recipe"
PDF_KEY = "ConvScopeRecipe"
HASH_SALT = "convscope-figure"
_LOCK = threading.Lock()  # rcParams are process-wide: one figure at a time


def rc_params(options) -> dict:
    return {
        "font.family": [options.font], "font.size": options.font_size,
        "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "none",
        "svg.hashsalt": HASH_SALT, "svg.image_inline": True, "pdf.compression": 9,
        "axes.linewidth": 0.5, "axes.titlesize": options.font_size,
        "axes.labelsize": options.font_size, "xtick.labelsize": options.font_size,
        "ytick.labelsize": options.font_size, "legend.fontsize": options.font_size,
        "image.interpolation": "none", "savefig.facecolor": "white",
        "figure.facecolor": "white", "text.usetex": False, "mathtext.default": "regular",
    }


def check_font(family: str) -> None:
    from matplotlib import font_manager

    try:
        font_manager.findfont(font_manager.FontProperties(family=family),
                              fallback_to_default=False)
    except ValueError:
        raise UserError(f"font {family!r} is not installed; give an installed family "
                        "(e.g. 'DejaVu Sans', 'Liberation Sans', Arial)") from None


def render(data, options, fmt: str, recipe_for=None) -> tuple[bytes, dict]:
    """The figure of `data` as `fmt` bytes, and its layout info.

    recipe_for(layout_info) -> dict: the recipe to embed (None: none)."""
    import matplotlib

    check_font(options.font)
    with _LOCK, matplotlib.rc_context(rc_params(options)):
        fig, info = build(data, options)
        recipe = recipe_for(info) if recipe_for is not None else None
        return save_bytes(fig, fmt, options.dpi, recipe), info


def build(data, options):
    """A matplotlib Figure (no pyplot: nothing global keeps it alive) and its layout info."""
    from matplotlib.figure import Figure

    from . import draw_curves, draw_grids, draw_maps

    fig = Figure(dpi=options.dpi)
    kind = data.spec.kind
    if kind in ("activations", "filters"):
        info = draw_grids.draw(fig, data, options)
    elif kind == "curves":
        info = draw_curves.draw(fig, data, options)
    else:
        info = draw_maps.draw(fig, data, options)
    w, h = fig.get_size_inches()
    info["size_px"] = [int(round(w * options.dpi)), int(round(h * options.dpi))]
    return fig, info


def save_bytes(fig, fmt: str, dpi: int, recipe: dict | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    text = json.dumps(recipe, sort_keys=True, ensure_ascii=True) if recipe is not None else None
    buf = io.BytesIO()
    FigureCanvasAgg(fig)  # savefig picks the PDF / SVG / Agg canvas by format
    if fmt == "pdf":
        meta = {"Creator": "ConvScope", "CreationDate": None, "ModDate": None}
        if text:
            meta[PDF_KEY] = text
        with captured() as caught:
            fig.savefig(buf, format="pdf", dpi=dpi, metadata=meta)
        # matplotlib names our recipe key "Unknown infodict keyword"; it is meant
        reraise([w for w in caught if "Unknown infodict keyword" not in str(w.message)])
    elif fmt == "svg":
        meta = {"Creator": "ConvScope", "Date": None}
        if text:
            meta["Description"] = text
        fig.savefig(buf, format="svg", dpi=dpi, metadata=meta)
    elif fmt == "png":
        meta = {"Software": "ConvScope"}
        if text:
            meta[RECIPE_KEY] = text
        fig.savefig(buf, format="png", dpi=dpi, metadata=meta)
    elif fmt == "tiff":
        kwargs = {"compression": "tiff_deflate"}
        if text:
            kwargs["description"] = text
        fig.savefig(buf, format="tiff", dpi=dpi, pil_kwargs=kwargs)
    elif fmt == "rgba":  # the preview: raw pixels, no file format
        canvas = FigureCanvasAgg(fig)
        fig.set_dpi(dpi)
        canvas.draw()
        return bytes(canvas.buffer_rgba())
    else:
        raise UserError(f"unknown figure format {fmt!r}")
    return buf.getvalue()


def read_embedded(path: str) -> dict:
    """The recipe embedded in a figure file (PNG, PDF, SVG, TIFF), or UserError."""
    import os

    ext = os.path.splitext(path)[1].lower()
    text = None
    try:
        if ext == ".png" or ext in (".tif", ".tiff"):
            from PIL import Image

            with Image.open(path) as im:
                if ext == ".png":
                    text = im.info.get(RECIPE_KEY) or getattr(im, "text", {}).get(RECIPE_KEY)
                else:
                    text = im.tag_v2.get(270)
        elif ext == ".pdf":
            from pypdf import PdfReader

            meta = PdfReader(path).metadata or {}
            text = meta.get("/" + PDF_KEY)
        elif ext == ".svg":
            import xml.etree.ElementTree as ET

            root = ET.parse(path).getroot()
            for el in root.iter("{http://purl.org/dc/elements/1.1/}description"):
                text = el.text
        else:
            raise UserError(f"{path}: a recipe is a .json file or a figure (.png, .pdf, .svg, .tif)")
    except UserError:
        raise
    except Exception as exc:
        raise UserError(f"{path} is not a figure file ConvScope can read ({type(exc).__name__})") from None
    if not text:
        raise UserError(f"{path} carries no ConvScope recipe (was it made by `convscope figure`?)")
    try:
        return json.loads(text)
    except ValueError:
        raise UserError(f"the recipe embedded in {path} is not valid JSON") from None
