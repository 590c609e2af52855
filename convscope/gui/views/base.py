"""What every view shares: a controls row above a picture, refreshing only while visible.

A view turns the session (model, image, layer) and its own options into engine jobs. It is
marked dirty when its inputs change and asks the engine only when it is the current tab;
changes arriving together (model, then layer) are coalesced into one request per turn of
the event loop. `figure()` is what Export saves: the picture at its own resolution.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QComboBox, QLabel, QSplitter, QVBoxLayout,
                               QWidget)

from convscope.engine import jobs as J

from ..flow_layout import FlowLayout
from ..layer_tree import shape_text, visualisable


CANCELLED = "cancelled — click to compute"


class View(QWidget):
    key = "view"
    title = "View"
    channel = ""

    def __init__(self, session, client, settings, parent=None):
        super().__init__(parent)
        self.session, self.client, self.settings = session, client, settings
        self.active = False
        self.dirty = True
        self._scheduled = False
        self.controls = FlowLayout()  # wraps onto more rows in a narrow window
        self.controls.setContentsMargins(0, 0, 0, 0)
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(6, 6, 6, 6)
        self.layout_.addLayout(self.controls)
        self.was_cancelled = False  # its request was cancelled: nothing computed until asked
        if self.channel:
            client.subscribe(J.JobFailed, self.job_failed, channel=self.channel)
            client.sigCancelled.connect(self._on_cancelled)
        self._click_hooked = False

    def add_controls(self, *items) -> None:
        """Widgets left to right, wrapping when the view is narrow; an int is a stretch.
        A caption() stays on the row of the control after it."""
        for item in items:
            if isinstance(item, int):
                self.controls.add_stretch(item)
            else:
                self.controls.add_widget(item, keep_with_next=bool(item.property("caption")))

    # -- refresh cycle ----------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        self.active = active
        if active and self.dirty:
            self.schedule()

    def invalidate(self) -> None:
        self.dirty = True
        self.was_cancelled = False
        if self.active:
            self.schedule()

    # -- cancel -------------------------------------------------------------------------------
    def _on_cancelled(self, channel: str) -> None:
        if channel == self.channel:
            self.was_cancelled = True
            self.dirty = False  # not asked again by itself (tab switches too): a click asks
            self.show_cancelled()

    def show_cancelled(self) -> None:
        """The view's request was cancelled: say so where the picture would be (override
        to keep finished parts). Clicking the message computes it (compute_again)."""
        canvas = getattr(self, "canvas", None)
        if canvas is not None:
            canvas.show_message(CANCELLED)
            if not self._click_hooked:
                canvas.sigMessageClicked.connect(self._on_message_clicked)
                self._click_hooked = True
        info = getattr(self, "info", None)
        if info is not None:
            info.setText(CANCELLED)

    def _on_message_clicked(self) -> None:
        if self.was_cancelled:
            self.compute_again()

    def compute_again(self) -> None:
        """Ask again for what a cancel stopped."""
        self.was_cancelled = False
        self.invalidate()

    def schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            QTimer.singleShot(0, self._refresh)

    def settled(self) -> bool:
        """Nothing left to ask for or wait on (the screenshot waits for this)."""
        return not self._scheduled and not (self.active and self.dirty) and \
            not (self.channel and self.client.pending(self.channel))

    def _refresh(self) -> None:
        self._scheduled = False
        if self.active and self.dirty:
            self.dirty = False
            self.request()

    def request(self) -> None:  # override: send a job, or say why there is nothing to show
        raise NotImplementedError

    def figure(self) -> np.ndarray | None:  # override
        return None

    def add_picture(self, canvas: QWidget, detail: QWidget | None = None) -> None:
        """The picture below the controls, with a side panel hidden until `reveal`ed."""
        self.split = QSplitter()
        self.split.addWidget(canvas)
        if detail is not None:
            detail.hide()
            self.split.addWidget(detail)
            self.split.setStretchFactor(0, 3)
            self.split.setStretchFactor(1, 2)
        self.layout_.addWidget(self.split, 1)

    def reveal(self, detail: QWidget) -> None:
        """Show the side panel of `self.split` at a useful width (2/5) the first time."""
        if not detail.isVisible():
            detail.show()
            total = sum(self.split.sizes())
            if detail.width() < total // 3:
                self.split.setSizes([total - total * 2 // 5, total * 2 // 5])

    def job_failed(self, result) -> None:  # the view's job failed (result.message says why)
        pass

    # -- shared checks ------------------------------------------------------------------------
    def missing_input(self, need_image: bool = True, need_spatial_layer: bool = True) -> str:
        """Why this view cannot show anything now ("" if it can)."""
        s = self.session
        if s.model is None and s.loading:
            return f"Opening {s.loading}…"
        if s.model is None:
            return "Open a model: File ▸ Open model, a built-in one, or drop a .keras/.h5 file here."
        if s.model.summary.predict_only:
            return s.model.summary.note or "This model can only predict."
        if need_image and s.image is None:
            return "Open an image: drop image files anywhere on the window, or paste one (Ctrl+V)."
        if need_spatial_layer:
            info = s.layer_info()
            if info is None:
                return "Select a layer in the tree on the left."
            if info.class_name == "InputLayer":
                return (f"{info.path} is the model's input: it passes the image on.\n"
                        "Pick a later layer marked ● in the tree.")
            if not visualisable(info):
                return (f"{info.path} ({info.class_name}) outputs {shape_text(info.output_shape)}: "
                        "no channels to draw as images.\nPick a layer marked ● in the tree.")
        return ""


def combo(items, current=None, tooltip: str = "") -> QComboBox:
    box = QComboBox()
    for item in items:
        box.addItem(item)
    if current is not None and current in items:
        box.setCurrentText(current)
    box.setToolTip(tooltip)
    return box


def caption(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("color: #555;")
    label.setProperty("caption", True)  # names the control after it (kept on its row)
    return label
