"""The small multiples of a run (File ▸ Open run…): a grid of class maps, one row per epoch
and one column per probe image, each cell the map over its image with the prediction below
it; the selected epoch's row is highlighted; clicking a cell selects that epoch (and that
probe image in the window).

At most MAX_ROWS epochs get a row (the first, the last, and evenly between, as the
`timeline` figure); an epoch without a row highlights the nearest row before it.

Only drawing here: the pictures come from the run's recorded maps (gui/run_timeline.py)
or from maps the engine computed on demand for a folder of checkpoints
(gui/run_epochs.py). Memory: one small pixmap per cell (THUMB px a side, 4 bytes a pixel:
64 x 64 x 4 = 16 KB), so at most MAX_ROWS x 8 probes = 13 MB.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from .qimage import to_qimage

THUMB = 64  # side of a cell's picture
MAX_ROWS = 100  # epochs with a row


def rows_for(epochs: list[int], limit: int | None = None) -> list[int]:
    """The epochs that get a row: all of them, or `limit` spread over the run (first and last kept)."""
    limit = MAX_ROWS if limit is None else limit
    if len(epochs) <= limit:
        return list(epochs)
    idx = np.unique(np.round(np.linspace(0, len(epochs) - 1, limit)).astype(int))
    return [epochs[i] for i in idx]
SELECTED = "#cell { border: 2px solid #e08000; background: #fff3e0; }"
PLAIN = "#cell { border: 2px solid transparent; }"
ROW_SELECTED, ROW_PLAIN = "font-weight: bold; color: #e08000;", ""


class Cell(QFrame):
    """One map of one probe image at one epoch, the prediction below; a click selects both."""

    sigClicked = Signal(int, int)  # epoch, image index

    def __init__(self, epoch: int, image: int):
        super().__init__()
        self.epoch, self.image = epoch, image
        self.rgb: np.ndarray | None = None  # the picture drawn (before scaling), for tests
        self.caption = ""
        self.setObjectName("cell")
        box = QVBoxLayout(self)
        box.setContentsMargins(1, 1, 1, 1)
        box.setSpacing(0)
        self.pic = QLabel()
        self.pic.setFixedSize(THUMB, THUMB)
        self.pic.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel("…")
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = self.text.font()
        font.setPointSizeF(max(6.0, font.pointSizeF() * 0.8))
        self.text.setFont(font)
        self.text.setMaximumWidth(THUMB + 4)
        box.addWidget(self.pic)
        box.addWidget(self.text)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setStyleSheet(PLAIN)

    def mousePressEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        if event.button() == Qt.MouseButton.LeftButton:
            self.sigClicked.emit(self.epoch, self.image)
        super().mousePressEvent(event)


class EpochStrip(QScrollArea):
    """Rows: epochs; columns: images. `on_click(epoch, image)` is called on a click."""

    def __init__(self, on_click=None):
        super().__init__()
        self.on_click = on_click
        self.setWidgetResizable(True)
        self.setMinimumHeight(THUMB + 48)
        self.cells: dict[tuple[int, int], Cell] = {}
        self.rows: dict[int, QLabel] = {}  # epoch -> its row label
        self.epochs: list[int] = []
        self.selected: int | None = None
        self.setWidget(QWidget())

    def setup(self, epochs: list[int], names: list[str]) -> None:
        """An empty grid for `epochs` x `names` (the probe images)."""
        self.cells, self.rows, self.epochs, self.selected = {}, {}, list(epochs), None
        body = QWidget()
        grid = QGridLayout(body)
        grid.setSpacing(2)
        grid.setContentsMargins(2, 2, 2, 2)
        for c, name in enumerate(names):
            head = QLabel(name)
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            head.setMaximumWidth(THUMB + 6)
            grid.addWidget(head, 0, c + 1)
        for r, epoch in enumerate(self.epochs):
            label = QLabel(f"epoch {epoch}")
            label.setStyleSheet(ROW_PLAIN)
            grid.addWidget(label, r + 1, 0)
            self.rows[epoch] = label
            for c in range(len(names)):
                cell = Cell(epoch, c)
                cell.sigClicked.connect(self._clicked)
                grid.addWidget(cell, r + 1, c + 1)
                self.cells[(epoch, c)] = cell
        grid.setColumnStretch(len(names) + 1, 1)
        grid.setRowStretch(len(self.epochs) + 1, 1)
        self.setWidget(body)

    def fill(self, epoch: int, image: int, rgb: np.ndarray | None, caption: str) -> None:
        cell = self.cells.get((epoch, image))
        if cell is None:
            return
        cell.rgb, cell.caption = rgb, caption
        if rgb is not None:
            pm = QPixmap.fromImage(to_qimage(np.ascontiguousarray(rgb)))
            cell.pic.setPixmap(pm.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation))
        else:
            cell.pic.clear()
        cell.text.setText(caption)
        cell.setToolTip(f"epoch {epoch}, image {image + 1}: {caption}")

    def select(self, epoch: int) -> None:
        """Highlight the row of `epoch`, or of the nearest epoch before it with a row (and
        scroll to it)."""
        before = [e for e in self.epochs if e <= epoch]
        epoch = before[-1] if before else (self.epochs[0] if self.epochs else epoch)
        self.selected = epoch
        for (e, _), cell in self.cells.items():
            cell.setStyleSheet(SELECTED if e == epoch else PLAIN)
        for e, label in self.rows.items():
            label.setStyleSheet(ROW_SELECTED if e == epoch else ROW_PLAIN)
        if epoch in self.rows:
            self.ensureWidgetVisible(self.rows[epoch], 0, 4)

    def _clicked(self, epoch: int, image: int) -> None:
        if self.on_click is not None:
            self.on_click(epoch, image)
