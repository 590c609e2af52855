"""The Live view's controls: the source (cameras, files) and transport bar, and the rates.

Widgets only; gui/views/live.py wires them to the frame reader and the engine.
"""
from __future__ import annotations

import threading
import time
from collections import deque

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QLabel, QPushButton, QSlider, QStyle,
                               QToolButton, QWidget)

from convscope.engine.video.io import VIDEO_SUFFIXES, list_cameras

from .flow_layout import FlowLayout


class Transport(QWidget):
    """Source choice, open, play/pause, step, loop, scrub."""

    def __init__(self, parent=None):
        super().__init__(parent)
        style = self.style()
        self.source = QComboBox()
        self.source.setMinimumContentsLength(16)
        self.source.setToolTip("A camera (found ones are listed) or a video file")
        self.source.addItem("video file…", None)
        self.find = QToolButton(text="find cameras")
        self.find.setToolTip("Look for cameras that open (by index; named where the system tells)")
        self.open = QPushButton("Open video…")
        self.open.setToolTip("Open (or drop on the window) a " + " ".join(VIDEO_SUFFIXES[:5]) + " file")
        self.play = QToolButton()
        self.play.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.play.setToolTip("Play / pause (Space)")
        self.back = QToolButton()
        self.back.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward))
        self.back.setToolTip("One frame back")
        self.forward = QToolButton()
        self.forward.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward))
        self.forward.setToolTip("One frame forward")
        self.loop = QCheckBox("loop")
        self.loop.setToolTip("Start the file again at its end")
        self.scrub = QSlider(Qt.Orientation.Horizontal)
        self.scrub.setToolTip("Drag to go to a frame")
        self.scrub.setEnabled(False)
        self.position = QLabel("no source")
        self.position.setMinimumWidth(110)
        self.scrub.setMinimumWidth(160)
        row = FlowLayout(self)  # wraps in a narrow window (gui/flow_layout.py)
        row.setContentsMargins(0, 0, 0, 0)
        for w in (self.source, self.find, self.open):
            row.add_widget(w)
        for w in (self.back, self.play, self.forward, self.loop, self.scrub):
            row.add_widget(w, keep_with_next=True, grow=w is self.scrub)  # kept together
        row.add_widget(self.position)
        self.set_enabled(False)

    def set_enabled(self, enabled: bool, seekable: bool = True) -> None:
        for w in (self.play, self.back, self.forward):
            w.setEnabled(enabled)
        self.back.setEnabled(enabled and seekable)
        self.scrub.setEnabled(enabled and seekable)

    def set_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.play.setIcon(self.style().standardIcon(icon))

    def set_position(self, index: int, count: int | None) -> None:
        if count:
            if self.scrub.maximum() != count - 1:
                self.scrub.setRange(0, count - 1)
            if not self.scrub.isSliderDown():
                self.scrub.blockSignals(True)
                self.scrub.setValue(index)
                self.scrub.blockSignals(False)
            self.position.setText(f"frame {index + 1} / {count}")
        else:
            self.position.setText(f"frame {index + 1}")

    def set_cameras(self, cameras) -> None:
        while self.source.count() > 1:
            self.source.removeItem(1)
        for cam in cameras:
            self.source.addItem(cam.name, cam.index)
        self.find.setText(f"{len(cameras)} camera(s)" if cameras else "no camera found")


class CameraFinder(QObject):
    """list_cameras() on a short-lived thread (opening cameras can take a moment)."""

    sigFound = Signal(object)  # list of engine.video.io.Camera

    def find(self) -> None:
        threading.Thread(target=lambda: self.sigFound.emit(list_cameras()),
                         name="convscope-camera-list", daemon=True).start()


class Rates:
    """Display fps, engine fps and latency over the last few shown frames."""

    def __init__(self, window: int = 30):
        self.shown = deque(maxlen=window)  # when frames were shown
        self.engine = deque(maxlen=window)  # engine seconds per frame
        self.latency = 0.0

    def reset(self) -> None:
        self.shown.clear()
        self.engine.clear()
        self.latency = 0.0

    def add(self, t_read: float, engine_seconds: float) -> float:
        now = time.perf_counter()
        self.shown.append(now)
        self.engine.append(engine_seconds)
        self.latency = now - t_read  # from the reader getting the frame to showing its result
        return self.latency

    def text(self) -> str:
        span = self.shown[-1] - self.shown[0] if len(self.shown) > 1 else 0.0
        display = (len(self.shown) - 1) / span if span > 0 else 0.0
        engine = len(self.engine) / sum(self.engine) if self.engine and sum(self.engine) > 0 else 0.0
        return (f"display {display:.1f} fps · engine {engine:.1f} fps · "
                f"latency {1000 * self.latency:.0f} ms")
