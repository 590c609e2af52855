"""The figures of watching a network learn (plain arrays in, figure bytes out; the numbers
come from engine.learning through the command line, which joins the two):
- timeline: rows = epochs, columns = probe images; each cell the map over the image, with
  the prediction (green when it is the image's true class, red when not);
- diff: one image, the maps of two models and their signed difference B - A (coolwarm,
  symmetric about 0);
- cka: a layer x layer heatmap of linear CKA between two models (or a model and itself).
They share the map figures' machinery (engine.figures.layout, render: fonts, no dates,
the recipe embedded in the file and written beside it as OUT.json).
"""
from __future__ import annotations

import numpy as np

from .. import colormaps
from ..cam.overlay import blend
from . import layout as L
from . import recipe as recipes
from .render import _LOCK, check_font, rc_params, save_bytes
from .spec import FigureOptions

DIVERGING = "coolwarm"


def make_recipe(kind: str, command: list, model: dict, images: list, figure: dict,
                options: FigureOptions, extra: dict | None = None) -> dict:
    """A recipe like every figure's (engine.figures.recipe), plus `command`: the argv that
    makes the figure again (these kinds are remade by their own sub-command)."""
    out = {"convscope_recipe": recipes.FORMAT, "app_version": recipes.app_version(),
           "model": model, "images": images, "figure": dict(figure, kind=kind),
           "options": options.as_dict(), "versions": recipes.versions(),
           "command": list(command)}
    out.update(extra or {})
    return out


def model_entry(spec: str) -> dict:
    path = recipes.model_file(spec)
    import os

    return {"spec": spec, "file": os.path.basename(path) if path else None,
            "sha256": recipes.sha256_path(path) if path and os.path.exists(path) else None}


def image_entry(path: str | None, name: str) -> dict:
    import os

    return {"name": name, "path": os.path.abspath(path) if path else None,
            "sha256": recipes.sha256_file(path) if path and os.path.isfile(path) else None}


def _render(draw, options: FigureOptions, fmt: str, recipe: dict) -> tuple[bytes, dict]:
    import matplotlib
    from matplotlib.figure import Figure

    options.check()
    check_font(options.font)
    with _LOCK, matplotlib.rc_context(rc_params(options)):
        fig = Figure(dpi=options.dpi)
        info = draw(fig)
        recipe = dict(recipe, layout=info)
        return save_bytes(fig, fmt, options.dpi, recipe), recipe


# -- timeline ---------------------------------------------------------------------------------
def timeline(pixels: np.ndarray, maps: dict, epochs: list, preds: dict, row_notes: dict,
             col_titles: list, caption: str, options: FigureOptions, fmt: str,
             recipe: dict) -> tuple[bytes, dict]:
    """pixels (N, H, W, 3) uint8; maps {epoch: (N, h, w) in [0, 1]}; preds {epoch: [(text,
    correct: bool | None)] per image}; row_notes {epoch: "loss 0.41"}."""
    cmap = options.cmap("cam")

    def draw(fig):
        f = options.font_size / 72.0
        width = options.width_mm() * L.MM
        n = len(col_titles)
        aspect = pixels.shape[1] / pixels.shape[2]
        cap = L.wrap(caption, 0.9 * width, options.font_size)
        g = L.GridLayout(width=width, rows=len(epochs), cols=n, aspects=[aspect] * len(epochs),
                         font=f, title_lines=1 if options.title else 0, head_lines=1,
                         row_label_lines=2, caption_lines=len(cap), colorbar=options.colorbar)
        size = (width, g.height)
        fig.set_size_inches(size)
        panels = []
        for r, epoch in enumerate(epochs):
            for c in range(n):
                box = g.cells[r][c]
                ax = L.add_axes(fig, box, size)
                over = blend(pixels[c], maps[epoch][c], alpha=options.alpha, colormap=cmap)
                L.show(ax, L.fit_pixels(over, box, options.dpi))
                if r == 0:
                    ax.set_title(col_titles[c], fontsize=options.font_size, pad=0.25 * options.font_size)
                if c == 0:
                    note = row_notes.get(epoch, "")
                    ax.set_ylabel(f"epoch {epoch}" + (f"\n{note}" if note else ""),
                                  fontsize=options.font_size, labelpad=0.2 * options.font_size)
                text, correct = preds[epoch][c]
                colour = {True: "#006400", False: "#b00000"}.get(correct, "black")
                ax.text(0.5, 0.02, text, transform=ax.transAxes, ha="center", va="bottom",
                        fontsize=max(options.font_size - 1.5, 3), color=colour,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white",
                              "edgecolor": "none", "alpha": 0.8})
                panels.append({"epoch": int(epoch), "image": c, "box_in": [box.x, box.y, box.w, box.h]})
        if options.colorbar and g.colorbar_box is not None:
            _colorbar(fig, g.colorbar_box, size, cmap, "evidence", options.font_size, 0.0, 1.0)
        _title_caption(fig, g, width, options, cap)
        return {"size_in": [width, g.height], "panels": panels}

    return _render(draw, options, fmt, recipe)


