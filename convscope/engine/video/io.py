"""Video in and out with OpenCV (no TensorFlow, no Qt): a frame source (a file, or a
camera by index) and a frame sink (mp4/mov/avi/mkv through cv2.VideoWriter, GIF through
Pillow).

Frames are uint8 RGB (H, W, 3) everywhere (OpenCV's BGR stays inside this module).
A source read by a file reader reports where it stands; reading past what the file
really holds (fewer frames than its header promises) is a truncated or damaged file and
raises UserError, as does a camera that stops sending frames.

Containers and codecs written: .mp4 / .mov with MPEG-4 part 2 ('mp4v', what every
opencv-python wheel can encode; lossy), .avi / .mkv with FFV1 (lossless: the frames read
back are exactly the frames written), .gif with Pillow (256 colours per frame).
"""
from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass

import numpy as np

# FFmpeg inside OpenCV prints its own complaints ("moov atom not found") on stderr; a CLI
# error must be one line, so keep it quiet (read when the FFmpeg backend first opens).
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

import cv2  # noqa: E402

from ..errors import UserError  # noqa: E402

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
OUTPUT_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".gif")
FOURCC = {".mp4": "mp4v", ".mov": "mp4v", ".avi": "FFV1", ".mkv": "FFV1"}
DEFAULT_FPS = 25.0
# A file that decodes fewer frames than its header counts, beyond this slack, is damaged
# (some containers estimate the count from the duration, off by a frame or two).
TRUNCATION_SLACK = 2

try:
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
except AttributeError:  # older OpenCV builds without the logging module
    pass


def is_video_path(path: str) -> bool:
    return os.path.splitext(str(path))[1].lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    name: str
    width: int
    height: int
    fps: float
    frame_count: int | None  # None: a camera, or a file whose header does not say
    camera: bool = False

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)"""
        return self.height, self.width


@dataclass(frozen=True)
class Camera:
    index: int
    name: str


class VideoSource:
    """Frames of one file or camera, read in order. Not thread-safe: one reader."""

    def __init__(self, cap, info: VideoInfo, path: str | None = None):
        self._cap = cap
        self.info = info
        self.path = path
        self.position = 0  # index of the next frame read()
        self._first = None  # a camera's first frame, read to check that it works

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open_file(cls, path: str | os.PathLike) -> "VideoSource":
        path = os.fspath(path)
        if not os.path.exists(path):
            raise UserError(f"video file not found: {path}")
        if os.path.isdir(path):
            raise UserError(f"{path} is a folder, not a video file")
        from ..input_files import regular_file

        regular_file(path, "video file")  # a FIFO would block the decoder: refused from os.stat
        ext = os.path.splitext(path)[1].lower()
        if ext not in VIDEO_SUFFIXES:
            from ..images import SUFFIXES

            kind = "an image, not a video (use `cam` for images)" if ext in SUFFIXES else \
                "not a video file name"
            raise UserError(f"{path} is {kind}; give a {', '.join(VIDEO_SUFFIXES[:5])} file")
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise UserError(f"{path} cannot be decoded as a video: the file is damaged or "
                            "truncated, or is not a video")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if w <= 0 or h <= 0:
            cap.release()
            raise UserError(f"{path} holds no video stream OpenCV can decode")
        info = VideoInfo(os.path.basename(path), w, h, _fps(cap), count if count > 0 else None)
        return cls(cap, info, path)

    @classmethod
    def open_camera(cls, index: int) -> "VideoSource":
        cap = cv2.VideoCapture(int(index))
        ok, first = (cap.read() if cap.isOpened() else (False, None))
        if not ok or first is None:
            cap.release()
            raise UserError(f"camera {index} cannot be opened (unplugged, or in use by "
                            "another program?)")
        h, w = first.shape[:2]
        src = cls(cap, VideoInfo(_camera_name(int(index)), w, h, _fps(cap), None, camera=True))
        src._first = first
        return src

    # -- reading ---------------------------------------------------------------------------
    def read(self) -> np.ndarray | None:
        """The next frame as uint8 RGB (H, W, 3); None at the end of a file.

        UserError when a file ends before the frames its header counts (truncated or
        damaged) or when a camera stops sending frames."""
        first = self._first
        if first is not None:
            self._first = None
            ok, bgr = True, first
        else:
            ok, bgr = self._cap.read()
        if not ok or bgr is None:
            if self.info.camera:
                raise UserError(f"{self.info.name} stopped sending frames (disconnected?)")
            expected = self.info.frame_count
            if expected is not None and self.position < expected - TRUNCATION_SLACK:
                raise UserError(f"{self.info.name}: decoding stopped at frame {self.position} of "
                                f"{expected}; the file is truncated or damaged")
            if self.position == 0:
                raise UserError(f"{self.info.name} holds no frame OpenCV can decode")
            return None
        self.position += 1
        return _rgb(bgr)

    def seek(self, index: int) -> None:
        """Go to frame `index` (files only); the next read() returns it."""
        if self.info.camera:
            return
        index = max(0, int(index))
        if self.info.frame_count is not None:
            index = min(index, self.info.frame_count - 1)
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self.position = index

    def __iter__(self):
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def close(self) -> None:
        self._cap.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_frames(path, max_frames: int | None = None) -> tuple[np.ndarray, VideoInfo]:
    """All frames of a file (or the first max_frames): uint8 (N, H, W, 3), and its info."""
    with VideoSource.open_file(path) as src:
        frames = []
        for frame in src:
            frames.append(frame)
            if max_frames is not None and len(frames) >= max_frames:
                break
        return np.stack(frames), src.info


def list_cameras(max_index: int = 8) -> list[Camera]:
    """The cameras that open, by index (and name where the platform tells it)."""
    if sys.platform.startswith("linux"):
        nodes = sorted(glob.glob("/dev/video[0-9]*"), key=lambda p: int(p[10:]))
        candidates = [int(p[10:]) for p in nodes][:max_index]
    else:
        candidates = list(range(max_index))
    found = []
    for index in candidates:
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened() and cap.read()[0]:
                found.append(Camera(index, _camera_name(index)))
        finally:
            cap.release()
    return found


def _camera_name(index: int) -> str:
    try:
        with open(f"/sys/class/video4linux/video{index}/name") as f:
            return f"camera {index}: {f.read().strip()}"
    except OSError:
        return f"camera {index}"


def _fps(cap) -> float:
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    return fps if np.isfinite(fps) and 0.5 <= fps <= 1000.0 else DEFAULT_FPS


def _rgb(bgr: np.ndarray) -> np.ndarray:
    if bgr.ndim == 2:
        return np.repeat(bgr[..., None], 3, axis=2)
    return cv2.cvtColor(bgr[..., :3], cv2.COLOR_BGR2RGB)


# -- writing ---------------------------------------------------------------------------------
def check_output(path: str) -> str:
    """The output's suffix, or UserError naming the ones that can be written."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext not in OUTPUT_SUFFIXES:
        raise UserError(f"cannot write {path}: give a file name ending in "
                        f"{', '.join(OUTPUT_SUFFIXES)} (.avi/.mkv are lossless)")
    return ext


