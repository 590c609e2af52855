"""File ▸ Compare with model…: the open model (A) and another model file (B, e.g. another
checkpoint of a run) on the current image and layer — A's map, B's map (both for A's top
class) and their signed difference B − A (coolwarm, symmetric about 0); both activation
grids of the layer (one colour scale for both), each channel's mean activation in A and B
and its change B − A (pyqtgraph); both models' top predictions; the filter patterns of the
most-changed channels in A and in B side by side; the layers that have no counterpart.
The engine thread computes it all (engine.learning.jobs); here only the drawing."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import QDialog, QFileDialog, QGridLayout, QLabel, QScrollArea, QWidget

from convscope.engine import jobs as J
from convscope.engine.learning.jobs import CompareModel, ModelCompared

from .qimage import to_qimage

SIDE = 224  # each picture's side in the dialog


class ModelComparison:
    def __init__(self, window):
        self.w = window
        self.result: ModelCompared | None = None
        self.dialog: QDialog | None = None
        file_menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "File"), None)
        self.action = QAction("Compare with model…", window)
        self.action.setStatusTip("Another model (e.g. another checkpoint) on this image and layer: "
                                 "both maps and their difference")
        self.action.triggered.connect(lambda *_: self.ask())
        if file_menu is not None:
            file_menu.insertAction(window.actions_.open_images, self.action)
        window.client.subscribe(ModelCompared, self._on_result)
        window.client.subscribe(J.JobFailed, self._on_failed, channel=CompareModel.channel)

    def ask(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.w, "Compare with model", "",
                                              "Keras models (*.keras *.h5 *.hdf5)")
        if path:
            self.compare(path)

    def compare(self, spec: str) -> bool:
        s = self.w.session
        if s.model is None or s.image is None:
            self.w.notify("Open a model and an image first.", "info")
            return False
        method = self.w.cam_view.current_method() or "gradcam"
        self.w.client.send(CompareModel(spec_b=spec, image=s.image, layer=None, method=method))
        return True

    def _on_failed(self, r) -> None:
        if not r.internal:  # the window reports internal failures itself
            self.w.notify(r.message)

    def _on_result(self, r: ModelCompared) -> None:
        from convscope.engine.cam import overlay

        self.result = r
        pixels = self.w.session.image.pixels if self.w.session.image is not None else None
        if self.dialog is None:
            self._make_dialog()
        peak = float(np.abs(r.diff).max())
        scale = peak if peak > 0 else 1.0
        h, w = pixels.shape[:2]
        up = overlay.upsample(np.clip(r.diff / scale * 0.5 + 0.5, 0, 1), (h, w))
        pics = [overlay.blend(pixels, r.map_a), overlay.blend(pixels, r.map_b),
                overlay.colour(up, "coolwarm")]
        heads = [f"A: {r.name_a} ({r.score_a:.3g})", f"B: {r.name_b} ({r.score_b:.3g})",
                 f"B − A (blue: less, red: more; ±{peak:.2f})"]
        for label, head, pic in zip(self.pics, heads, pics):
            pm = QPixmap.fromImage(to_qimage(np.ascontiguousarray(pic)))
            label.setPixmap(pm.scaled(SIDE, SIDE, Qt.AspectRatioMode.KeepAspectRatio))
        for label, head in zip(self.heads, heads):
            label.setText(head)
        self._show_channels(r)
        lines = [f"{r.method} at {r.layer}, class {r.label} ({r.class_index}) in both models."]
        if r.only_a:
            lines.append(f"Layers of A with no counterpart in B: {', '.join(r.only_a)}.")
        if r.only_b:
            lines.append(f"Layers of B with no counterpart in A: {', '.join(r.only_b)}.")
        if r.change:
            most = sorted(r.change, key=lambda kv: -(kv[1] if kv[1] == kv[1] else -1))[:3]
            lines.append("Largest activation change: " + ", ".join(f"{k} {v:.2f}" for k, v in most) + ".")
        self.note.setText(" ".join(lines))
        self.dialog.show()

    # -- the dialog -------------------------------------------------------------------------
    def _make_dialog(self) -> None:
        import pyqtgraph as pg

        self.dialog = QDialog(self.w)
        self.dialog.setWindowTitle("Compare with model")
        outer = QGridLayout(self.dialog)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        body = QWidget()
        scroll.setWidget(body)
        outer.addWidget(scroll, 0, 0)
        self.dialog.resize(3 * SIDE + 120, 800)
        grid = QGridLayout(body)
        self.pics = [QLabel() for _ in range(3)]
        self.heads = [QLabel() for _ in range(3)]
        self.grids = [QLabel() for _ in range(2)]  # activation grids of A and B
        self.grid_heads = [QLabel() for _ in range(3)]
        self.preds = [QLabel() for _ in range(2)]
        self.patterns = [QLabel() for _ in range(2)]
        self.pattern_head = QLabel()
        for c in range(3):
            grid.setColumnMinimumWidth(c, SIDE)
            for head in (self.heads[c], self.grid_heads[c]):
                head.setWordWrap(True)
                head.setMaximumWidth(SIDE + 8)
            self.heads[c].setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(self.heads[c], 0, c)
            grid.addWidget(self.pics[c], 1, c)
            self.grid_heads[c].setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(self.grid_heads[c], 2, c)
        for c in range(2):
            grid.addWidget(self.grids[c], 3, c)
            self.preds[c].setWordWrap(True)
            grid.addWidget(self.preds[c], 4, c)
        self.plot = pg.PlotWidget()
        self.plot.setFixedSize(SIDE, SIDE)
        self.plot.setLabel("bottom", "channel")
        self.plot.setLabel("left", "mean activation")
        grid.addWidget(self.plot, 3, 2)
        grid.addWidget(self.pattern_head, 5, 0, 1, 3)
        for c in range(2):
            grid.addWidget(self.patterns[c], 6 + c, 0, 1, 3)
        self.note = QLabel()
        self.note.setWordWrap(True)
        grid.addWidget(self.note, 8, 0, 1, 3)

    def _show_channels(self, r: ModelCompared) -> None:
        """Both grids, the per-channel means and their change, both predictions, patterns."""
        import pyqtgraph as pg

        for label, pic in zip(self.grids, (r.grid_a, r.grid_b)):
            label.setPixmap(_pixmap(pic).scaled(SIDE, SIDE, Qt.AspectRatioMode.KeepAspectRatio))
        self.grid_heads[0].setText(f"A: the {len(r.means_a)} channels of {r.layer}")
        self.grid_heads[1].setText("B: the same channels (one colour scale for both)")
        self.grid_heads[2].setText("Mean activation per channel (A grey, B orange); bars: B − A")
        self.plot.clear()
        x = np.arange(len(r.means_a))
        self.change = np.asarray(r.means_b) - np.asarray(r.means_a)
        self.plot.addItem(pg.BarGraphItem(x=x, height=self.change, width=0.8,
                                          brushes=[pg.mkBrush((214, 39, 40) if v > 0 else (31, 119, 180))
                                                   for v in self.change], ))
        self.plot.plot(x, r.means_a, pen=pg.mkPen("#999", width=1.5))
        self.plot.plot(x, r.means_b, pen=pg.mkPen("#e08000", width=1.5))
        for label, who, preds in ((self.preds[0], "A", r.preds_a), (self.preds[1], "B", r.preds_b)):
            label.setText(f"{who} predicts: " + ", ".join(f"{lab} {s:.3f}" for _, lab, s in preds))
        if r.pattern_channels:
            self.pattern_head.setText("Filter patterns of the channels that changed most (A above, "
                                      "B below): " + ", ".join(map(str, r.pattern_channels)))
            for label, pats in zip(self.patterns, (r.patterns_a, r.patterns_b)):
                label.setPixmap(_pixmap(np.concatenate(list(pats), axis=1)).scaled(
                    96 * len(pats), 96, Qt.AspectRatioMode.KeepAspectRatio))
        else:
            self.pattern_head.setText("")
            for label in self.patterns:
                label.clear()


def _pixmap(rgb: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(np.ascontiguousarray(rgb)))
