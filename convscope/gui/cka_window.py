"""Tools ▸ Representation similarity (CKA)…: linear CKA between every spatial layer of the
open model (A) and of another model file (B) — or of A itself — over a folder of images,
drawn as a layer x layer heatmap (rows: A's layers, top to bottom; columns: B's layers),
the two layer names and the value on hover.

The engine thread computes it (engine.learning.jobs.LayerCKA: one minibatch at a time,
progress and Cancel in the status bar); here only the drawing: values in [0, 1] through
the magma colour map (engine.colormaps, as the `cka` figure), grey where a layer did not
vary over the images (CKA undefined).
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget)

from convscope.engine import colormaps
from convscope.engine import jobs as J
from convscope.engine.learning.jobs import CKAReady, LayerCKA

from .colorbar import ColorBar

COLORMAP = "magma"
UNDEFINED = (128, 128, 128)  # a layer constant over the images


def heatmap_rgb(matrix: np.ndarray) -> np.ndarray:
    """(rows, cols, 3) uint8: CKA clipped to [0, 1] through the colour map, NaN grey."""
    m = np.asarray(matrix, np.float64)
    bad = ~np.isfinite(m)
    rgb = colormaps.apply(np.clip(np.where(bad, 0.0, m), 0.0, 1.0), COLORMAP)
    rgb[bad] = UNDEFINED
    return rgb


class CkaDialog(QDialog):
    """Model B (empty: the open model itself), the image folder, the minibatch size."""

    def __init__(self, parent, folder: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Representation similarity (CKA)")
        form = QFormLayout(self)
        self.model_b = QLineEdit()
        self.model_b.setPlaceholderText("empty: the open model against itself")
        form.addRow("Model B", _with_browse(self.model_b, self._browse_model))
        self.images = QLineEdit(folder)
        self.images.setPlaceholderText("a folder of images (at least 4)")
        form.addRow("Images", _with_browse(self.images, self._browse_images))
        self.batch = QSpinBox()
        self.batch.setRange(4, 1024)
        self.batch.setValue(32)
        self.batch.setToolTip("Images per minibatch: memory does not grow with the folder")
        form.addRow("Minibatch", self.batch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model B", "", "Keras models (*.keras *.h5 *.hdf5)")
        if path:
            self.model_b.setText(path)

    def _browse_images(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "A folder of images")
        if folder:
            self.images.setText(folder)


def _with_browse(edit: QLineEdit, slot) -> QWidget:
    box = QWidget()
    row = QHBoxLayout(box)
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(edit, 1)
    button = QPushButton("Browse…")
    button.clicked.connect(lambda *_: slot())
    row.addWidget(button)
    return box


class CkaHeatmap(QDialog):
    """The layer x layer heatmap (pyqtgraph), names and value of the cell under the mouse."""

    def __init__(self, parent):
        import pyqtgraph as pg

        super().__init__(parent)
        self.setWindowTitle("Representation similarity (CKA)")
        self.resize(560, 560)
        box = QVBoxLayout(self)
        self.title = QLabel()
        self.title.setWordWrap(True)
        box.addWidget(self.title)
        self.plot = pg.PlotWidget()
        self.plot.setAspectLocked(True)
        self.plot.invertY(True)  # A's first layer on top, as in the figure
        self.plot.setLabel("left", "layers of A")
        self.plot.setLabel("bottom", "layers of B")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        box.addWidget(self.plot, 1)
        self.hover = QLabel("Point at a cell: the two layers and their CKA.")
        box.addWidget(self.hover)
        box.addWidget(ColorBar("0: unrelated", "1: the same up to rotation and scale", COLORMAP))
        self.result: CKAReady | None = None
        self.plot.scene().sigMouseMoved.connect(self._on_mouse)

    def set_result(self, r: CKAReady) -> None:
        self.result = r
        self.rgb = heatmap_rgb(r.matrix)
        self.image.setImage(self.rgb, levels=(0, 255))
        rows, cols = r.matrix.shape
        self.plot.setRange(xRange=(0, cols), yRange=(0, rows), padding=0.02)
        for axis, names in (("left", r.layers_a), ("bottom", r.layers_b)):
            ticks = [(i + 0.5, str(i + 1)) for i in range(len(names))]
            step = max(1, len(ticks) // 20)
            self.plot.getAxis(axis).setTicks([ticks[::step]])
        self.title.setText(f"Linear CKA over {r.images} images (unbiased HSIC, minibatches of "
                           f"{r.batch_size}): rows {r.name_a} (A), columns {r.name_b} (B); "
                           "grey: a layer constant over the images.")
        self.hover.setText("Point at a cell: the two layers and their CKA.")

    def cell_text(self, row: int, col: int) -> str:
        r = self.result
        v = float(r.matrix[row, col])
        value = f"{v:.4f}" if np.isfinite(v) else "undefined (a layer constant over the images)"
        return f"A {r.layers_a[row]} × B {r.layers_b[col]}: CKA {value}"

    def scene_pos(self, row: int, col: int) -> QPointF:
        """Where the centre of a cell is in the plot's scene (for the hover, and tests)."""
        return self.image.mapToScene(QPointF(col + 0.5, row + 0.5))

    def _on_mouse(self, pos) -> None:
        if self.result is None:
            return
        p = self.image.mapFromScene(pos)
        rows, cols = self.result.matrix.shape
        col, row = int(np.floor(p.x())), int(np.floor(p.y()))
        if 0 <= row < rows and 0 <= col < cols:
            self.hover.setText(self.cell_text(row, col))


class RepresentationSimilarity:
    def __init__(self, window):
        self.w = window
        self.view: CkaHeatmap | None = None
        self.result: CKAReady | None = None
        self.folder = ""
        menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "Tools"), None)
        if menu is None:
            menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "File"), None)
        self.action = QAction("Representation similarity (CKA)…", window)
        self.action.setStatusTip("Linear CKA between the layers of the open model and another "
                                 "(or itself) over a folder of images: a layer x layer heatmap")
        self.action.triggered.connect(lambda *_: self.ask())
        if menu is not None:
            menu.addAction(self.action)
        window.client.subscribe(CKAReady, self._on_result)
        window.client.subscribe(J.JobFailed, self._on_failed, channel=LayerCKA.channel)

    def ask(self) -> None:
        if self.w.session.model is None:
            self.w.notify("Open a model first: it is model A.", "info")
            return
        dialog = CkaDialog(self.w, self.folder)
        if dialog.exec():
            self.compute(dialog.images.text().strip(), dialog.model_b.text().strip() or None,
                         dialog.batch.value())

    def compute(self, images: str, spec_b: str | None = None, batch_size: int = 32) -> bool:
        """Send the job (A: the open model); the heatmap opens when it is done."""
        if self.w.session.model is None:
            self.w.notify("Open a model first: it is model A.", "info")
            return False
        if not images:
            self.w.notify("Give a folder of images for CKA.", "info")
            return False
        self.folder = images
        self.result = None
        self.w.client.send(LayerCKA(images=os.path.abspath(images) if os.path.isdir(images) else images,
                                    spec_b=spec_b, batch_size=batch_size))
        return True

    def _on_failed(self, r) -> None:
        if not r.internal:  # the window reports internal failures itself
            self.w.notify(r.message)

    def _on_result(self, r: CKAReady) -> None:
        self.result = r
        if self.view is None:
            self.view = CkaHeatmap(self.w)
        self.view.set_result(r)
        self.view.show()
        self.view.raise_()
