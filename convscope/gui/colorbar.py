"""A thin colour-map legend: what low and high mean in the picture above it."""
from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from convscope.engine import colormaps

from .qimage import to_pixmap


class ColorBar(QWidget):
    def __init__(self, low: str, high: str, colormap: str = "viridis", parent=None):
        super().__init__(parent)
        self.low, self.high = QLabel(low), QLabel(high)
        for label in (self.low, self.high):
            label.setStyleSheet("color: #666; font-size: 11px;")
            label.setWordWrap(True)  # "strong evidence for <a long class name>" wraps
        self.bar = QLabel()
        self.bar.setFixedSize(160, 10)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(6)
        row.addWidget(self.low)
        row.addWidget(self.bar)
        row.addWidget(self.high)
        self.set_colormap(colormap)

    def set_colormap(self, name: str) -> None:
        ramp = colormaps.apply(np.linspace(0.0, 1.0, 160)[None, :].repeat(10, axis=0), name)
        self.bar.setPixmap(to_pixmap(ramp))

    def set_text(self, low: str, high: str) -> None:
        self.low.setText(low)
        self.high.setText(high)
