"""File ▸ Open run…: a run recorded by engine.Recorder (or a folder of .keras checkpoints)
with an epoch slider. Choosing an epoch opens that epoch's checkpoint as the window's
model, so every view (Activations, Filters, CAM, Compare) shows the network as it was
then; small multiples (gui/run_strip.py: rows epochs, columns probe images) show the
recorded maps with the predictions, the selected epoch highlighted, a click selects an
epoch and a probe image. Scrubbing collapses to the last epoch chosen (one model load).

No TensorFlow here: the run is read with engine.learning.store (numpy, pyarrow); the
checkpoints are opened by the engine thread, as any model.
"""
from __future__ import annotations

import os

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QVBoxLayout, QWidget)

from convscope.engine.errors import UserError

from .run_epochs import CheckpointEpochs
from .run_strip import EpochStrip, rows_for

SETTLE_MS = 250  # the slider must rest this long before a checkpoint is opened
PLAY_MS = 1500  # Play: one epoch per this many milliseconds


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
        self.play = QPushButton("Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Step through the epochs (every view follows)")
        self.play.toggled.connect(self._on_play)
        top.addWidget(self.title)
        top.addWidget(self.play)
        top.addWidget(self.slider, 1)
        top.addWidget(self.label)
        box.addLayout(top)
        low = QHBoxLayout()
        self.strip = EpochStrip(on_click=self._on_cell)
        low.addWidget(self.strip, 3)
        self.curves = _curves()  # loss (and metrics) by epoch, the selected epoch marked
        low.addWidget(self.curves.widget, 2)
        box.addLayout(low)
        self.probe_images: list = []  # the probes as the window's images (engine.images.Image)
        self.ondemand = CheckpointEpochs(self)  # a folder of checkpoints: maps computed when chosen
        self.dock = QDockWidget("Run · epochs", window)
        self.dock.setObjectName("run-timeline")
        self.dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.TopDockWidgetArea, self.dock)
        self.dock.hide()
        self._timer = QTimer(window)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._open_checkpoint)
        self._player = QTimer(window)
        self._player.timeout.connect(self._next)

    # -- opening -------------------------------------------------------------------------
    def ask(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.w, "Open a run folder")
        if folder:
            self.open(folder)

    def open(self, folder: str) -> bool:
        """A Recorder run, or a folder of .keras checkpoints; False (and a message) if neither."""
        from convscope.engine.learning import store

        folder = os.path.abspath(folder)
        run = None
        try:
            if os.path.isfile(os.path.join(folder, store.RUN_FILE)):
                run = store.open_run(folder)
                epochs = list(run.epochs)
                files = {e: run.checkpoint(e) for e in epochs if run.checkpoint(e)}
            else:
                names = sorted(n for n in os.listdir(folder) if n.endswith(".keras")) if os.path.isdir(folder) else []
                if not names:
                    store.open_run(folder)  # the one-line reason
                epochs = list(range(len(names)))
                files = {i: os.path.join(folder, n) for i, n in enumerate(names)}
        except (UserError, OSError) as exc:
            self.w.notify(str(exc))
            return False
        if not epochs:
            self.w.notify(f"{folder} holds no recorded epoch yet")
            return False
        self.play.setChecked(False)
        self.run, self.epochs, self.files = run, epochs, files
        self.title.setText(os.path.basename(folder))
        self._make_strip()
        if self.run is not None:
            self._add_probes()
        self.slider.blockSignals(True)
        self.slider.setRange(0, len(self.epochs) - 1)
        self.slider.setValue(len(self.epochs) - 1)
        self.slider.blockSignals(False)
        self.curves.show(self.run, self.epochs)
        self.dock.show()
        self.set_epoch(self.epochs[-1], now=True)
        return True

    def _on_play(self, on: bool) -> None:
        if on:
            if self.epoch == self.epochs[-1]:
                self.set_epoch(self.epochs[0])
            self._player.start(PLAY_MS)
        else:
            self._player.stop()

    def _next(self) -> None:
        i = self.epochs.index(self.epoch) + 1 if self.epoch in self.epochs else 0
        if i >= len(self.epochs):
            self.play.setChecked(False)
            return
        self.set_epoch(self.epochs[i])

    def _add_probes(self) -> None:
        from convscope.engine.images import from_array

        probes = self.run.probes()
        self.probe_images = [from_array(p, name=n) for p, n in zip(probes, self._probe_names())]
        self.w.session.add_images(self.probe_images)

    def _probe_names(self) -> list[str]:
        return [p.get("name") or f"probe {i + 1}" for i, p in enumerate(self.run.meta["recipe"]["images"])]

    def _make_strip(self) -> None:
        """The small multiples of a recorded run: every epoch's recorded maps, at once (each
        epoch file is read for its one map array; the pictures are small, see run_strip)."""
        self.probe_images = []
        if self.run is None:
            self.ondemand.start(self.files)
            self.probe_images = list(self.ondemand.images)
            return
        from convscope.engine.cam import overlay

        names = self._probe_names()
        shown = rows_for(self.epochs)
        self.strip.setup(shown, names)
        recipe = self.run.meta["recipe"]
        key = f"map|{recipe['methods'][0]}|{recipe['layers'][0]}"
        probes = self.run.probes()
        labels = self.run.meta.get("model", {}).get("labels")
        classes = [self.run.scalars("pred/class", image=i) for i in range(len(names))]
        scores = [self.run.scalars("pred/score", image=i) for i in range(len(names))]
        for epoch in shown:
            with np.load(self.run.epoch_file(epoch), allow_pickle=False) as z:
                maps = z[key] if key in z.files else None
            for i in range(len(names)):
                c = int(round(classes[i].get(epoch, -1)))
                name = labels[c] if labels and 0 <= c < len(labels) else str(c)
                caption = f"{name} {scores[i].get(epoch, float('nan')):.2f}"
                pic = overlay.blend(probes[i], maps[i]) if maps is not None else None
                self.strip.fill(epoch, i, pic, caption if maps is not None else "no map")

    def _on_cell(self, epoch: int, image: int) -> None:
        """A click in the small multiples: that epoch, and that probe image."""
        if 0 <= image < len(self.probe_images) and self.probe_images[image] in self.w.session.images:
            self.w.session.set_image(self.probe_images[image])
        self.set_epoch(epoch)

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
        self.curves.mark(epoch)
        self.strip.select(epoch)
        if self.run is not None:
            loss = self.run.scalars("log/loss").get(epoch)
            note = f" · loss {loss:.3f}" if loss is not None else (" · untrained" if epoch == 0 else "")
            self.label.setText(f"epoch {epoch}{note}")
        else:
            self.label.setText(os.path.basename(self.files[epoch]))
        if now:
            self._open_checkpoint()
        else:
            self._timer.start(SETTLE_MS)

    def _open_checkpoint(self) -> None:
        self._timer.stop()
        path = self.files.get(self.epoch)
        if path is None:
            self.w.notify(f"epoch {self.epoch} has no checkpoint (recorded with "
                          "checkpoints=False): the strip shows its maps, the views stay", "info")
            return
        self.w.open_model(path)
        if self.run is None:
            self.ondemand.request(self.epoch)  # queued after the checkpoint: it uses that model