# -- diff -------------------------------------------------------------------------------------
def diff(pixels: np.ndarray, map_a: np.ndarray, map_b: np.ndarray, titles: tuple,
         caption: str, options: FigureOptions, fmt: str, recipe: dict) -> tuple[bytes, dict]:
    """input | A's map | B's map | B - A (signed, coolwarm, symmetric colour scale)."""
    cmap = options.cmap("cam")
    d = np.asarray(map_b, np.float32) - np.asarray(map_a, np.float32)
    peak = float(np.abs(d).max())
    scale = peak if peak > 0 else 1.0

    def draw(fig):
        f = options.font_size / 72.0
        width = options.width_mm() * L.MM
        cap = L.wrap(caption, 0.9 * width, options.font_size)
        heads = ["input", titles[0], titles[1], f"{titles[1]} − {titles[0]}"]
        heads = [L.fit_label(h, width / 5, f, breaks=" /_") for h in heads]
        aspect = pixels.shape[0] / pixels.shape[1]
        g = L.GridLayout(width=width, rows=1, cols=4, aspects=[aspect], font=f,
                         title_lines=1 if options.title else 0,
                         head_lines=max(h.count("\n") + 1 for h in heads),
                         caption_lines=len(cap), colorbar=options.colorbar, colorbar_lines=1)
        size = (width, g.height)
        fig.set_size_inches(size)
        pics = [pixels, blend(pixels, map_a, options.alpha, cmap), blend(pixels, map_b, options.alpha, cmap),
                colormaps.apply(np.clip(_up(d, pixels.shape[:2]) / scale * 0.5 + 0.5, 0, 1), DIVERGING)]
        panels = []
        for c, pic in enumerate(pics):
            box = g.cells[0][c]
            ax = L.add_axes(fig, box, size)
            L.show(ax, L.fit_pixels(pic, box, options.dpi))
            ax.set_title(heads[c], fontsize=options.font_size, pad=0.25 * options.font_size)
            panels.append({"col": c, "what": ("input", "map A", "map B", "difference")[c],
                           "box_in": [box.x, box.y, box.w, box.h]})
        if options.colorbar and g.colorbar_box is not None:
            _colorbar(fig, g.colorbar_box, size, DIVERGING, "B − A", options.font_size, -scale, scale)
        _title_caption(fig, g, width, options, cap)
        return {"size_in": [width, g.height], "panels": panels, "peak_difference": peak}

    return _render(draw, options, fmt, recipe)


