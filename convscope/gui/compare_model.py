"""File ▸ Compare with model…: the open model (A) and another model file (B, e.g. another
checkpoint of a run) on the current image and layer — A's map, B's map (both for A's top
class) and their signed difference B − A (coolwarm, symmetric about 0), with the layers
that have no counterpart. The engine thread computes it (engine.learning.jobs)."""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QPixmap
from PySide6.QtWidgets import QDialog, QFileDialog, QGridLayout, QLabel

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
            self.dialog = QDialog(self.w)
            self.dialog.setWindowTitle("Compare with model")
            grid = QGridLayout(self.dialog)
            self.pics = [QLabel() for _ in range(3)]
            self.heads = [QLabel() for _ in range(3)]
            for c in range(3):
                self.heads[c].setAlignment(Qt.AlignmentFlag.AlignCenter)
                grid.addWidget(self.heads[c], 0, c)
                grid.addWidget(self.pics[c], 1, c)
            self.note = QLabel()
            self.note.setWordWrap(True)
            grid.addWidget(self.note, 2, 0, 1, 3)
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
