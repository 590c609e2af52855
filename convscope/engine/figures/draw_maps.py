"""The map figures: cam, methods, layers, classes — rows of images, then one map per column.

- cam: the input, the overlay, the heatmap alone (optional); caption: class, probability,
  method, layer.
- methods: a row per image (labelled with its class and probability), a column per method
  titled with the method's name; a method that does not apply says why in its cells.
- layers: one image, one method, a column per layer (localisation with depth).
- classes: one image, one method, a column per class (where each class's evidence lies).
One colour bar serves every panel: CAMs share the [0, 1] scale (ReLU + min-max per map).
Pixel attributions are drawn as engine.attribution.display draws them (over a grey copy,
scaled by their 99th percentile; signed ones in coolwarm), and the caption says so; a
figure of signed maps only gets a [-1, 1] coolwarm bar.
"""
from __future__ import annotations

import textwrap

import numpy as np

from .. import colormaps
from ..attribution.display import DIVERGING
from . import layout as L
from . import naming


CAPTION_RIGHT = 0.04  # inches kept free at the caption's right end


def draw(fig, data, options) -> dict:
    """Fill `fig` (size set here) with the map figure of `data`; returns the layout info."""
    spec, grid = data.spec, data.grid
    kind = spec.kind
    f = options.font_size / 72.0
    width = options.width_mm() * L.MM
    cmap = options.cmap(kind)

    if kind == "cam":
        cell = grid.cells[0][0]
        titles = ["input", _overlay_title(cell, options)]
        if options.heatmap:
            titles.append("heatmap")
    else:
        titles = ["input"] + list(grid.col_titles)
    n_rows = len(grid.cells)
    heads = [_wrap_title(t) for t in titles]
    aspects = [im.size[0] / im.size[1] for im in (data.images if kind == "methods" else data.images[:1])]
    caption = _caption(data, options)
    cap_lines = L.wrap(caption, 0.8 * width, options.font_size)  # re-wrapped below
    bar_label = _colorbar_label(data)
    layout = dict(width=width, rows=n_rows, cols=len(titles), aspects=aspects, font=f,
                  title_lines=1 if options.title else 0,
                  head_lines=max(h.count("\n") + 1 for h in heads),
                  row_label_lines=2 if kind == "methods" else 0,
                  caption_lines=len(cap_lines), colorbar=options.colorbar)
    g = L.GridLayout(**layout)
    # the caption starts under the first column (after the row labels): wrap it to what is left
    cap_lines = L.wrap(caption, width - g.cells[0][0].x - CAPTION_RIGHT, options.font_size)
    if len(cap_lines) != layout["caption_lines"]:
        layout["caption_lines"] = len(cap_lines)
        g = L.GridLayout(**layout)
    cell_w = g.cells[0][0].w
    heads = [h if "\n" in h else L.fit_label(h, cell_w, f, breaks=" -") for h in heads]
    lines = max(h.count("\n") + 1 for h in heads)
    if lines != layout["head_lines"]:
        layout["head_lines"] = lines
        g = L.GridLayout(**layout)
    if g.colorbar_box is not None:
        bar_label = L.fit_label(bar_label, g.colorbar_box.h, f)
        if "\n" in bar_label:
            g = L.GridLayout(**layout, colorbar_lines=2)
    size = (width, g.height)
    fig.set_size_inches(size)
    panels = []
    letter = 0
    for r in range(n_rows):
        image = data.images[r if kind == "methods" else 0]
        row_cells = [None] + list(grid.cells[r])
        if kind == "cam":
            row_cells = [None, grid.cells[0][0]] + ([grid.cells[0][0]] if options.heatmap else [])
        for c, cell in enumerate(row_cells):
            box = g.cells[r][c]
            ax = L.add_axes(fig, box, size)
            if r == 0:
                ax.set_title(heads[c], fontsize=options.font_size, pad=0.25 * options.font_size)
            if c == 0:
                L.show(ax, L.fit_pixels(image.pixels, box, options.dpi))
                if kind == "methods":
                    ax.set_ylabel(_row_label(data, r), fontsize=options.font_size,
                                  labelpad=0.2 * options.font_size)
                what = "input"
            elif isinstance(cell, str):
                _say(ax, cell, box, options.font_size)
                what = "note"
            elif kind == "cam" and c == 2:
                up = cell.upsampled()
                heat = (colormaps.apply((up + 1.0) * 0.5, DIVERGING) if cell.signed
                        else colormaps.apply(up, cmap))
                L.show(ax, L.fit_pixels(heat, box, options.dpi))
                what = "heatmap"
            else:
                over = cell.overlay(alpha=options.alpha, colormap=cmap)
                L.show(ax, L.fit_pixels(over, box, options.dpi))
                what = "overlay"
            if options.panel_labels:
                L.panel_letter(ax, letter, options.font_size)
            letter += 1
            panels.append({"row": r, "col": c, "what": what, "title": titles[c],
                           "box_in": [box.x, box.y, box.w, box.h]})
    if options.colorbar and g.colorbar_box is not None:
        signed_only = _map_kinds(data) == {"signed"}
        _colorbar(fig, g.colorbar_box, size, DIVERGING if signed_only else cmap, bar_label,
                  options.font_size, signed=signed_only)
    if options.title:
        fig.text(0.5, g.title_y / g.height, options.title, ha="center", va="top",
                 fontsize=options.font_size + 1, fontweight="bold")
    if cap_lines:
        fig.text(g.cells[0][0].x / width, g.caption_y / g.height, "\n".join(cap_lines),
                 ha="left", va="top", fontsize=options.font_size, linespacing=1.15)
    return {"size_in": [width, g.height], "panels": panels}


