"""Writing result files atomically: a failed or interrupted run leaves no partial file."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from .errors import UserError


def _atomic(path: str, write) -> None:
    path = os.path.abspath(path)
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise UserError(f"cannot write {path}: folder {folder} does not exist")
    suffix = os.path.splitext(path)[1]
    fd, tmp = tempfile.mkstemp(prefix=".convscope-", suffix=suffix, dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_png(path: str, rgb: np.ndarray) -> None:
    """uint8 (H, W) or (H, W, 3) to PNG (or any format PIL infers from the suffix)."""
    from PIL import Image as PILImage

    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"):
        raise UserError(f"cannot write {path}: give an image file name ending in .png "
                        "(or .jpg, .tif, .bmp, .webp)")
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, ext[1:].upper())
    img = PILImage.fromarray(np.ascontiguousarray(rgb))
    _atomic(path, lambda tmp: img.save(tmp, format=fmt))


def save_npy(path: str, array: np.ndarray) -> None:
    if not path.endswith(".npy"):
        raise UserError(f"cannot write {path}: --npy takes a file name ending in .npy")
    _atomic(path, lambda tmp: np.save(tmp, array))


def write_atomically(path: str, write) -> None:
    """Call write(tmp) on a temporary file beside `path`, then rename it to `path`: a
    failure or Ctrl-C part-way leaves no file (streamed outputs such as videos)."""
    _atomic(path, write)
