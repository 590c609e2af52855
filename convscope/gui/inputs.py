"""What comes into the window — dropped files, pasted images, sample images — sorted into
models and images. Decoding an image is numpy/PIL work (no TensorFlow).

Dropped, pasted and opened files are decoded off the GUI thread (`ImageDecoder`): a
100-megapixel photo takes seconds to decode, and must not freeze the window meanwhile.
(A FIFO or device is refused from its stat before any decoder opens it: engine.images.)
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal

from convscope.engine.errors import UserError
from convscope.engine.images import from_array, is_image_path, load_image
from convscope.engine.labels import RESOURCES
from convscope.engine.loading import is_model_path
from convscope.engine.video.io import is_video_path

from .qimage import from_qimage

SAMPLES = os.path.join(RESOURCES, "samples")


@dataclass
class Incoming:
    models: list[str] = field(default_factory=list)
    images: list = field(default_factory=list)  # engine.images.Image
    image_paths: list[str] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)  # video files, for the Live view
    problems: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # image files still to decode
    level: str = "warning"  # how the problems are shown

    def decode(self) -> "Incoming":
        """Decode the pending image files (any thread); returns self."""
        for path in self.pending:
            try:
                self.images.append(load_image(path))
                self.image_paths.append(path)
            except UserError as exc:
                self.problems.append(str(exc))
            except MemoryError:
                self.problems.append(f"{path} is too large for the memory available")
        self.pending = []
        return self


def from_paths(paths, decode: bool = True) -> Incoming:
    """Sort paths into models and images; images are decoded now, or with decode=False
    left in `pending` for an ImageDecoder."""
    out = Incoming()
    for path in paths:
        if is_model_path(path):
            out.models.append(path)
        elif is_video_path(path):
            out.videos.append(path)
        elif is_image_path(path):
            out.pending.append(path)
        elif os.path.isdir(path):
            out.problems.append(f"{path} is a folder that holds no SavedModel")
        else:
            out.problems.append(f"{os.path.basename(path)}: not a model (.keras, .h5) or an "
                                "image (JPEG, PNG, BMP, TIFF, WebP) ConvScope can open")
    return out.decode() if decode else out


def from_mime(mime) -> Incoming:
    """Files (URLs) or image data from a drop or the clipboard."""
    paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    if paths:
        return from_paths(paths, decode=False)
    out = Incoming()
    if mime.hasImage():
        qimage = mime.imageData()
        if qimage is not None and not qimage.isNull():
            out.images.append(from_array(from_qimage(qimage), name="pasted image"))
            return out
    out.problems.append("nothing to open: drop or paste image files, image data or a model file")
    return out


def sample_images(prefer: str = "demo_circle.png") -> tuple[list, int]:
    """The bundled samples (demo shapes first) and the index of the one to show first."""
    if not os.path.isdir(SAMPLES):
        return [], 0
    names = sorted((n for n in os.listdir(SAMPLES) if is_image_path(n)),
                   key=lambda n: (not n.startswith("demo"), n))
    images = []
    for name in names:
        try:
            images.append(load_image(os.path.join(SAMPLES, name)))
        except UserError:
            continue
    current = next((i for i, im in enumerate(images) if im.name == prefer), 0)
    return images, current


class ImageDecoder(QObject):
    """Decodes an Incoming's pending image files on one worker thread, in order; the
    decoded Incoming comes back through `sigDecoded` on the GUI thread."""

    sigDecoded = Signal(object)  # Incoming

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convscope-decode")
        self.busy = 0  # submitted and not yet delivered

    def decode(self, incoming: Incoming) -> None:
        self.busy += 1
        future = self._pool.submit(incoming.decode)
        future.add_done_callback(lambda f: self.sigDecoded.emit(
            f.result() if f.exception() is None else _failed(incoming, f.exception())))

    def delivered(self) -> None:
        self.busy = max(0, self.busy - 1)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _failed(incoming: Incoming, exc: BaseException) -> Incoming:
    incoming.pending = []
    incoming.problems.append(f"could not decode the images: {type(exc).__name__}: {exc}")
    return incoming