class _Curves:
    """Keras' logs of the run by epoch (pyqtgraph), a vertical line at the selected epoch."""

    def __init__(self):
        import pyqtgraph as pg

        self.widget = pg.PlotWidget()
        self.widget.setMinimumHeight(90)
        self.widget.addLegend(offset=(-5, 5))
        self.widget.setLabel("bottom", "epoch")
        self.line = pg.InfiniteLine(angle=90, movable=False)
        self.widget.addItem(self.line)
        self.series: dict = {}  # name -> (epochs, values)

    def show(self, run, epochs) -> None:
        import pyqtgraph as pg

        for item in list(self.widget.listDataItems()):
            self.widget.removeItem(item)
        self.series = {}
        if run is None:
            self.widget.hide()
            return
        self.widget.show()
        names = [k[4:] for k in run.keys() if k.startswith("log/")]
        colours = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
        for i, name in enumerate(sorted(names, key=lambda n: (n != "loss", n))):
            data = run.scalars(f"log/{name}")
            xs = [e for e in epochs if e in data]
            if xs:
                self.series[name] = (xs, [data[e] for e in xs])
                self.widget.plot(xs, self.series[name][1], name=name, symbol="o", symbolSize=4,
                                 pen=pg.mkPen(colours[i % len(colours)], width=1.5))

    def mark(self, epoch: int) -> None:
        self.line.setValue(epoch)


def _curves() -> _Curves:
    return _Curves()
