"""Live: a camera or a video file through the network, frame after frame.

A reader thread (gui/video_reader.py) decodes frames; for each new frame the view sends a
LiveFrame job. The engine's channel keeps only the newest pending frame and finishes the
one it is computing (a stream job, engine/jobs.py), so frames it has no time for are
dropped and the latency of what is shown stays bounded. Shown: the CAM overlay of a fast
method (or the selected layer's activation grid) and the top-5 predictions, with the
display rate, the engine rate and the latency of the frame shown. Freeze sends the frame
to the other views as a still image; Export video writes the whole file explained.
"""
from __future__ import annotations

import os
import time
from collections import deque

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QFileDialog, QHBoxLayout, QPushButton, QSlider,
                               QVBoxLayout, QWidget)

from convscope.engine import jobs as J
from convscope.engine.images import from_array
from convscope.engine.cam import registry
from convscope.engine.video.explain import live_note, live_ok
from convscope.engine.video.io import VIDEO_SUFFIXES

from ..canvas import ImageCanvas
from ..live_controls import CameraFinder, Rates, Transport
from ..predictions import PredictionBars
from ..video_reader import FrameReader
from .base import View, caption
from .cam_options import CamControls, ClassChoice

MODES = {"CAM overlay": "cam", "activations": "activations"}