def _overlay_title(cell, options) -> str:
    if isinstance(cell, str):
        return "map"
    if options.alpha >= 1.0:
        return naming.title(cell.method)
    return f"{naming.title(cell.method)} overlay"


def _wrap_title(text: str) -> str:
    """Long layer paths break at their '/' onto two lines."""
    if "/" in text and len(text) > 18:
        head, leaf = text.rsplit("/", 1)
        return f"{head}/\n{leaf}"
    return text


def _row_label(data, r: int) -> str:
    grid = data.grid
    c = grid.row_class[r]
    return f"{data.labels[c]}\n{_conf(data, grid.row_conf[r])}"


def _conf(data, p: float) -> str:
    return f"p = {p:.2f}" if data.conf_word == "p" else f"score {p:.3g}"


def _first_map(data):
    for row in data.grid.cells:
        for cell in row:
            if not isinstance(cell, str):
                return cell
    return None


def _caption(data, options) -> str:
    spec, grid = data.spec, data.grid
    first = _first_map(data)
    layer = first.layer if first is not None else (spec.layers[0] if spec.layers else "default")
    norm = _normalisation_text(_map_kinds(data))
    look = f"overlay alpha {options.alpha:g}, {options.cmap(spec.kind)}"
    if spec.kind == "cam":
        c = grid.row_class[0]
        cls = f"class {data.labels[c]} ({c}), {_conf(data, grid.row_conf[0])}"
        method = naming.title(first.method) if first is not None else spec.methods[0]
        return f"{cls} · {method} · layer {layer} · {norm} · {look}"
    if spec.kind == "methods":
        which = "each row's top prediction" if not spec.classes else "the class named in each row"
        return f"Layer {layer} · class: {which} · {norm} · {look}"
    if spec.kind == "layers":
        c = grid.row_class[0]
        method = naming.title(first.method) if first is not None else spec.methods[0]
        return (f"{method} at each layer · class {data.labels[c]} ({c}), "
                f"{_conf(data, grid.row_conf[0])} · {norm} · {look}")
    method = naming.title(first.method) if first is not None else spec.methods[0]
    return f"{method} · layer {layer} · one map per class · {norm} · {look}"


def _map_kinds(data) -> set[str]:
    """"cam", "pixel" (unsigned pixel attribution) and "signed", over the figure's maps."""
    kinds = set()
    for row in data.grid.cells:
        for cell in row:
            if not isinstance(cell, str):
                kinds.add("signed" if cell.signed else getattr(cell, "kind", "cam"))
    return kinds


def _normalisation_text(kinds: set[str]) -> str:
    """How the maps shown were scaled, one clause per kind present."""
    parts = []
    if "cam" in kinds or not kinds:
        parts.append("maps: ReLU, then min-max to [0, 1] per map")
    if "pixel" in kinds:
        parts.append("pixel maps: divided by their 99th percentile, over a grey image")
    if "signed" in kinds:
        parts.append("signed maps: divided by the 99th percentile of |value|, blue against "
                     "and red for the class (coolwarm), over a grey image")
    return " · ".join(parts)


def _colorbar_label(data) -> str:
    classes = set()
    for r, row in enumerate(data.grid.cells):
        for cell in row:
            if not isinstance(cell, str):
                classes.add(cell.class_index)
    if len(classes) == 1:
        return f"evidence for {data.labels[classes.pop()]}"
    if data.spec.kind == "classes":
        return "evidence for the column's class"
    return "evidence for the row's class"


def _colorbar(fig, box, size, cmap, label, font_size, signed: bool = False) -> None:
    from matplotlib import colors
    from matplotlib.cm import ScalarMappable

    cax = fig.add_axes((box.x / size[0], box.y / size[1], box.w / size[0], box.h / size[1]))
    lut = colormaps.lut(cmap).astype(np.float64) / 255.0
    lo = -1.0 if signed else 0.0
    sm = ScalarMappable(norm=colors.Normalize(lo, 1.0),
                        cmap=colors.ListedColormap(lut, name=cmap))
    bar = fig.colorbar(sm, cax=cax, ticks=[lo, 0.5 * (lo + 1.0), 1.0])
    bar.ax.tick_params(labelsize=font_size, length=2, width=0.5, pad=1)
    bar.outline.set_linewidth(0.5)
    bar.set_label(label, fontsize=font_size, labelpad=0.3 * font_size)


def _say(ax, text: str, box, font_size: float) -> None:
    """A method that does not apply: the reason, wrapped to the cell, on light grey."""
    ax.set_facecolor("#f0f0f0")
    chars = max(8, int(box.w * 72 / (0.52 * (font_size - 1))))
    lines = textwrap.wrap(text, chars)
    most = max(2, int(box.h * 72 / (1.2 * (font_size - 1))) - 1)
    if len(lines) > most:
        lines = lines[:most - 1] + [lines[most - 1][: chars - 1] + "…"]
    ax.text(0.5, 0.5, "\n".join(lines), transform=ax.transAxes, ha="center", va="center",
            fontsize=font_size - 1, color="#333333", linespacing=1.1)

