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
figure of signed maps only gets a [-1, 1] coolwarm bar, and one that mixes signed and
unsigned maps gets both bars, stacked, each labelled with the maps it is for.
Where the text goes (wrapped, shrunk, split into bands so nothing overlaps): map_layout.
"""
from __future__ import annotations

import numpy as np

from .. import colormaps
from ..attribution.display import DIVERGING
from . import layout as L
from . import naming
from .map_layout import LINESPACING, arrange


CAPTION_RIGHT = 0.04  # inches kept free at the caption's right end


def draw(fig, data, options) -> dict:
    """Fill `fig` (size set here) with the map figure of `data`; returns the layout info
    (panels, bands, and the warnings of every adaptation the layout had to make)."""
    spec, grid = data.spec, data.grid
    kind = spec.kind
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
    images = data.images if kind == "methods" else data.images[:1]
    aspects = [im.size[0] / im.size[1] for im in images]
    kinds = _map_kinds(data)
    bars = []  # (label, cmap, signed)
    if options.colorbar:
        unsigned = kinds - {"signed"}
        if unsigned or not kinds:
            bars.append((_colorbar_label(data, signed=False if "signed" in kinds else None), cmap, False))
        if "signed" in kinds:
            bars.append((_colorbar_label(data, signed=True if unsigned else None), DIVERGING, True))
    what = {"methods": "methods", "layers": "layers", "classes": "classes"}.get(kind, "panels")
    g = arrange(width, titles, aspects, options.font_size,
                row_labels=[_row_label(data, r) for r in range(n_rows)] if kind == "methods" else None,
                colorbar_labels=[b[0] for b in bars], title=options.title,
                caption=_caption(data, options), caption_right=CAPTION_RIGHT, what=what)
    size = (width, g.height)
    fig.set_size_inches(size)
    panels = []
    letter = 0
    for b, band in enumerate(g.bands):
        for r in range(n_rows):
            image = data.images[r if kind == "methods" else 0]
            row_cells = [None] + list(grid.cells[r])
            if kind == "cam":
                row_cells = [None, grid.cells[0][0]] + ([grid.cells[0][0]] if options.heatmap else [])
            for c in band:
                cell = row_cells[c]
                box = g.cells[(b, r, c)]
                ax = L.add_axes(fig, box, size)
                if c == 0:
                    L.show(ax, L.fit_pixels(image.pixels, box, options.dpi))
                    what_ = "input"
                elif isinstance(cell, str):
                    _say(ax, cell, box, options.font_size)
                    what_ = "note"
                elif kind == "cam" and c == 2:
                    up = cell.upsampled()
                    heat = (colormaps.apply((up + 1.0) * 0.5, DIVERGING) if cell.signed
                            else colormaps.apply(up, cmap))
                    L.show(ax, L.fit_pixels(heat, box, options.dpi))
                    what_ = "heatmap"
                else:
                    over = cell.overlay(alpha=options.alpha, colormap=cmap)
                    L.show(ax, L.fit_pixels(over, box, options.dpi))
                    what_ = "overlay"
                if options.panel_labels:
                    L.panel_letter(ax, letter, options.font_size)
                letter += 1
                panels.append({"row": r, "col": c, "band": b, "what": what_, "title": titles[c],
                               "box_in": [box.x, box.y, box.w, box.h]})
    texts = list(g.heads) + list(g.row_labels)
    texts += [t for t in (g.title, g.caption) if t is not None]
    for t in texts:
        fig.text(t.x / width, t.y / g.height, t.text, ha=t.ha, va=t.va, fontsize=t.size,
                 linespacing=LINESPACING, fontweight="bold" if t is g.title else "normal")
    for (box, lines, label_size), (_, bar_cmap, signed) in zip(g.colorbars, bars):
        _colorbar(fig, box, size, bar_cmap, "\n".join(lines), label_size, signed=signed,
                  tick_size=options.font_size)
    info = {"size_in": [width, g.height], "panels": panels,
            "colorbars": [{"colormap": c, "range": [-1.0 if sg else 0.0, 1.0], "label": label}
                          for label, c, sg in bars] if g.colorbars else []}
    info.update(g.info())
    return info


def _overlay_title(cell, options) -> str:
    if isinstance(cell, str):
        return "map"
    if options.alpha >= 1.0:
        return naming.title(cell.method)
    return f"{naming.title(cell.method)} overlay"


def _row_label(data, r: int) -> str:
    """The class the row's maps explain (read from its maps: the class each was computed
    for), and the model's confidence in it for this image."""
    grid = data.grid
    explained = {cell.class_index for cell in grid.cells[r] if not isinstance(cell, str)}
    c = explained.pop() if len(explained) == 1 else grid.row_class[r]
    return f"{data.name(c)}\n{_conf(data, grid.row_conf[r])}"


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
        cls = (f"target {data.target}, {_conf(data, grid.row_conf[0])}" if data.target else
               f"class {data.labels[c]} ({c}), {_conf(data, grid.row_conf[0])}")
        method = naming.title(first.method) if first is not None else spec.methods[0]
        return f"{cls} · {method} · layer {layer} · {norm} · {look}"
    if spec.kind == "methods":
        which = "each row's top prediction" if not spec.classes else "the class named in each row"
        if data.target:
            which = f"target {data.target}"
        return f"Layer {layer} · class: {which} · {norm} · {look}"
    if spec.kind == "layers":
        c = grid.row_class[0]
        method = naming.title(first.method) if first is not None else spec.methods[0]
        what = f"target {data.target}" if data.target else f"class {data.labels[c]} ({c})"
        return (f"{method} at each layer · {what}, "
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


def _colorbar_label(data, signed: bool | None = None) -> str:
    """What the bar's colours mean. signed: None (one bar for every map), False (the bar of
    the unsigned maps, beside a signed one) or True (the signed maps' own bar)."""
    classes = set()
    for r, row in enumerate(data.grid.cells):
        for cell in row:
            if not isinstance(cell, str):
                classes.add(cell.class_index)
    if len(classes) == 1:
        target = data.name(classes.pop())
    elif data.spec.kind == "classes":
        target = "the column's class"
    else:
        target = "the row's class"
    if signed is True:
        return f"signed maps: against / for {target}"
    if signed is False:
        return f"unsigned maps: evidence for {target}"
    return f"evidence for {target}"


def _colorbar(fig, box, size, cmap, label, font_size, signed: bool = False,
              tick_size: float | None = None) -> None:
    from matplotlib import colors
    from matplotlib.cm import ScalarMappable

    cax = fig.add_axes((box.x / size[0], box.y / size[1], box.w / size[0], box.h / size[1]))
    lut = colormaps.lut(cmap).astype(np.float64) / 255.0
    lo = -1.0 if signed else 0.0
    sm = ScalarMappable(norm=colors.Normalize(lo, 1.0),
                        cmap=colors.ListedColormap(lut, name=cmap))
    bar = fig.colorbar(sm, cax=cax, ticks=[lo, 0.5 * (lo + 1.0), 1.0])
    bar.ax.tick_params(labelsize=tick_size or font_size, length=2, width=0.5, pad=1)
    bar.outline.set_linewidth(0.5)
    bar.set_label(label, fontsize=font_size, labelpad=0.3 * font_size)


def _say(ax, text: str, box, font_size: float) -> None:
    """A method that does not apply: the reason, wrapped to the cell (measured), cut short
    with an ellipsis when it is taller than the cell, on light grey."""
    from . import text_fit as T

    ax.set_facecolor("#f0f0f0")
    size = max(3.0, font_size - 1)
    room = 0.92 * box.w
    lines = T.wrap(text, room, size) or T.hard_wrap(text, room, size)
    most = max(1, int(0.92 * box.h / (1.15 * size / 72.0)))
    lines = T.elide(lines, most)
    ax.text(0.5, 0.5, "\n".join(lines), transform=ax.transAxes, ha="center", va="center",
            fontsize=size, color="#333333", linespacing=1.1, clip_on=True)
