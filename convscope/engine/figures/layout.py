"""Placing panels: a grid of image cells with room for titles, labels, a colour bar and a
caption, computed in inches from the figure width, so the height follows the layout.

Everything is measured in font heights (the font size in points / 72 inches), so a
larger font gets more room. Axes are added at exact rectangles (no tight_layout: the
width asked for is the width written).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MM = 1.0 / 25.4  # inches per millimetre
GAP = 0.03  # inches between cells


@dataclass
class Box:
    """A rectangle in inches from the figure's bottom-left corner."""

    x: float
    y: float
    w: float
    h: float


@dataclass
class GridLayout:
    """Cells of `rows` x `cols` (row r has height aspects[r] x the cell width)."""

    width: float  # inches
    rows: int
    cols: int
    aspects: list  # height / width per row
    font: float  # font height in inches
    title_lines: int = 0  # lines of the figure title
    head_lines: int = 1  # lines of the column titles
    row_label_lines: int = 0  # lines of rotated row labels on the left
    caption_lines: int = 0
    colorbar: bool = False
    colorbar_lines: int = 1  # lines of the colour bar's label
    row_heads: bool = False  # every row gets head_lines of titles above it (tile grids)
    cells: list = field(default_factory=list)  # [r][c] Box
    colorbar_box: Box | None = None
    height: float = 0.0
    caption_y: float = 0.0
    title_y: float = 0.0

    def __post_init__(self) -> None:
        f = self.font
        left = 0.02 + self.row_label_lines * 1.25 * f
        right = 0.02 + ((4.0 + 1.2 * self.colorbar_lines) * f if self.colorbar else 0.0)
        cell_w = (self.width - left - right - (self.cols - 1) * GAP) / self.cols
        heights = [cell_w * a for a in self.aspects]
        top = 0.03 + self.title_lines * 1.5 * f + self.head_lines * 1.3 * f
        bottom = 0.03 + self.caption_lines * 1.3 * f
        between = GAP * 1.6 + (self.head_lines * 1.3 * f if self.row_heads else 0.0)
        self.height = top + sum(heights) + between * (self.rows - 1) + bottom
        y = self.height - top
        self.cells = []
        for h in heights:
            y -= h
            self.cells.append([Box(left + c * (cell_w + GAP), y, cell_w, h)
                               for c in range(self.cols)])
            y -= between
        grid_top = self.height - top
        grid_bottom = bottom
        if self.colorbar:
            span = grid_top - grid_bottom
            bar_h = min(span, max(0.8, 0.6 * span)) if self.rows > 1 else span
            self.colorbar_box = Box(self.width - right + 0.6 * f, grid_bottom + (span - bar_h) / 2,
                                    0.9 * f, bar_h)
        self.caption_y = bottom - 0.3 * f
        self.title_y = self.height - 0.03 - 0.2 * f


def wrap(text: str, width_in: float, font_size: float) -> list[str]:
    """`text` broken at spaces into lines no wider than `width_in` inches, each line
    measured in the current font (matplotlib's text-to-path metrics, so inside the figure's
    rc_context: the family asked for), not estimated from a character count."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    if not text:
        return []
    prop = FontProperties(size=font_size)
    measure = TextToPath().get_text_width_height_descent  # advance widths, no outlines
    limit = width_in * 72.0

    def fits(line: str) -> bool:
        return measure(line, prop, ismath=False)[0] <= limit

    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}" if line else word
        if line and not fits(trial):
            lines.append(line)
            trial = word
        line = trial
    return lines + [line]


def fit_label(text: str, length_in: float, font: float, breaks: str = " ") -> str:
    """The label on one line if it fits `length_in` (font height `font` inches), else on
    two lines broken at the space (or other `breaks` character) nearest the middle; a
    hyphen stays at the end of the first line."""
    spots = [i for i, ch in enumerate(text) if ch in breaks]
    if len(text) * 0.55 * font <= length_in or not spots:
        return text
    mid = len(text) // 2
    cut = min(spots, key=lambda i: abs(i - mid))
    if text[cut] == " ":
        return text[:cut] + "\n" + text[cut + 1:]
    return text[:cut + 1] + "\n" + text[cut + 1:]


def add_axes(fig, box: Box, size: tuple[float, float]):
    """An axes at `box` (inches) in a figure of `size` (inches), no ticks, no frame."""
    w, h = size
    ax = fig.add_axes((box.x / w, box.y / h, box.w / w, box.h / h))
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return ax


def fit_pixels(pixels: np.ndarray, box: Box, dpi: float) -> np.ndarray:
    """The bitmap at its own resolution, or shrunk (area average) when it has more than
    1.5x the pixels the print size holds at `dpi` — never enlarged, never smoothed up."""
    import cv2

    h, w = pixels.shape[:2]
    need_w, need_h = box.w * dpi, box.h * dpi
    if w <= 1.5 * need_w and h <= 1.5 * need_h:
        return pixels
    scale = max(need_w / w, need_h / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA)


def show(ax, pixels: np.ndarray, cmap=None, vmin=None, vmax=None):
    """imshow with no interpolation: raster output repeats pixels, vector output embeds
    the bitmap as it is (matplotlib passes unsampled images to the PDF/SVG writers)."""
    h, w = pixels.shape[:2]
    return ax.imshow(pixels, interpolation="none", cmap=cmap, vmin=vmin, vmax=vmax,
                     aspect="auto", extent=(0, w, h, 0), resample=False)


def panel_letter(ax, index: int, font_size: float) -> None:
    """a, b, c … bold, in the panel's top-left corner on a white box."""
    ax.text(0.0, 1.0, _letter(index), transform=ax.transAxes, ha="left", va="top",
            fontsize=font_size + 1, fontweight="bold", color="black",
            bbox={"boxstyle": "square,pad=0.12", "facecolor": "white", "edgecolor": "none"})


def _letter(i: int) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return letters[i] if i < 26 else letters[i // 26 - 1] + letters[i % 26]
