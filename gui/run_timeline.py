"""File ▸ Open run…: a run recorded by engine.Recorder (or a folder of .keras checkpoints)
with an epoch slider. Choosing an epoch opens that epoch's checkpoint as the window's
model, so every view (Activations, Filters, CAM, Compare) shows the network as it was
then; a strip shows the recorded maps of every probe image at that epoch, with the
prediction. Scrubbing collapses to the last epoch chosen (one model load).

No TensorFlow here: the run is read with engine.learning.store (numpy, pyarrow); the
checkpoints are opened by the engine thread, as any model.
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QHBoxLayout, QLabel, QSlider,
                               QVBoxLayout, QWidget)

from engine.errors import UserError

from .qimage import to_qimage

THUMB = 96  # side of a probe's picture in the strip
SETTLE_MS = 250  # the slider must rest this long before a checkpoint is opened


class RunTimeline:
    def __init__(self, window):
        self.w = window
        self.run = None
        self.epochs: list[int] = []
        self.files: dict[int, str] = {}  # epoch -> checkpoint
        self.epoch: int | None = None
        self.action = None
        file_menu = next((a.menu() for a in window.menuBar().actions() if a.text() == "File"), None)
        if file_menu is not None:
            from PySide6.QtGui import QAction

            self.action = QAction("Open run…", window)
            self.action.setStatusTip("A run recorded by engine.Recorder, or a folder of .keras "
                                     "checkpoints: an epoch slider for every view")
            self.action.triggered.connect(lambda *_: self.ask())
            file_menu.insertAction(window.actions_.open_images, self.action)
        self.panel = QWidget()
        box = QVBoxLayout(self.panel)
        box.setContentsMargins(4, 2, 4, 2)
        top = QHBoxLayout()
        self.title = QLabel("")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setToolTip("The epoch every view shows (its checkpoint is opened)")
        self.slider.valueChanged.connect(self._on_slider)
        self.label = QLabel("")
        top.addWidget(self.title)
        top.addWidget(self.slider, 1)
        top.addWidget(self.label)
        box.addLayout(top)
        self.strip = QHBoxLayout()
        box.addLayout(self.strip)
        self.thumbs: list[QLabel] = []
        self.dock = QDockWidget("Run · epochs", window)
        self.dock.setObjectName("run-timeline")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, self.dock)
        self.dock.hide()
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._open_checkpoint)

    # -- opening -------------------------------------------------------------------------
    def ask(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open a run folder")
        if folder:
            self.open(folder)

    def open(self, folder: str) -> bool:
        """A Recorder run, or a folder of .keras checkpoints; False (and a message) if neither."""
        from engine.learning import store

        folder = os.path.abspath(folder)
        self.run, self.files = None, {}
        try:
            if os.path.isfile(os.path.join(folder, store.RUN_FILE)):
                self.run = store.open_run(folder)
                self.epochs = list(self.run.epochs)
                self.files = {e: self.run.checkpoint(e) for e in self.epochs if self.run.checkpoint(e)}
            else:
                names = sorted(n for n in os.listdir(folder) if n.endswith(".keras")) if os.path.isdir(folder) else []
                if not names:
                    store.open_run(folder)  # the one-line reason
                self.epochs = list(range(len(names)))
                self.files = {i: os.path.join(folder, n) for i, n in enumerate(names)}
        except (UserError, OSError) as exc:
            self.w.notify(str(exc))
            return False
        if not self.epochs:
            self.w.notify(f"{folder} holds no recorded epoch yet")
            return False
        self.title.setText(os.path.basename(folder))
        self._make_strip()
        if self.run is not None:
            self._add_probes()
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.epochs) - 1)
        self.slider.setValue(len(self.epochs) - 1)
        self.slider.blockSignals(False)
        self.dock.show()
        self.set_epoch(self.epochs[-1], now=True)
        return True

    def _add_probes(self) -> None:
        from engine.images import from_array

        probes = self.run.probes()
        names = [p.get("name") or f"probe {i + 1}" for i, p in enumerate(self.run.meta["recipe"]["images"])]
        self.w.session.add_images([from_array(p, name=n) for p, n in zip(probes, names)])

    def _make_strip(self) -> None:
        for t in self.thumbs:
            t.deleteLater()
        self.thumbs = []
        n = len(self.run.meta["recipe"]["images"]) if self.run is not None else 0
        for _ in range(n):
            t = QLabel()
            t.setFixedWidth(THUMB)
            t.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.strip.addWidget(t)
            self.thumbs.append(t)
        self.strip.addStretch(1)

    # -- the epoch -----------------------------------------------------------------------
    def _on_slider(self, index: int) -> None:
        self.set_epoch(self.epochs[index])

    def set_epoch(self, epoch: int, now: bool = False) -> None:
        """Show `epoch`: the strip at once, the checkpoint after the slider rests."""
        if epoch not in self.epochs:
            return
        self.epoch = epoch
        index = self.epochs.index(epoch)
        if self.slider.value() != index:
            self.slider.blockSignals(True)
            self.slider.setValue(index)
            self.slider.blockSignals(False)
        note = ""
        if self.run is not None:
            loss = self.run.scalars("log/loss").get(epoch)
            note = f" · loss {loss:.3f}" if loss is not None else (" · untrained" if epoch == 0 else "")
            self._fill_strip(epoch)
            self.label.setText(f"epoch {epoch}{note}")
        else:
            self.label.setText(os.path.basename(self.files[epoch]))
        if now:
            self._open_checkpoint()
        else:
            self._timer.start(SETTLE_MS)

    def _fill_strip(self, epoch: int) -> None:
        from engine.cam.overlay import blend

        recipe = self.run.meta["recipe"]
        key = f"map|{recipe['methods'][0]}|{recipe['layers'][0]}"
        maps = self.run.arrays(epoch).get(key)
        probes = self.run.probes()
        labels = self.run.meta.get("model", {}).get("labels")
        for i, t in enumerate(self.thumbs):
            if maps is None:
                continue
            pic = blend(probes[i], maps[i])
            t.setPixmap(_pixmap(pic).scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))
            c = int(round(self.run.scalars("pred/class", image=i).get(epoch, -1)))
            score = self.run.scalars("pred/score", image=i).get(epoch, float("nan"))
            name = labels[c] if labels and 0 <= c < len(labels) else str(c)
            t.setToolTip(f"{name} {score:.2f}")

    def _open_checkpoint(self) -> None:
        self._timer.stop()
        path = self.files.get(self.epoch)
        if path is None:
            self.w.notify(f"epoch {self.epoch} has no checkpoint (recorded with "
                          "checkpoints=False): the strip shows its maps, the views stay", "info")
            return
        self.w.open_model(path)


def _pixmap(rgb: np.ndarray):
    from PySide6.QtGui import QPixmap

    return QPixmap.fromImage(to_qimage(np.ascontiguousarray(rgb)))