def _up(m: np.ndarray, size) -> np.ndarray:
    import cv2

    h, w = int(size[0]), int(size[1])
    return cv2.resize(np.ascontiguousarray(m, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)


# -- cka --------------------------------------------------------------------------------------
def cka(matrix: np.ndarray, names_a: list, names_b: list, label_a: str, label_b: str,
        caption: str, options: FigureOptions, fmt: str, recipe: dict) -> tuple[bytes, dict]:
    """The CKA matrix as a heatmap: rows = layers of A (input side at the top), columns =
    layers of B; values annotated when the matrix is small; NaN cells grey."""
    cmap_name = options.colormap or "magma"

    def draw(fig):
        from matplotlib import colors

        f = options.font_size / 72.0
        width = options.width_mm() * L.MM
        longest_a = max(len(n) for n in names_a)
        longest_b = max(len(n) for n in names_b)
        left = 0.15 + 0.55 * f * longest_a + 1.6 * f
        bottom_labels = 0.15 + 0.55 * f * longest_b + 1.6 * f
        right = 0.6 + 4 * f
        cell = (width - left - right) / len(names_b)
        cap = L.wrap(caption, 0.9 * width, options.font_size)
        top = 0.1 + (1.5 * f if options.title else 0.0)
        bottom = bottom_labels + len(cap) * 1.3 * f + 0.05
        height = top + cell * len(names_a) + bottom
        fig.set_size_inches((width, height))
        ax = fig.add_axes((left / width, bottom / height, cell * len(names_b) / width,
                           cell * len(names_a) / height))
        lut = colormaps.lut(cmap_name).astype(np.float64) / 255.0
        cm = colors.ListedColormap(lut, name=cmap_name).with_extremes(bad="#cccccc")
        shown = np.ma.masked_invalid(np.asarray(matrix, np.float64))
        im = ax.imshow(shown, cmap=cm, vmin=0.0, vmax=1.0, interpolation="none", aspect="auto")
        ax.set_xticks(range(len(names_b)), names_b, rotation=90, fontsize=options.font_size)
        ax.set_yticks(range(len(names_a)), names_a, fontsize=options.font_size)
        ax.set_xlabel(label_b, fontsize=options.font_size)
        ax.set_ylabel(label_a, fontsize=options.font_size)
        ax.tick_params(length=2, width=0.5, pad=1)
        if len(names_a) * len(names_b) <= 144:
            for i in range(len(names_a)):
                for j in range(len(names_b)):
                    v = matrix[i, j]
                    text = "–" if not np.isfinite(v) else f"{v:.2f}"
                    ax.text(j, i, text, ha="center", va="center",
                            fontsize=max(options.font_size - 2, 3),
                            color="white" if np.isfinite(v) and v < 0.6 else "black")
        if options.colorbar:
            cax = fig.add_axes(((width - right + 0.15) / width, bottom / height,
                                0.9 * f / width, cell * len(names_a) / height))
            bar = fig.colorbar(im, cax=cax, ticks=[0, 0.5, 1])
            bar.ax.tick_params(labelsize=options.font_size, length=2, width=0.5, pad=1)
            bar.outline.set_linewidth(0.5)
            bar.set_label("linear CKA", fontsize=options.font_size)
        if options.title:
            fig.text(0.5, 1 - 0.05 / height, options.title, ha="center", va="top",
                     fontsize=options.font_size + 1, fontweight="bold")
        if cap:
            fig.text(0.05 / width, (len(cap) * 1.3 * f + 0.02) / height, "\n".join(cap),
                     ha="left", va="top", fontsize=options.font_size, linespacing=1.15)
        return {"size_in": [width, height], "rows": list(names_a), "cols": list(names_b)}

    return _render(draw, options, fmt, recipe)


# -- shared -----------------------------------------------------------------------------------
def _colorbar(fig, box, size, cmap, label, font_size, lo, hi) -> None:
    from matplotlib import colors
    from matplotlib.cm import ScalarMappable

    cax = fig.add_axes((box.x / size[0], box.y / size[1], box.w / size[0], box.h / size[1]))
    lut = colormaps.lut(cmap).astype(np.float64) / 255.0
    sm = ScalarMappable(norm=colors.Normalize(lo, hi), cmap=colors.ListedColormap(lut, name=cmap))
    bar = fig.colorbar(sm, cax=cax, ticks=[lo, 0.5 * (lo + hi), hi], format="%.2g")
    bar.ax.tick_params(labelsize=font_size, length=2, width=0.5, pad=1)
    bar.outline.set_linewidth(0.5)
    bar.set_label(label, fontsize=font_size, labelpad=0.3 * font_size)


def _title_caption(fig, g, width, options, cap) -> None:
    if options.title:
        fig.text(0.5, g.title_y / g.height, options.title, ha="center", va="top",
                 fontsize=options.font_size + 1, fontweight="bold")
    if cap:
        fig.text(g.cells[0][0].x / width, g.caption_y / g.height, "\n".join(cap),
                 ha="left", va="top", fontsize=options.font_size, linespacing=1.15)