class LiveView(View):
    key, title, channel = "live", "Live", "live"

    def __init__(self, session, client, settings, options, parent=None):
        super().__init__(session, client, settings, parent)
        self.options = options
        self.transport = Transport()
        self.mode = QComboBox()
        for text, mode in MODES.items():
            self.mode.addItem(text, mode)
        self.mode.setToolTip("What each frame shows: the class activation map, or every "
                             "channel of the layer selected in the tree")
        self.method = QComboBox()
        self.method.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.method.setToolTip("CAM method (Score-CAM and Faster Score-CAM are too slow to run live)")
        self.smooth = QSlider(Qt.Orientation.Horizontal, minimum=0, maximum=90, value=0)
        self.smooth.setFixedWidth(90)
        self.smooth.setToolTip("Temporal smoothing of the heatmap against flicker: 0 = none, "
                               "0.9 = strong (exponential moving average)")
        self.freeze = QPushButton("Freeze frame")
        self.freeze.setToolTip("Send the frame shown to the other views as a still image")
        self.export = QPushButton("Export video…")
        self.export.setToolTip("Write the whole file explained, every frame (like `convscope video`)")
        # Live's own class: each frame's top prediction unless fixed here (a class chosen on
        # the CAM tab is for the still image; it does not follow every frame of a clip)
        self.live_class = ClassChoice(self)
        self.cam_controls = CamControls(options, session, classes=self.live_class)
        self.cam_controls.classes.predictions = lambda: self.last.predictions if self.last else ()
        self._listed: tuple = ()  # the frame predictions the class list shows
        self.method.setMinimumContentsLength(max(len(registry.title(m)) for m in registry.names()) + 2)
        self.layout_.insertWidget(0, self.transport)
        self.add_controls(caption("show"), self.mode, caption("method"), self.method,
                          self.cam_controls, caption("smooth"), self.smooth, 1, self.freeze,
                          self.export)
        self.canvas = ImageCanvas("Open a video file (or drop one on the window), or pick a "
                                  "camera: each frame goes through the network as it plays.")
        self.predictions = PredictionBars()
        self.predictions.setFixedWidth(260)
        self.add_picture(self.canvas)
        self.rates_label = caption("")
        self.info = caption("")
        self.info.setWordWrap(True)  # a narrow window wraps it, not widens
        bottom = QHBoxLayout()
        bottom.addWidget(self.info, 1)
        bottom.addWidget(self.rates_label)
        self.layout_.addLayout(bottom)
        side = QWidget()  # the bars keep their height; the column takes the picture's
        column = QVBoxLayout(side)
        column.setContentsMargins(4, 0, 0, 0)
        column.addWidget(caption("top predictions of the frame shown"))
        column.addWidget(self.predictions)
        column.addStretch(1)
        self.split.addWidget(side)
        self.split.setStretchFactor(0, 4)

        self.reader: FrameReader | None = None
        self.source_name = ""
        self.source_path: str | None = None
        self.ended = False
        self.last: J.LiveFrameReady | None = None
        self.current = None  # the newest VideoFrame taken from the reader
        self.rates = Rates()
        self.history: deque = deque(maxlen=2000)  # (index, latency, heatmap, frames_read)
        self.sent = 0
        self._reset = True
        self.finder = CameraFinder(self)

        client.subscribe(J.LiveFrameReady, self._on_ready)
        client.subscribe(J.VideoExported, self._on_exported)
        session.sigModelChanged.connect(self._fill_methods)
        session.sigLayerChanged.connect(self._options_changed)
        options.sigChanged.connect(self._options_changed)
        self.live_class.sigChanged.connect(self._options_changed)
        options.sigLookChanged.connect(self._options_changed)
        t = self.transport
        t.open.clicked.connect(self.ask_file)
        t.play.clicked.connect(self.toggle)
        t.forward.clicked.connect(lambda: self.reader and self.reader.step(1))
        t.back.clicked.connect(lambda: self.reader and self.reader.step(-1))
        t.loop.toggled.connect(lambda on: self.reader and self.reader.set_loop(on))
        t.scrub.valueChanged.connect(self._on_scrub)
        t.source.activated.connect(self._on_source_chosen)
        t.find.clicked.connect(self.finder.find)
        self.finder.sigFound.connect(t.set_cameras)
        self.mode.currentIndexChanged.connect(self._options_changed)
        self.method.currentIndexChanged.connect(self._options_changed)
        self.smooth.valueChanged.connect(self._options_changed)
        self.freeze.clicked.connect(self.freeze_frame)
        self.export.clicked.connect(self.ask_export)
        self._fill_methods()

    # -- sources ------------------------------------------------------------------------------
    def open_file(self, path: str) -> None:
        self._start(FrameReader(file=path, loop=self.transport.loop.isChecked()),
                    os.path.basename(path), path)

    def open_camera(self, index: int) -> None:
        self._start(FrameReader(camera=index), f"camera {index}", None)

    def _start(self, reader: FrameReader, name: str, path: str | None) -> None:
        self.close_source()
        self.reader, self.source_name, self.source_path = reader, name, path
        self.ended, self.last, self.current, self._reset = False, None, None, True
        self.rates.reset()
        self.history.clear()
        reader.sigOpened.connect(self._on_opened)
        reader.sigFrame.connect(self._on_frame)
        reader.sigEnded.connect(self._on_ended)
        reader.sigFailed.connect(self._on_reader_failed)
        self.info.setText(f"opening {name}…")
        reader.start()
        self.transport.set_playing(True)

    def close_source(self) -> None:
        """Stop the reader thread and wait for it (the window calls this when closing)."""
        if self.reader is not None:
            self.reader.stop()
            self.reader.deleteLater()
            self.reader = None
        if self.client.pending(self.channel):
            self.client.cancel(self.channel)
        self.transport.set_enabled(False)
        self.transport.set_playing(False)

    def ask_file(self) -> None:
        pattern = " ".join(f"*{s}" for s in VIDEO_SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open video", "", f"Videos ({pattern});;All files (*)")
        if path:
            self.open_file(path)

    def _on_source_chosen(self, row: int) -> None:
        index = self.transport.source.itemData(row)
        if index is None:
            self.ask_file()
        else:
            self.open_camera(int(index))

    # -- playback -----------------------------------------------------------------------------
    def toggle(self) -> None:
        if self.reader is None:
            return
        if self.reader.playing():
            self.reader.pause()
        else:
            if self.ended:
                self.reader.seek(0)
                self.ended = False
            self.reader.play()
        self.transport.set_playing(self.reader.playing())

    def _on_scrub(self, value: int) -> None:
        if self.reader is not None:
            self.ended = False
            self._reset = True
            self.reader.seek(value)  # paused, the reader shows that one frame

    def set_active(self, active: bool) -> None:
        super().set_active(active)
        if not active and self.reader is not None and self.reader.playing():
            self.reader.pause()  # the engine serves the visible tab
            self.transport.set_playing(False)

    def show_cancelled(self) -> None:  # the frame shown stays; the next frame is explained
        self.info.setText("cancelled — the next frame is explained as it plays")

    def request(self) -> None:  # the refresh cycle: say why frames are not explained, if so
        why = self._why_not()
        if why and self.reader is not None:
            self.info.setText(why)

    # -- frames in, results out ---------------------------------------------------------------
    def _on_opened(self, info) -> None:
        self.transport.set_enabled(True, seekable=not info.camera)
        self.info.setText(f"{info.name}: {info.width}×{info.height}, {info.fps:g} fps"
                          + (f", {info.frame_count} frames" if info.frame_count else ""))

    def _on_frame(self) -> None:
        if self.reader is None:
            return
        frame = self.reader.take()
        if frame is None:
            return
        self.current = frame
        self.transport.set_position(frame.index, self.reader.info.frame_count if self.reader.info else None)
        self._send(frame)

    def _send(self, frame) -> None:
        why = self._why_not()
        if why:
            self.canvas.set_image(frame.pixels)
            self.info.setText(why)
            return
        mode = self.mode.currentData()
        playing = self.reader is not None and self.reader.playing()
        # a paused frame explained again (new options) is timed from now, not from when the
        # reader got it seconds ago ("latency 12712 ms" while paused)
        t_read = frame.t_read if playing else time.perf_counter()
        self.client.send(J.LiveFrame(
            frame=frame.pixels, index=frame.index, t_read=t_read, source=self.source_name,
            mode=mode, method=self.method.currentData() or "gradcam",
            layer=self.session.layer if (mode == "activations" or self.options.follow_tree) else None,
            class_index=None if self.options.target.spec else self.live_class.class_index,
            target=self.options.target.spec, alpha=self.options.alpha,  # the CAM view's target
            colormap=self.options.colormap, smooth=self.smooth.value() / 100.0, reset=self._reset))
        self._reset = False
        self.sent += 1

    def _why_not(self) -> str:
        s = self.session
        if s.model is None:
            return "Open a model first."
        if s.model.summary.predict_only:
            return s.model.summary.note or "This model can only predict."
        if self.mode.currentData() == "activations":
            return self.missing_input(need_image=False)
        method = self.method.currentData()
        if not method:
            return s.model.cam_note or "No class activation map method applies to this model."
        if not live_ok(method):
            return (f"{registry.title(method)} needs a forward pass per channel or sample: too "
                    "slow to run live. Pick Grad-CAM or another gradient method, or use the "
                    "CAM tab / Export video for it.")
        return ""

    def _on_ready(self, r: J.LiveFrameReady) -> None:
        if r.source != self.source_name or self.reader is None:
            return
        self.last = r
        self.canvas.set_image(r.picture)
        self.predictions.set_predictions(r.predictions)
        latency = self.rates.add(r.t_read, r.seconds)
        self.history.append((r.index, latency, r.heatmap, self.reader.frames_read))
        self.rates_label.setText(self.rates.text())
        self._list_frame_classes(r.predictions)
        which = ("target" if self.options.target.spec else "fixed class"
                 if self.live_class.class_index is not None else "this frame's top class")
        what = (f"{registry.title(r.method)} · {r.layer} · {which} <b>{r.label}</b> "
                f"{r.probability:.2f}" if r.mode == "cam" else f"activations of {r.layer} · top: <b>{r.label}</b>")
        end = f" · end of {self.source_name} — ▶ plays it again" if self.ended else ""
        self.info.setText(f"{self.source_name} frame {r.index + 1} · {what}{end}")

    def _list_frame_classes(self, predictions) -> None:
        """The class list shows the frame's own scores (not the still image's); rebuilt
        when they change and the list is not open."""
        picker = self.cam_controls.classes
        indices = tuple(int(p.index) for p in predictions)
        if picker.view().isVisible():
            return
        if indices != self._listed:
            self._listed = indices
            picker.rebuild()
            return
        for row, p in enumerate(predictions, start=1):  # same classes: new scores in place
            picker.setItemText(row, picker.prediction_text(p))

    def job_failed(self, result) -> None:
        self.info.setText(result.message)

    def _on_ended(self, frames: int) -> None:
        self.ended = True
        self.transport.set_playing(False)
        self.info.setText(f"end of {self.source_name} ({frames} frames read) — ▶ plays it again")

    def _on_reader_failed(self, message: str) -> None:
        self.close_source()
        if self.last is None:
            self.canvas.show_message(message)
        self.info.setText(f"stopped: {message}")

    def _options_changed(self, *_) -> None:
        self._reset = True
        if self.reader is not None and not self.reader.playing() and self.current is not None:
            self._send(self.current)  # paused: redraw the frame shown with the new options

    def _fill_methods(self) -> None:
        methods = self.session.model.cam_methods if self.session.model else ()
        keep = self.method.currentData() or "gradcam"
        self.method.blockSignals(True)
        self.method.clear()
        for m in methods:
            note = live_note(m)
            self.method.addItem(registry.title(m) + (f" ({note})" if note else ""), m)
            self.method.setItemData(self.method.count() - 1, registry.tip(m), Qt.ItemDataRole.ToolTipRole)
        i = self.method.findData(keep)
        self.method.setCurrentIndex(max(0, i))
        self.method.blockSignals(False)

    # -- freeze and export --------------------------------------------------------------------
    def freeze_frame(self) -> None:
        frame = self.last.frame if self.last is not None else (
            self.current.pixels if self.current is not None else None)
        if frame is None:
            return
        index = self.last.index if self.last is not None else self.current.index
        name = f"{os.path.splitext(self.source_name)[0]} frame {index + 1}"
        self.session.add_images([from_array(np.array(frame), name=name)])
        self.info.setText(f"{name} sent to the other views as a still image")

    def ask_export(self) -> None:
        if self.source_path is None:
            self.info.setText("Export video works on a video file (open one); a camera has no end.")
            return
        base = os.path.splitext(self.source_path)[0] + "-explained.mp4"
        path, _ = QFileDialog.getSaveFileName(self, "Export explained video", base,
                                              "MP4 video (*.mp4);;Lossless AVI (*.avi);;GIF (*.gif)")
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> int | None:
        from convscope.engine.video.pipeline import VideoOptions

        why = self._why_not() if self.mode.currentData() == "cam" else "Export video draws CAM overlays: choose CAM overlay."
        if self.source_path is None or why:
            self.info.setText(why or "Open a video file to export.")
            return None
        options = VideoOptions(
            method=self.method.currentData(), layer=self.session.layer if self.options.follow_tree else None,
            class_index=None if self.options.target.spec else self.live_class.class_index,
            target=self.options.target.spec or None, alpha=self.options.alpha,
            colormap=self.options.colormap, smooth=self.smooth.value() / 100.0)
        self.info.setText(f"exporting {os.path.basename(path)}… (progress in the status bar)")
        return self.client.send(J.ExportVideo(source=self.source_path, out=path, options=options))

    def _on_exported(self, r: J.VideoExported) -> None:
        s = r.summary
        self.info.setText(f"exported {s.frames} frames to {r.out} ({s.seconds:.1f} s)")

    def figure(self):
        return self.last.picture if self.last is not None else None

    def settled(self) -> bool:
        return super().settled() and (self.reader is None or not self.reader.playing())
