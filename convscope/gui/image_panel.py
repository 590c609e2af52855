"""The right panel: the current image (pyqtgraph canvas), the strip of open images, and
the model's top-5 predictions for the current image."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (QAbstractItemView, QLabel, QListView, QListWidget,
                               QListWidgetItem, QVBoxLayout, QWidget)

from .canvas import ImageCanvas
from .predictions import PredictionBars
from .qimage import thumbnail, to_pixmap

THUMB = 64


class ImageStrip(QListWidget):
    """Thumbnails of the open images; Delete removes the selected one."""

    sigRemove = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(THUMB, THUMB))
        self.setFixedHeight(THUMB + 30)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAcceptDrops(False)
        self.setSpacing(2)
        self.setStyleSheet("QListWidget::item { border: 2px solid transparent; padding: 0; }"
                           "QListWidget::item:selected { border: 2px solid #3d8bd9;"
                           " background: transparent; }")
        self.setToolTip("Open images — click to analyse one, Delete to close it")

    def keyPressEvent(self, event) -> None:
        item = self.currentItem()
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and item is not None:
            self.sigRemove.emit(item.data(Qt.ItemDataRole.UserRole))
            return
        super().keyPressEvent(event)


class ImagePanel(QWidget):
    sigImageChosen = Signal(object)  # engine.images.Image
    sigRemoveImage = Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.title = QLabel("Drop image files anywhere · Ctrl+V pastes")
        self.title.setStyleSheet("color: #777;")
        self.title.setWordWrap(True)
        self.canvas = ImageCanvas("Drop image files anywhere on the window,\n"
                                  "open them with File ▸ Open images (Ctrl+I),\n"
                                  "or paste one with Ctrl+V.")
        self.canvas.setMinimumHeight(220)
        self.strip = ImageStrip()
        self.caption = QLabel()
        self.caption.setStyleSheet("color: #555;")
        self.predictions = PredictionBars()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.caption)
        layout.addWidget(self.strip)
        heading = QLabel("<b>Predictions</b> <span style='color:#777'>top 5 · click one "
                         "for its CAM</span>")
        heading.setWordWrap(True)
        layout.addWidget(heading)
        layout.addWidget(self.predictions)
        self.strip.currentItemChanged.connect(self._on_strip_changed)
        self.strip.sigRemove.connect(self.sigRemoveImage)
        self._updating = False

    def set_images(self, images, current) -> None:
        self._updating = True
        try:
            self.strip.clear()
            for image in images:
                item = QListWidgetItem(QIcon(to_pixmap(thumbnail(image.pixels, THUMB))), "")
                item.setData(Qt.ItemDataRole.UserRole, image)
                item.setToolTip(f"{image.name}\n{image.size[1]}×{image.size[0]} px")
                item.setSizeHint(QSize(THUMB + 8, THUMB + 8))
                self.strip.addItem(item)
        finally:
            self._updating = False
        self.set_current(current)

    def set_current(self, image) -> None:
        self._updating = True
        try:
            for row in range(self.strip.count()):
                if self.strip.item(row).data(Qt.ItemDataRole.UserRole) is image:
                    self.strip.setCurrentRow(row)
        finally:
            self._updating = False
        if image is None:
            self.canvas.show_message("No image open.\nDrop image files anywhere on the window "
                                     "or paste one with Ctrl+V.")
            self.caption.setText("")
            self.predictions.set_message("no image")
            return
        self.canvas.set_image(image.pixels)
        h, w = image.size
        self.caption.setText(f"{image.name} · {w}×{h} px")
        self.predictions.set_message("predicting…")

    def _on_strip_changed(self, current, _previous) -> None:
        if current is not None and not self._updating:
            self.sigImageChosen.emit(current.data(Qt.ItemDataRole.UserRole))