class VideoSink:
    """Writes uint8 RGB frames of one size to a video file (or a GIF) at `fps`.

    Writes to `path` directly: wrap it in engine.outputs.write_file for a file that
    appears only when complete."""

    def __init__(self, path: str, fps: float, size: tuple[int, int], ext: str | None = None):
        self.path, self.fps = path, float(fps)
        self.height, self.width = int(size[0]), int(size[1])
        self.ext = ext or check_output(path)
        self.count = 0
        self._gif: list = []
        self._writer = None
        if self.ext != ".gif":
            fourcc = cv2.VideoWriter_fourcc(*FOURCC[self.ext])
            self._writer = cv2.VideoWriter(path, cv2.CAP_FFMPEG, fourcc, self.fps,
                                           (self.width, self.height))
            if not self._writer.isOpened():
                from .check import disk_full, failure

                if disk_full(path):  # a full disk looks like a missing encoder: say which
                    raise failure(path, "cannot open the video file")
                raise UserError(f"cannot write {path}: OpenCV has no {FOURCC[self.ext]} encoder "
                                "here; try .avi or .gif")

    def write(self, rgb: np.ndarray) -> None:
        if rgb.shape[:2] != (self.height, self.width):
            raise ValueError(f"frame {rgb.shape[:2]} != video size {(self.height, self.width)}")
        if self._writer is not None:
            self._writer.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR))
        else:
            from PIL import Image as PILImage

            self._gif.append(PILImage.fromarray(np.ascontiguousarray(rgb)))
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
            from .check import check_complete

            check_complete(self.path, self.count)  # the encoder reports no write error itself
        elif self._gif:
            # GIF delays are in 1/100 s: round the frame time to what it can hold.
            duration = max(20, int(round(100.0 / self.fps)) * 10)
            first, rest = self._gif[0], self._gif[1:]
            first.save(self.path, format="GIF", save_all=True, append_images=rest,
                       duration=duration, loop=0)
            self._gif = []


def write_video(path: str, frames, fps: float = DEFAULT_FPS) -> None:
    """Write frames (an (N, H, W, 3) array or a list) to `path` atomically."""
    from ..outputs import write_file

    frames = list(frames)
    if not frames:
        raise UserError("no frames to write")
    ext = check_output(path)

    def write(tmp):
        sink = VideoSink(tmp, fps, frames[0].shape[:2], ext)
        for f in frames:
            sink.write(f)
        sink.close()

    write_file(path, write)
