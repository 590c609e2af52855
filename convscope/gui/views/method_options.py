"""The per-method knobs of the CAM view: the pixel attributions' options and CAM smoothing.

Only the knobs of the chosen method are visible; their values travel in the job as
(name, value) pairs, named as the API's keyword arguments (engine.attribution).
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QSpinBox, QWidget

from convscope.engine.cam import registry

from .base import caption

# name -> (label, minimum, maximum, default, methods, tip)
SPINS = {
    "samples": ("N", 1, 1000, 50, ("smoothgrad",), "SmoothGrad: noisy copies averaged"),
    "steps": ("steps", 2, 4096, 64, ("integrated-gradients",),
              "Integrated Gradients: path steps (more: smaller completeness error)"),
    "patch": ("patch", 1, 512, 0, ("occlusion",),
              "Occlusion: side of the grey square in pixels (0: an eighth of the input)"),
    "masks": ("masks", 10, 20000, 1000, ("rise",), "RISE: random masks"),
}
BASELINES = ("black", "blurred", "noise")


class MethodOptions(QWidget):
    sigChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.spins: dict[str, tuple] = {}
        for name, (label, lo, hi, default, methods, tip) in SPINS.items():
            spin = QSpinBox(minimum=lo if name != "patch" else 0, maximum=hi, value=default)
            spin.setToolTip(tip)
            spin.setKeyboardTracking(False)
            cap = caption(label)
            row.addWidget(cap)
            row.addWidget(spin)
            self.spins[name] = (cap, spin, methods)
            spin.valueChanged.connect(self.sigChanged)
        self.baseline = QComboBox()
        self.baseline.addItems(BASELINES)
        self.baseline.setToolTip("Integrated Gradients: the image the path starts from")
        self.baseline_label = caption("from")
        row.addWidget(self.baseline_label)
        row.addWidget(self.baseline)
        self.baseline.currentIndexChanged.connect(self.sigChanged)
        self.aug = QCheckBox("aug smooth")
        self.aug.setToolTip("Average over flipped and zoomed copies of the image (4 passes)")
        self.eigen = QCheckBox("eigen smooth")
        self.eigen.setToolTip("First principal component of the weighted feature maps")
        for box in (self.aug, self.eigen):
            row.addWidget(box)
            box.toggled.connect(self.sigChanged)
        self.method = ""
        self.show_for("")

    def show_for(self, method: str) -> None:
        self.method = method or ""
        for cap, spin, methods in self.spins.values():
            cap.setVisible(self.method in methods)
            spin.setVisible(self.method in methods)
        ig = self.method == "integrated-gradients"
        self.baseline.setVisible(ig)
        self.baseline_label.setVisible(ig)
        cam = bool(self.method) and registry.get(self.method).kind == "cam"
        self.aug.setVisible(cam)
        self.eigen.setVisible(cam and self.method != "eigencam")

    def options(self, method: str | None = None) -> tuple:
        """(name, value) pairs for `method` (default: the one shown)."""
        method = self.method if method is None else method
        out = []
        for name, (_, spin, methods) in self.spins.items():
            if method in methods and not (name == "patch" and spin.value() == 0):
                out.append((name, spin.value()))
        if method == "integrated-gradients":
            out.append(("baseline", self.baseline.currentText()))
        if method and registry.get(method).kind == "cam":
            if self.aug.isChecked():
                out.append(("aug_smooth", True))
            if self.eigen.isChecked() and method != "eigencam":
                out.append(("eigen_smooth", True))
        return tuple(out)
