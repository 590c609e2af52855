"""Tile figures: a layer's channel grid (activations) and a filter-pattern atlas (filters),
each tile labelled with its channel / filter index."""
from __future__ import annotations

from ..explore import activation_view
from .. import colormaps, grid as grid_mod
from ..filters.spec import DEFAULT_STEPS
from . import layout as L
from .draw_maps import CAPTION_RIGHT, _colorbar


def draw(fig, data, options) -> dict:
    kind = data.spec.kind
    if kind == "activations":
        tiles = activation_view.normalise(data.activations, options.normalise)[data.channels]
        labels = [str(int(c)) for c in data.channels]
        cmap = options.cmap(kind)
        pictures = colormaps.apply_u8(tiles, cmap)
        caption = _activations_caption(data, options)
    else:
        pictures = data.patterns
        labels = [str(int(i)) for i in data.filters]
        cmap = None
        caption = _filters_caption(data)
    n = len(pictures)
    per_row = options.per_row or grid_mod.default_per_row(n)
    per_row = max(1, min(per_row, n))
    rows = -(-n // per_row)
    f = options.font_size / 72.0
    width = options.width_mm() * L.MM
    tile_font = max(4.0, options.font_size - 1)
    h, w = pictures.shape[1:3]
    g = L.GridLayout(width=width, rows=rows, cols=per_row, aspects=[h / w] * rows,
                     font=tile_font / 72.0, title_lines=0, head_lines=1, row_heads=True,
                     caption_lines=0, colorbar=options.colorbar and cmap is not None)
    cap_lines = L.wrap(caption, width - g.cells[0][0].x - CAPTION_RIGHT, options.font_size)
    # the caption and title use the main font: make room for them below / above
    extra_top = (1.5 * f if options.title else 0.0)
    extra_bottom = 1.3 * f * len(cap_lines) + (0.03 if cap_lines else 0.0)
    height = g.height + extra_top + extra_bottom
    size = (width, height)
    fig.set_size_inches(size)
    panels = []
    for i in range(n):
        box = g.cells[i // per_row][i % per_row]
        box = L.Box(box.x, box.y + extra_bottom, box.w, box.h)
        ax = L.add_axes(fig, box, size)
        L.show(ax, L.fit_pixels(pictures[i], box, options.dpi))
        ax.set_title(labels[i], fontsize=tile_font, pad=0.15 * tile_font)
        panels.append({"index": int(labels[i]), "box_in": [box.x, box.y, box.w, box.h]})
    if g.colorbar_box is not None:
        b = g.colorbar_box
        box = L.Box(b.x, b.y + extra_bottom, b.w, b.h)
        label, ticks = _value_scale(data, options)
        _colorbar(fig, box, size, cmap, label, options.font_size)
        bar_ax = fig.axes[-1]
        bar_ax.set_yticks(list(ticks))
        bar_ax.set_yticklabels([t for t in ticks.values()])
    if options.title:
        fig.text(0.5, (height - 0.03) / height, options.title, ha="center", va="top",
                 fontsize=options.font_size + 1, fontweight="bold")
    if cap_lines:
        fig.text(g.cells[0][0].x / width, (extra_bottom - 0.02) / height, "\n".join(cap_lines),
                 ha="left", va="top", fontsize=options.font_size, linespacing=1.15)
    return {"size_in": [width, height], "panels": panels}


def _value_scale(data, options) -> tuple[str, dict]:
    """The colour bar's meaning: positions in [0, 1] -> the value they stand for."""
    if options.normalise == "channel":
        # tile value v = clip(64 z + 128): z = (255 v - 128) / 64 at bar position v in [0, 1]
        ticks = {(64 * z + 128) / 255: f"{z:+d}" if z else "0" for z in (-2, -1, 0, 1, 2)}
        return "standardised activation z (per channel)", ticks
    a = data.activations
    lo, hi = float(a.min()), float(a.max())
    return "activation", {0.0: f"{lo:.3g}", 0.5: f"{(lo + hi) / 2:.3g}", 1.0: f"{hi:.3g}"}


def _activations_caption(data, options) -> str:
    a = data.activations
    n, c = len(data.channels), a.shape[-1]
    which = (f"all {c} channels" if n == c else
             f"the {n} most active of {c} channels (largest mean activation first)")
    if options.normalise == "channel":
        norm = "each channel standardised (z), shown as 64 z + 128 clipped to [0, 255]"
    else:
        norm = "one min-max over the whole layer, so channels compare"
    dead = len(activation_view.dead_channels(a))
    return (f"Activations of layer {data.layer} ({a.shape[0]}x{a.shape[1]}x{c}) for "
            f"{data.images[0].name}: {which}; {norm}; {dead} channel(s) all zero.")


def _filters_caption(data) -> str:
    spec = data.spec
    n, s = data.patterns.shape[0], data.patterns.shape[1]
    steps = spec.filter_steps or DEFAULT_STEPS.get(spec.filter_mode)
    return (f"Filter patterns of layer {data.layer}: {n} inputs ({s}x{s} px) that maximise each "
            f"filter's mean activation, gradient ascent, {spec.filter_mode} mode, "
            f"{steps} steps, seed {spec.seed}.")

