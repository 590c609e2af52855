"""Figures for papers (no Qt, no pyplot): every view as a vector or raster figure with
labels, a colour bar and a caption, carrying the recipe that makes it again.

    from convscope.engine import open_model
    from convscope.engine.figures import FigureSpec, FigureOptions, make_figure
    m = open_model("demo")
    spec = FigureSpec(kind="methods", images=("a.png", "b.png"), methods=("gradcam", "scorecam"))
    make_figure(m, spec, FigureOptions(width="double"), out="fig.pdf")

Kinds: cam, methods, layers, classes, activations, filters, curves (engine.figures.spec).
Modules: `spec` (what / how), `data` (the arrays, by the engine's own functions), `layout`,
`draw_maps` / `draw_grids` / `draw_curves` (matplotlib), `render` (bytes, embedded recipe),
`recipe` (provenance, hashes, checks).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .. import outputs
from ..errors import UserError
from . import recipe as recipes
from .data import FigureData, compute
from .render import render
from .spec import KINDS, FigureOptions, FigureSpec, format_of

__all__ = ["KINDS", "FigureSpec", "FigureOptions", "FigureData", "Made", "compute",
           "make_figure", "draw", "write"]


@dataclass(frozen=True)
class Made:
    """A figure made: its bytes (in `fmt`), the recipe embedded in it, its layout."""

    content: bytes
    fmt: str
    recipe: dict
    layout: dict


def draw(model, data: FigureData, options: FigureOptions, fmt: str, images=None) -> Made:
    """Render already-computed data (the window's preview reuses `data` as options change)."""
    options.check()
    spec_name = getattr(model, "source", "") or ""
    box: dict = {}

    def recipe_for(layout):
        box["recipe"] = recipes.build(spec_name, model.preprocess, images or data.images,
                                      data.spec, options, layout)
        return box["recipe"]

    content, layout = render(data, options, fmt, recipe_for)
    return Made(content=content, fmt=fmt, recipe=box["recipe"], layout=layout)


def write(made: Made, out: str, data: FigureData | None = None, npy_dir: str | None = None) -> list[str]:
    """Write the figure, its recipe sidecar (OUT.json) and, with npy_dir, every array drawn.
    Atomic: a failure leaves no partial file. Returns the paths written."""
    if format_of(out) != made.fmt:
        raise UserError(f"{out}: the figure was rendered as {made.fmt}")
    if npy_dir is not None and not os.path.isdir(npy_dir):
        raise UserError(f"--npy-dir {npy_dir}: no such folder")
    text = json.dumps(made.recipe, sort_keys=True, indent=2, ensure_ascii=True) + "\n"
    outputs.write_file(out, lambda tmp: _write_bytes(tmp, made.content))
    outputs.write_file(out + ".json", lambda tmp: _write_bytes(tmp, text.encode("ascii")))
    written = [out, out + ".json"]
    if npy_dir is not None and data is not None:
        import numpy as np

        for name, array in data.arrays().items():
            path = os.path.join(npy_dir, name + ".npy")
            outputs.write_file(path, lambda tmp, a=array: np.save(tmp, a))
            written.append(path)
    return written


def make_figure(model, spec: FigureSpec, options: FigureOptions, out: str | None = None,
                fmt: str | None = None, images=None, known=(), npy_dir: str | None = None,
                progress=None, cancel=None) -> Made:
    """Compute and draw a figure; with `out`, write it (and OUT.json, and the arrays).

    images: engine.images.Image in spec order (default: loaded from spec.images).
    known: CamResults already computed (reused, not recomputed).
    """
    from ..images import load_image

    fmt = fmt or format_of(out or "figure.png")
    options.check()
    spec.check()
    if images is None:
        images = [load_image(p) for p in spec.images]
    data = compute(model, spec, images, known=known, progress=progress, cancel=cancel)
    made = draw(model, data, options, fmt)
    if out is not None:
        write(made, out, data, npy_dir)
    return made


def _write_bytes(path: str, content: bytes) -> None:
    with open(path, "wb") as f:
        f.write(content)
