"""Measuring and fitting figure text: widths come from matplotlib's own font metrics
(TextToPath advance widths, in the family of the current rc_context), never from a count of
characters, so a label that is said to fit does fit in the file written.

Breaking: text breaks after a space (the space is dropped) and after '-', '/' or '_' (the
character stays at the end of the line), so "Grad-CAM++" becomes "Grad-" / "CAM++" and a
layer path breaks at its '/'. A piece with no break that is wider than the room is
reported (None), so the caller can shrink the font, give more room, or break it by
characters as a last resort (`hard_wrap`).
"""
from __future__ import annotations

import re

BREAK_AFTER = "-/_"
PT = 72.0  # points per inch
# raster output (Agg) hints glyphs to whole pixels: at low dpi a line can come out a few
# per cent wider than its outline's advance width; room is kept for that
RENDER_SLACK = 1.06


def width_in(text: str, size: float) -> float:
    """The advance width of one line of `text` at `size` points, in inches."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    if not text:
        return 0.0
    w = TextToPath().get_text_width_height_descent(text, FontProperties(size=size), ismath=False)[0]
    return RENDER_SLACK * w / PT


def lines_width(lines, size: float) -> float:
    return max((width_in(line, size) for line in lines), default=0.0)


def pieces(text: str) -> list[tuple[str, str]]:
    """(piece, separator) pairs: separator " " (dropped at a line end) or "" (kept)."""
    out = []
    for word in text.split(" "):
        if not word:
            continue
        parts = re.findall(rf"[^{re.escape(BREAK_AFTER)}]*[{re.escape(BREAK_AFTER)}]+|[^{re.escape(BREAK_AFTER)}]+", word)
        for i, p in enumerate(parts):
            out.append((p, "" if i < len(parts) - 1 else " "))
    return out


def wrap(text: str, room_in: float, size: float) -> list[str] | None:
    """`text` (may hold explicit newlines) as lines no wider than `room_in` inches at `size`
    points, breaking as the module says; None if one unbreakable piece is wider."""
    lines: list[str] = []
    for para in text.split("\n"):
        line, pending = "", ""  # pending: what joins the line to the next piece
        for piece, sep in pieces(para):
            if width_in(piece, size) > room_in:
                return None
            trial = line + pending + piece if line else piece
            if line and width_in(trial, size) > room_in:
                lines.append(line)
                trial = piece
            line, pending = trial, sep
        lines.append(line)
    return lines


def hard_wrap(text: str, room_in: float, size: float) -> list[str]:
    """Like wrap, but a piece wider than the room is cut between characters (last resort)."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for ch in para:
            if line and width_in(line + ch, size) > room_in:
                lines.append(line.rstrip())
                line = ch.lstrip()
            else:
                line += ch
        lines.append(line)
    return lines


def fit(text: str, room_in: float, size: float, floor: float, max_lines: int | None = None):
    """(lines, size used, how): the text wrapped at the largest size from `size` down to
    `floor` (half-point steps) at which it fits in `max_lines` lines; failing that, broken
    between characters at the floor. how: "" (as asked), "shrunk" or "broken"."""
    s = size
    while s >= floor - 1e-9:
        lines = wrap(text, room_in, s)
        if lines is not None and (max_lines is None or len(lines) <= max_lines):
            return lines, s, "" if s == size else "shrunk"
        s -= 0.5
    return hard_wrap(text, room_in, floor), floor, "broken"


def elide(lines: list[str], most: int) -> list[str]:
    """At most `most` lines; the last one kept ends with an ellipsis when lines were cut."""
    if len(lines) <= most:
        return lines
    if most <= 0:
        return []
    return lines[:most - 1] + [lines[most - 1].rstrip() + "…"]
