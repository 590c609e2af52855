"""An image canvas for every view: pyqtgraph ViewBox + ImageItem, or a message instead.

Arrays go in as numpy (H, W[, 3]) uint8 (`imageAxisOrder='row-major'`); the canvas keeps
the aspect ratio, pans and zooms with the mouse, resets on double-click, and reports the
pixel under the mouse (`sigHover`) and clicks (`sigClicked`) in array coordinates.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import QLabel, QSizePolicy, QStackedWidget

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

BACKGROUND = "#1f2124"


class ImageCanvas(QStackedWidget):
    sigHover = Signal(int, int)  # row, col under the mouse; (-1, -1) outside the image
    sigClicked = Signal(int, int, object)  # row, col, Qt.KeyboardModifiers
    sigMessageClicked = Signal()  # the message shown instead of a picture was clicked
    sigResized = Signal()

    def __init__(self, message: str = "", parent=None):
        super().__init__(parent)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(BACKGROUND)
        self.view.setAcceptDrops(False)  # drops go to the window
        self.view.ci.setContentsMargins(4, 4, 4, 4)
        self.box = self.view.addViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.box.setDefaultPadding(0.02)
        self.item = pg.ImageItem()
        self.box.addItem(self.item)
        self.label = QLabel(message)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setWordWrap(True)
        self.label.setStyleSheet(f"background: {BACKGROUND}; color: #c8c8c8; padding: 24px;"
                                 "font-size: 13px;")
        # a long message wraps inside the canvas, never widens the window
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.label.installEventFilter(self)
        # a sentence over the picture (e.g. "no evidence for <class> ..."): the map is shown
        # and said to be empty
        self.note = QLabel(self.view)
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.note.setStyleSheet("background: rgba(20, 20, 20, 200); color: #ffd479; "
                                "padding: 6px; font-size: 13px;")
        self.note.hide()
        self.addWidget(self.view)
        self.addWidget(self.label)
        self.setCurrentWidget(self.label)
        self.image: np.ndarray | None = None
        scene = self.view.scene()
        scene.sigMouseMoved.connect(self._on_mouse_moved)
        scene.sigMouseClicked.connect(self._on_mouse_clicked)

    def set_image(self, image: np.ndarray, reset_view: bool | None = None) -> None:
        """Show an array; the view is reset when the shape changed (or if asked)."""
        image = np.ascontiguousarray(image)
        changed = self.image is None or self.image.shape[:2] != image.shape[:2]
        self.image = image
        self.item.setImage(image, autoLevels=False, levels=(0, 255))
        self.setCurrentWidget(self.view)
        if changed if reset_view is None else reset_view:
            self.box.autoRange(padding=0.02)

    def set_note(self, text: str) -> None:
        """A sentence over the picture ("" hides it)."""
        self.note.setText(text)
        self.note.setVisible(bool(text))
        self._place_note()

    def note_text(self) -> str:
        return self.note.text() if not self.note.isHidden() else ""

    def _place_note(self) -> None:
        if not self.note.isHidden():
            w = max(60, self.view.width() - 16)
            self.note.setFixedWidth(w)
            self.note.adjustSize()
            self.note.move(8, 8)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_note()
        self.sigResized.emit()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.label and event.type() == QEvent.Type.MouseButtonPress:
            self.sigMessageClicked.emit()
        return super().eventFilter(obj, event)

    def show_message(self, text: str) -> None:
        """Replace the picture by a sentence (nothing to show, or why not)."""
        self.set_note("")
        self.image = None
        self.item.clear()
        self.label.setText(text)
        self.setCurrentWidget(self.label)

    def showing_image(self) -> bool:
        return self.currentWidget() is self.view and self.image is not None

    def message(self) -> str:
        return "" if self.showing_image() else self.label.text()

    def _pixel(self, scene_pos) -> tuple[int, int]:
        if self.image is None or not self.box.sceneBoundingRect().contains(scene_pos):
            return -1, -1
        p = self.box.mapSceneToView(scene_pos)
        row, col = int(np.floor(p.y())), int(np.floor(p.x()))
        h, w = self.image.shape[:2]
        return (row, col) if 0 <= row < h and 0 <= col < w else (-1, -1)

    def _on_mouse_moved(self, scene_pos) -> None:
        self.sigHover.emit(*self._pixel(scene_pos))

    def _on_mouse_clicked(self, event) -> None:
        if event.double():
            self.box.autoRange(padding=0.02)
            return
        if event.button() != Qt.MouseButton.LeftButton:
            return
        row, col = self._pixel(event.scenePos())
        if row >= 0:
            self.sigClicked.emit(row, col, event.modifiers())
