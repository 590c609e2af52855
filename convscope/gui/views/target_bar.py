"""What the CAM view explains, beyond a class (issue 21): the target row and the region box.

TargetBar: "explain [kind ▾] [spec]" plus, for a segmentation output, "☐ mask". The kinds
offered come from the open model (ModelLoaded.heads / default_target): its class, one
entry per output of a multi-output model (the head picker), a region of a spatial output,
a regression value raised or lowered, a channel sent from the Activations view, or any
spec typed in (the CLI's --target syntax, engine.targets.spec). The spec field always
shows what the maps explain; Enter applies an edited one.

RegionBox: a rectangle on the canvas (pyqtgraph RectROI) for a region target, in the
image's own pixels; dragging or resizing it asks for the map of the new box.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLineEdit, QWidget

from convscope.engine.targets import parse

from .base import caption

TIP = ("What the map explains: the class, one output of the model, a region of a segmentation "
       "output (drag the box on the mask), a regression value, a channel (Activations: "
       "Explain this channel), or any --target spec typed in (Enter applies)")


def kinds_for(loaded, current: str) -> list[tuple[str, str]]:
    """(title, spec) entries of the kind menu for a ModelLoaded; `current` is kept as the
    last entry when none of the others is it."""
    heads = tuple(getattr(loaded, "heads", ()) or ()) if loaded is not None else ()
    default = getattr(loaded, "default_target", "") if loaded is not None else ""
    out: list[tuple[str, str]] = []
    if loaded is not None and loaded.labels and not default.startswith("value"):
        out.append(("class", ""))
    if len(heads) > 1:  # the head picker of a multi-output model
        out += [(f"output {h['name']}", f"output:{h['name']}") for h in heads]
    spatial = [h for h in heads if h.get("segmentation")]
    if spatial:  # the region entry holds the box chosen now (or the whole input)
        out.append(("region of the mask", current if current.startswith("region:") else
                    default if default.startswith("region:") else _whole(loaded)))
    if default.startswith("value") or any(not h["spatial"] and h["shape"] == [1] and
                                          h["activation"] == "linear" for h in heads):
        out += [("value (what raises it)", "value:0"), ("value − (what lowers it)", "value-:0")]
    if current and all(spec != current for _, spec in out):
        try:
            kind = parse(current).kind
        except Exception:  # noqa: BLE001 - a bad spec still shows; the engine says why
            kind = "custom"
        out.append((kind if kind != "unit" else "channel", current))
    return out


def _whole(loaded) -> str:
    shape = getattr(getattr(loaded, "summary", None), "input_shape", None) or ()
    h, w = (shape[0], shape[1]) if len(shape) >= 2 else (None, None)
    return f"region:0,0,{w},{h}" if h and w else ""


class TargetBar(QWidget):
    sigMask = Signal(bool)  # show the predicted mask (a segmentation output)

    def __init__(self, choice, session, parent=None):
        super().__init__(parent)
        self.choice, self.session = choice, session
        self.kind = QComboBox()
        self.kind.setToolTip(TIP)
        self.kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.spec = QLineEdit()
        self.spec.setToolTip(TIP)
        self.spec.setPlaceholderText("the chosen class · or a --target spec")
        self.spec.setMinimumWidth(120)
        self.mask = QCheckBox("mask")
        self.mask.setToolTip("Show the model's predicted mask (a colour per class) and drag the "
                             "box over the region to explain")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(caption("explain"))
        row.addWidget(self.kind)
        row.addWidget(self.spec, 1)
        row.addWidget(self.mask)
        self.kind.activated.connect(self._on_kind)
        self.spec.returnPressed.connect(lambda: choice.set_spec(self.spec.text()))
        self.mask.toggled.connect(self.sigMask)
        choice.sigChanged.connect(self.sync)
        session.sigModelChanged.connect(self.sync)
        self.sync()

    def has_spatial_output(self) -> bool:
        loaded = self.session.model
        return any(h.get("segmentation") for h in (getattr(loaded, "heads", ()) or ())) if loaded else False

    def sync(self) -> None:
        current = self.choice.spec
        entries = kinds_for(self.session.model, current)
        self.kind.blockSignals(True)
        self.kind.clear()
        for title, spec in entries:
            self.kind.addItem(title, spec)
        here = next((i for i, (_, spec) in enumerate(entries) if spec == current), -1)
        if here < 0 and current.startswith("region:"):
            here = next((i for i, (_, spec) in enumerate(entries) if spec.startswith("region:")), -1)
        self.kind.setCurrentIndex(max(0, here))
        self.kind.blockSignals(False)
        self.spec.setText(current)
        spatial = self.has_spatial_output()
        self.mask.setVisible(spatial)
        if not spatial and self.mask.isChecked():
            self.mask.setChecked(False)
        self.setVisible(self.session.model is not None and (self.kind.count() > 1 or bool(current)))

    def _on_kind(self, index: int) -> None:
        spec = self.kind.itemData(index)
        if spec is not None:
            self.choice.set_spec(spec)


class RegionBox(QObject):
    """The box of a region target on an ImageCanvas, in image pixels (x0, y0, x1, y1)."""

    sigMoved = Signal(tuple)  # the box the user left, in image pixels, x1 / y1 exclusive

    def __init__(self, canvas, parent=None):
        super().__init__(parent)
        self.canvas = canvas
        self.roi = pg.RectROI((0, 0), (1, 1), pen=pg.mkPen("#ffffff", width=2),
                              hoverPen=pg.mkPen("#ffd479", width=2), removable=False)
        self.roi.addScaleHandle((0, 0), (1, 1))
        self.roi.setZValue(10)
        self.roi.hide()
        canvas.box.addItem(self.roi)
        self.roi.sigRegionChangeFinished.connect(self._on_finished)
        self._setting = False

    def show_box(self, box: tuple, bounds: tuple) -> None:
        """Show `box` (image pixels) on an image of `bounds` = (H, W)."""
        H, W = bounds
        self._setting = True
        self.roi.maxBounds = pg.QtCore.QRectF(0, 0, W, H)
        x0, y0, x1, y1 = box
        self.roi.setPos((x0, y0), update=False, finish=False)
        self.roi.setSize((x1 - x0, y1 - y0), update=True, finish=False)
        self.roi.show()
        self._setting = False

    def hide(self) -> None:
        self.roi.hide()

    def box(self) -> tuple:
        """The box now, in whole image pixels (rounded outwards)."""
        x, y = self.roi.pos()
        w, h = self.roi.size()
        return (int(np.floor(x)), int(np.floor(y)), int(np.ceil(x + w)), int(np.ceil(y + h)))

    def _on_finished(self, *_):
        if not self._setting and self.roi.isVisible():
            self.sigMoved.emit(self.box())

