"""Animations of a gradient ascent forming: frames (uint8 RGB) to an animated GIF or MP4.

GIF through Pillow (palette per frame, looping); MP4 through OpenCV's VideoWriter
(MPEG-4 part 2, `mp4v`: every OpenCV build can write it, no system ffmpeg needed; sides
rounded up to even numbers, as most players want). Written through engine.outputs:
an interrupted run leaves no file.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import UserError

SUFFIXES = (".gif", ".mp4")
FPS = 10


def check_path(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in SUFFIXES:
        raise UserError(f"cannot write {path}: an animation is a .gif or .mp4 file")
    return ext


def save(path: str, frames, fps: int = FPS, out=None) -> None:
    """Write frames (a list of uint8 (H, W, 3), all one size) as a GIF or MP4; through
    `out` (an engine.outputs.Outputs that claimed `path`) when given, else on its own."""
    from ..outputs import write_file

    def _atomic(p, fn):
        if out is not None:
            out.write(p, fn)
        else:
            write_file(p, fn, SUFFIXES)

    ext = check_path(path)
    frames = [np.ascontiguousarray(f, np.uint8) for f in frames]
    if not frames:
        raise UserError("no frames to write")
    if ext == ".gif":
        from PIL import Image as PILImage

        pics = [PILImage.fromarray(f) for f in frames]
        _atomic(path, lambda tmp: pics[0].save(tmp, format="GIF", save_all=True,
                                               append_images=pics[1:], loop=0,
                                               duration=int(1000 / fps)))
        return
    import cv2

    h, w = frames[0].shape[:2]
    H, W = h + h % 2, w + w % 2

    def write(tmp):
        out = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*"mp4v"), fps, (W, H))
        if not out.isOpened():
            raise UserError(f"cannot write {path}: this OpenCV build has no MP4 writer; use .gif")
        try:
            for f in frames:
                if (H, W) != (h, w):
                    f = np.pad(f, ((0, H - h), (0, W - w), (0, 0)))
                out.write(np.ascontiguousarray(f[..., ::-1]))  # OpenCV wants BGR
        finally:
            out.release()

    _atomic(path, write)
