"""Where everything of a map figure goes (cam, methods, layers, classes), computed before
anything is drawn so that no two pieces of text meet, at any number of columns.

Columns: the input, then one column per map. Each column title is wrapped to its cell's
width (text_fit: measured, broken at spaces, '-', '/', '_') in at most MAX_HEAD_LINES
lines. When that fails at the figure's font, the titles' font shrinks in half points down
to HEAD_FLOOR_PT; when the cells would be narrower than MIN_CELL_MM (a map too small to
read in print) or the titles still do not fit, the map columns are split into bands: several
rows of panels, each band repeating the input column and its titles, one row per image in
each band. Only as a last resort is a title broken between characters. Row labels (the
methods figure: the class a row's maps explain and its confidence) stand horizontally left
of the input, wrapped to a measured column and never taller than their row. Every
adaptation is reported in `warnings` (the CLI prints them, the window shows them).

All lengths are inches from the figure's bottom-left corner; fonts are in points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import text_fit as T
from .layout import GAP, MM, Box

MIN_CELL_MM = 13.0  # narrowest map cell: a map much smaller is unreadable in print
HEAD_FLOOR_PT = 5.0  # smallest font a title or row label is shrunk to
MAX_HEAD_LINES = 3
ROW_LABEL_SHARE = 0.2  # the row labels' column takes at most this share of the width
LINE = 1.32  # line height, in font sizes (text drawn with LINESPACING: ~1.27 x size)
LINESPACING = 1.35  # matplotlib linespacing: lines this far apart never share a glyph box
TEXT_PAD = 0.03  # inches between a cell and its title / row label
BAND_GAP = 0.08  # extra inches between bands
MIN_BAR_LINES = 3.2  # a colour bar is at least this many lines of text tall (3 tick labels)


@dataclass
class Text:
    """A block of lines: anchored at (x, y) with matplotlib's ha / va, `size` points."""

    x: float
    y: float
    lines: list
    size: float
    ha: str = "center"
    va: str = "bottom"
    rotation: float = 0.0

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Arrangement:
    width: float
    height: float = 0.0
    bands: list = field(default_factory=list)  # [[title index, ...]] map columns per band (0 = input)
    cells: dict = field(default_factory=dict)  # (band, row, title index) -> Box
    heads: list = field(default_factory=list)  # Text
    row_labels: list = field(default_factory=list)  # Text
    colorbars: list = field(default_factory=list)  # (Box, [label lines], label size)
    caption: Text | None = None
    title: Text | None = None
    warnings: list = field(default_factory=list)

    def info(self) -> dict:
        return {"bands": [list(b) for b in self.bands], "warnings": list(self.warnings)}


