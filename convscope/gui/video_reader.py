"""The frame-reader thread of the Live view: decodes a file or a camera off the GUI thread.

Frames are read with the engine's Qt-free engine.video.io.VideoSource, files paced at
their frame rate, cameras as fast as they send. The reader keeps only the newest frame:
it signals `sigFrame` when a frame is ready and the view takes the newest with `take()`,
so a busy GUI never builds a queue of old frames. Commands (play, pause, step, seek,
loop, stop) are thread-safe and wake a waiting reader at once.
"""
from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QThread, Signal

from convscope.engine.errors import UserError
from convscope.engine.video.io import VideoSource

_readers: "weakref.WeakSet[FrameReader]" = weakref.WeakSet()


def running_readers() -> list:
    """Reader threads still running (tests assert none outlive the window)."""
    return [r for r in list(_readers) if r.isRunning()]


@dataclass(frozen=True)
class VideoFrame:
    pixels: np.ndarray  # uint8 RGB
    index: int
    t_read: float  # time.perf_counter() when read


class FrameReader(QThread):
    sigOpened = Signal(object)  # engine.video.io.VideoInfo
    sigFrame = Signal()  # a new frame is ready: take() it
    sigEnded = Signal(int)  # the file ended (frames read); playback paused
    sigFailed = Signal(str)  # could not open / decode / camera lost: the thread ends

    def __init__(self, file: str | None = None, camera: int | None = None, loop: bool = False,
                 playing: bool = True, parent=None):
        super().__init__(parent)
        self.setObjectName("convscope-frame-reader")
        self.file, self.camera = file, camera
        self.info = None
        self.frames_read = 0
        self._cond = threading.Condition()
        self._playing, self._loop = playing, loop
        self._stopping = False
        self._seek: int | None = None
        self._steps = 0
        self._newest: VideoFrame | None = None
        self._signalled = False
        _readers.add(self)

    # -- commands (any thread) ---------------------------------------------------------
    def play(self) -> None:
        self._command(playing=True)

    def pause(self) -> None:
        self._command(playing=False)

    def playing(self) -> bool:
        return self._playing

    def set_loop(self, loop: bool) -> None:
        self._command(loop=loop)

    def step(self, delta: int = 1) -> None:
        """Pause and show the frame `delta` away (files; a camera just gives the next)."""
        with self._cond:
            self._playing = False
            if delta == 1 or self.camera is not None:
                self._steps += 1
            else:
                self._seek = max(0, self._position() - 1 + delta)
            self._cond.notify_all()

    def seek(self, index: int) -> None:
        with self._cond:
            self._seek = max(0, int(index))
            self._cond.notify_all()

    def stop(self, timeout_ms: int = 5000) -> bool:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return self.wait(timeout_ms) if self.isRunning() else True

    def take(self) -> VideoFrame | None:
        """The newest frame (None if none came since the last take)."""
        with self._cond:
            frame, self._newest, self._signalled = self._newest, None, False
            return frame

    def _command(self, **values) -> None:
        with self._cond:
            for k, v in values.items():
                setattr(self, "_" + k, v)
            self._cond.notify_all()

    def _position(self) -> int:
        return self._src.position if getattr(self, "_src", None) is not None else 0

    # -- the thread ------------------------------------------------------------------------
    def run(self) -> None:
        try:
            src = VideoSource.open_camera(self.camera) if self.camera is not None else \
                VideoSource.open_file(self.file)
        except UserError as exc:
            self.sigFailed.emit(str(exc))
            return
        self._src, self.info = src, src.info
        self.sigOpened.emit(src.info)
        try:
            self._serve(src)
        except UserError as exc:
            self.sigFailed.emit(str(exc))
        except Exception as exc:  # OpenCV failing in a way it did not explain
            self.sigFailed.emit(f"reading {src.info.name} failed: {type(exc).__name__}: {exc}")
        finally:
            src.close()

    def _serve(self, src: VideoSource) -> None:
        period = 1.0 / src.info.fps
        due = time.perf_counter()
        while True:
            with self._cond:
                while not (self._stopping or self._playing or self._steps or self._seek is not None):
                    self._cond.wait()
                if self._stopping:
                    return
                seek, self._seek = self._seek, None
                stepping = not self._playing and self._steps > 0
                if stepping:
                    self._steps -= 1
            if seek is not None:
                src.seek(seek)
                due = time.perf_counter()
            elif not stepping and src.info.camera is False:
                wait = due - time.perf_counter()  # files play at their own frame rate
                if wait > 0:
                    with self._cond:
                        self._cond.wait(wait)
                        if self._stopping:
                            return
                        if self._seek is not None or not (self._playing or self._steps):
                            continue
            index = src.position
            pixels = src.read()
            if pixels is None:  # the end of the file
                if self._loop and not stepping and self.frames_read:
                    src.seek(0)
                    continue
                with self._cond:
                    self._playing = False
                self.sigEnded.emit(self.frames_read)
                continue
            self.frames_read += 1
            due = max(due + period, time.perf_counter() - period)  # no burst after a stall
            with self._cond:
                self._newest = VideoFrame(pixels, index, time.perf_counter())
                signal = not self._signalled
                self._signalled = True
            if signal:
                self.sigFrame.emit()
