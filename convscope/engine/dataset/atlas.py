"""The examples atlas: each channel's top-k dataset crops in a row, as PNG or PDF.

PNG: a plain tiled picture (engine.grid.tile), one row per channel, best example first.
PDF: matplotlib's object API (no pyplot), 16 channels a page, each row titled with its
channel and each crop with its score and file name.
"""
from __future__ import annotations

import os

import numpy as np

from .. import grid
from ..errors import UserError
from ..outputs import write_file, save_png
from .examples import crops

CELL = 64
PER_PAGE = 16


def write(index: dict, out: str, k: int | None = None, channels=None) -> int:
    """Write the atlas to `out` (.png or .pdf); returns the number of crops drawn."""
    ext = os.path.splitext(out)[1].lower()
    if ext not in (".png", ".pdf"):
        raise UserError(f"cannot write {out}: the atlas is a .pdf or .png file")
    k = k or index["k"]
    wanted = [c["channel"] for c in index["channels"]] if channels is None else list(channels)
    rows = [(ch, crops(index, ch, CELL)[:k]) for ch in wanted]
    if ext == ".png":
        tiles = np.full((len(rows) * k, CELL, CELL, 3), 255, np.uint8)
        for r, (_, cs) in enumerate(rows):
            for j, (img, _) in enumerate(cs):
                tiles[r * k + j] = img
        save_png(out, grid.tile(tiles, per_row=k, margin=2, fill=255))
    else:
        _pdf(out, rows, k, index)
    return sum(len(cs) for _, cs in rows)


def image_count(index: dict) -> str:
    """'40 images' (and the unreadable files skipped, if any): files that could not be read
    are not images, so they are not counted as such."""
    errors = len(index.get("errors", ()))
    n = index.get("images", index["files"] - errors)
    text = f"{n} image{'s' if n != 1 else ''}"
    return text + (f" ({errors} unreadable file{'s' if errors != 1 else ''} skipped)" if errors else "")


def _pdf(out: str, rows, k: int, index: dict) -> None:
    from matplotlib.backends.backend_pdf import PdfPages
    from matplotlib.figure import Figure

    pages = [rows[i:i + PER_PAGE] for i in range(0, len(rows), PER_PAGE)] or [[]]
    figs = []
    for page in pages:
        fig = Figure(figsize=(1.1 * k + 0.8, 1.25 * max(1, len(page)) + 0.6), layout="constrained")
        fig.suptitle(f"{index['layer']}: top {k} of {image_count(index)} by {index['score']} "
                     f"activation (receptive field {index['receptive_field']['size'][0]} px)",
                     fontsize=9)
        axes = fig.subplots(max(1, len(page)), k, squeeze=False)
        for r, (ch, cs) in enumerate(page):
            for j in range(k):
                ax = axes[r][j]
                ax.set_xticks([])
                ax.set_yticks([])
                if j < len(cs):
                    img, ex = cs[j]
                    ax.imshow(img)
                    ax.set_title(f"{ex['score']:.3g} {os.path.basename(ex['path'])[:14]}", fontsize=5)
                else:
                    ax.axis("off")
            axes[r][0].set_ylabel(f"ch {ch}", fontsize=8)
        figs.append(fig)

    def write_pdf(tmp):
        with PdfPages(tmp) as pdf:
            for f in figs:
                pdf.savefig(f)

    write_file(out, write_pdf)
