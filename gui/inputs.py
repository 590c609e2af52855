"""What comes into the window — dropped files, pasted images, sample images — sorted into
models and images. Decoding an image is numpy/PIL work (no TensorFlow)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from engine.errors import UserError
from engine.images import from_array, is_image_path, load_image
from engine.labels import RESOURCES
from engine.video_io import is_video_path

from .model_dialogs import is_model_path
from .qimage import from_qimage

SAMPLES = os.path.join(RESOURCES, "samples")


@dataclass
class Incoming:
    models: list[str] = field(default_factory=list)
    images: list = field(default_factory=list)  # engine.images.Image
    image_paths: list[str] = field(default_factory=list)
    videos: list[str] = field(default_factory=list)  # video files, for the Live view
    problems: list[str] = field(default_factory=list)


def from_paths(paths) -> Incoming:
    out = Incoming()
    for path in paths:
        if is_model_path(path):
            out.models.append(path)
        elif is_video_path(path):
            out.videos.append(path)
        elif is_image_path(path):
            try:
                out.images.append(load_image(path))
                out.image_paths.append(path)
            except UserError as exc:
                out.problems.append(str(exc))
        elif os.path.isdir(path):
            out.problems.append(f"{path} is a folder that holds no SavedModel")
        else:
            out.problems.append(f"{os.path.basename(path)}: not a model (.keras, .h5) or an "
                                "image (JPEG, PNG, BMP, TIFF, WebP) ConvScope can open")
    return out


def from_mime(mime) -> Incoming:
    """Files (URLs) or image data from a drop or the clipboard."""
    paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
    if paths:
        return from_paths(paths)
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