def arrange(width: float, titles: list, aspects: list, font_size: float, row_labels=None,
            colorbar_labels=(), title: str = "", caption: str = "", caption_right: float = 0.04,
            what: str = "maps") -> Arrangement:
    """The arrangement of a map figure `width` inches wide.

    titles: the column titles, the input's first. aspects: height / width of each row's
    image. row_labels: one text per row (lines split by newlines) or None.
    colorbar_labels: one label per colour bar (stacked at the right, top to bottom).
    what: what the columns are ("methods", "layers", "classes"), for the warnings.
    """
    f = font_size / T.PT
    a = Arrangement(width=width)
    n_rows = len(aspects)
    floor = min(HEAD_FLOOR_PT, font_size)

    # -- the right margin: colour bars, their ticks and (rotated) labels -------------------
    def right_margin(bar_lines: int) -> float:
        if not colorbar_labels:
            return 0.02
        tick_w = T.width_in("-0.5", font_size) + 0.12
        return 0.02 + 0.6 * f + 0.9 * f + tick_w + bar_lines * LINE * f + 0.02

    bar_lines = 3  # the colour bar's label may take 3 lines; 2 when the columns need the room
    right = right_margin(bar_lines)

    # -- the left margin: row labels, horizontal, wrapped to a measured column -------------
    label_lines, label_size = [], font_size
    left = 0.02
    if row_labels:
        natural = max(T.lines_width(t.split("\n"), font_size) for t in row_labels)
        room = min(natural, ROW_LABEL_SHARE * width)
        fitted = [T.fit(t, room, font_size, floor) for t in row_labels]
        label_size = min(s for _, s, _ in fitted)
        label_lines = [T.wrap(t, room, label_size) or T.hard_wrap(t, room, label_size)
                       for t in row_labels]
        room = T.lines_width([ln for ls in label_lines for ln in ls], label_size)
        if label_size < font_size:
            a.warnings.append(f"row labels set at {label_size:g} pt instead of {font_size:g} pt "
                              "to fit beside the images")
        if any(how == "broken" for _, _, how in fitted):
            a.warnings.append("a row label is broken inside a word: it is wider than "
                              f"{ROW_LABEL_SHARE:.0%} of the figure's width")
        left += room + TEXT_PAD

    # -- columns: wrap, shrink, then split into bands ------------------------------------
    n_maps = len(titles) - 1

    def plan_columns(room_w: float):
        for n_bands in range(1, max(1, n_maps) + 1):
            per = math.ceil(n_maps / n_bands) if n_maps else 0
            cols = per + 1
            cell_w = (room_w - (cols - 1) * GAP) / cols
            if cell_w <= 0:
                continue
            if cell_w < MIN_CELL_MM * MM and per > 1:
                continue
            fitted = [T.fit(t, cell_w, font_size, floor, MAX_HEAD_LINES) for t in titles]
            if all(how != "broken" for _, _, how in fitted) or per <= 1:
                return n_bands, per, cell_w, fitted
        # the width holds not even one map column at the floor: one per band
        cell_w = max(0.05, (room_w - GAP) / 2)
        return max(1, n_maps), 1, cell_w, [T.fit(t, cell_w, font_size, floor, MAX_HEAD_LINES)
                                           for t in titles]

    n_bands, per, cell_w, fitted = plan_columns(width - left - right)
    if any(how == "broken" for _, _, how in fitted) and colorbar_labels:
        bar_lines = 2  # a narrow figure: the bar's label gives up a line to the columns
        right = right_margin(bar_lines)
        n_bands, per, cell_w, fitted = plan_columns(width - left - right)
    head_size = min(s for _, s, _ in fitted)
    heads = [T.wrap(t, cell_w, head_size) or T.hard_wrap(t, cell_w, head_size) for t in titles]
    if n_bands > 1:
        a.warnings.append(f"{n_maps} {what} do not fit side by side in {width / MM:.0f} mm: drawn "
                          f"as {n_bands} rows of panels of up to {per} (a wider --width keeps one row)")
    if head_size < font_size:
        a.warnings.append(f"column titles set at {head_size:g} pt instead of {font_size:g} pt "
                          "to fit their columns")
    broken = [t for t, (_, _, how) in zip(titles, fitted) if how == "broken"]
    if broken:
        a.warnings.append(f"column title {broken[0]!r} is broken inside a word: it is wider "
                          "than its column")
    a.bands = [[0] + list(range(1 + b * per, min(n_maps, (b + 1) * per) + 1)) for b in range(n_bands)]

    # -- rows of row labels must fit their rows: shrink, then elide ------------------------
    row_h = [cell_w * asp for asp in aspects]
    if label_lines:
        for r, lines in enumerate(label_lines):
            most = int(row_h[r] / (LINE * label_size / T.PT))
            if len(lines) > most:
                label_lines[r] = T.elide(lines, max(1, most))
                a.warnings.append("a row label is cut short: it is taller than its row")

    # -- heights, from the top ------------------------------------------------------------
    title_lines = T.wrap(title, width - 0.1, font_size + 1) or [title] if title else []
    cap_x = left
    caption_lines = (T.wrap(caption, width - cap_x - caption_right, font_size)
                     or T.hard_wrap(caption, width - cap_x - caption_right, font_size)) if caption else []
    head_line_h = LINE * head_size / T.PT
    y = 0.03 + (len(title_lines) * LINE * (font_size + 1) / T.PT + 0.04 if title_lines else 0.0)
    top_of = []  # y (from the top) of each band's first row
    for b, band in enumerate(a.bands):
        n_lines = max(len(heads[i]) for i in band)
        y += n_lines * head_line_h + TEXT_PAD
        top_of.append(y)
        y += sum(row_h) + GAP * 1.6 * (n_rows - 1)
        if b < n_bands - 1:
            y += BAND_GAP
    grid_bottom_from_top = y
    if colorbar_labels:
        # each bar tall enough for its three tick labels and for its label in bar_lines
        # lines at the figure's font (a single short row with a signed and an unsigned bar):
        # the grid's region grows downwards if not
        n = len(colorbar_labels)
        longest = max(max(T.width_in(lab, font_size) / bar_lines * 1.25,
                          max(T.width_in(w, font_size) for w in lab.split()) + 0.05)
                      for lab in colorbar_labels)
        need = n * max(MIN_BAR_LINES * LINE * f, longest) + 1.5 * f * (n - 1) + 1.2 * f
        short = need - (grid_bottom_from_top - top_of[0])
        if short > 0:
            grid_bottom_from_top += short
    bottom = 0.04 + (len(caption_lines) * LINE * f + 0.02 if caption_lines else 0.0)
    a.height = grid_bottom_from_top + bottom
    H = a.height

    if title_lines:
        a.title = Text(width / 2, H - 0.03, title_lines, font_size + 1, "center", "top")
    for b, band in enumerate(a.bands):
        y_top = H - top_of[b]
        for k, i in enumerate(band):
            x = left + k * (cell_w + GAP)
            a.heads.append(Text(x + cell_w / 2, y_top + TEXT_PAD, heads[i], head_size, "center", "bottom"))
            yy = y_top
            for r in range(n_rows):
                yy -= row_h[r]
                a.cells[(b, r, i)] = Box(x, yy, cell_w, row_h[r])
                yy -= GAP * 1.6
        if label_lines:
            yy = y_top
            for r in range(n_rows):
                a.row_labels.append(Text(left - TEXT_PAD, yy - row_h[r] / 2, label_lines[r],
                                         label_size, "right", "center"))
                yy -= row_h[r] + GAP * 1.6
    if colorbar_labels:
        # tick labels stick out half a line above and below a bar: keep them off the
        # caption, the titles and the other bar
        grid_top = H - top_of[0] - 0.6 * f
        grid_bottom = H - grid_bottom_from_top + 0.6 * f
        span = grid_top - grid_bottom
        n = len(colorbar_labels)
        gap = 1.5 * f if n > 1 else 0.0
        each = (span - gap * (n - 1)) / n
        bar_h = (min(each, max(0.8, 0.6 * each)) if n == 1 and (n_rows > 1 or n_bands > 1)
                 else 0.95 * each)
        x = width - right + 0.6 * f
        for k, label in enumerate(colorbar_labels):
            slot_top = grid_top - k * (each + gap)
            box = Box(x, slot_top - each + (each - bar_h) / 2, 0.9 * f, bar_h)
            lines, size, how = T.fit(label, bar_h, font_size, floor, bar_lines)
            if how:
                a.warnings.append(f"the colour bar's label {label!r} set at {size:g} pt to fit the bar")
            a.colorbars.append((box, lines, size))
    if caption_lines:
        a.caption = Text(cap_x, bottom - 0.04, caption_lines, font_size, "left", "top")
    return a
