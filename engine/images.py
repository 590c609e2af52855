"""Decoding image files and fitting them to a model's input (no TensorFlow here).

The decoded original is kept as uint8 RGB for overlays; the model's input is prepared
from it on demand (resized, gray for 1-channel models, preprocessed by the model).
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image as PILImage, ImageOps, UnidentifiedImageError

from .errors import UserError, first_line

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
MAX_FREE_SIDE = 512  # longest side fed to models that accept any size


@dataclass(frozen=True, eq=False)
class Image:
    """A decoded image. `pixels` is uint8 RGB (H, W, 3), EXIF orientation applied."""

    pixels: np.ndarray
    name: str = "image"
    path: str | None = None
    source_mode: str = "RGB"  # the file's own pixel mode (L, I;16, P, RGBA, ...)
    meta: dict = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)"""
        return self.pixels.shape[0], self.pixels.shape[1]

    def gray(self) -> np.ndarray:
        """Luminance as float32 (H, W) in [0, 255] (ITU-R 601, as PIL's 'L')."""
        return luminance(self.pixels)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (as PIL's 'L'): 0.299 R + 0.587 G + 0.114 B, float32 (..., H, W)."""
    p = np.asarray(rgb).astype(np.float32, copy=False)
    return p[..., 0] * 0.299 + p[..., 1] * 0.587 + p[..., 2] * 0.114


def load_image(path: str | os.PathLike) -> Image:
    """Decode an image file; UserError if it is missing or not an image."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise UserError(f"image file not found: {path}")
    if os.path.isdir(path):
        raise UserError(f"{path} is a folder, not an image file")
    try:
        with warnings.catch_warnings():
            # Pillow warns above ~89 MP and refuses above ~179 MP; the refusal is our message.
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(path) as im:
                im.load()
                mode = im.mode
                im = ImageOps.exif_transpose(im)
                pixels = _to_rgb8(im)
    except PILImage.DecompressionBombError:
        raise UserError(f"{path} is too large to open safely (over "
                        f"{2 * PILImage.MAX_IMAGE_PIXELS // 1_000_000} megapixels); downscale it first") from None
    except MemoryError:
        raise UserError(f"{path} is too large for the memory available; downscale it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise UserError(
            f"{path} is not an image ConvScope can read ({_short(exc)}); "
            "use JPEG, PNG, BMP, TIFF or WebP"
        ) from None
    return Image(pixels=pixels, name=os.path.basename(path), path=path, source_mode=mode)


def from_array(array: np.ndarray, name: str = "array") -> Image:
    """Wrap an in-memory array (H, W), (H, W, 1|3|4), uint8 or float in [0, 1] or [0, 255]."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise UserError(f"an image array must be (H, W) or (H, W, 1/3/4), not {a.shape}")
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        if np.nanmax(a) <= 1.0:
            a = a * 255.0
        a = np.clip(np.nan_to_num(a), 0, 255).round().astype(np.uint8)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    return Image(pixels=np.ascontiguousarray(a[..., :3]), name=name)


def as_images(images) -> list[Image]:
    """One image or a list of them (Image, path or array) as a list of Image."""
    seq = list(images) if isinstance(images, (list, tuple)) else [images]
    if not seq:
        raise UserError("no images given")
    out = []
    for im in seq:
        if isinstance(im, Image):
            out.append(im)
        elif isinstance(im, str) or hasattr(im, "__fspath__"):
            out.append(load_image(im))
        else:
            out.append(from_array(im))
    return out


def _to_rgb8(im: PILImage.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        # 16-bit files use the full 0..65535 range; 32-bit int/float ones vary: stretch.
        hi = 65535.0 if im.mode.startswith("I;16") else max(float(a.max()), 1e-12)
        lo = 0.0 if im.mode.startswith("I;16") else min(float(a.min()), 0.0)
        g = np.clip((a - lo) / (hi - lo) * 255.0, 0, 255).round().astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "RGBa"):
        # Transparent pixels over white, as every image viewer shows them.
        im = im.convert("RGBA")
        white = PILImage.new("RGBA", im.size, (255, 255, 255, 255))
        im = PILImage.alpha_composite(white, im)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def fit(image: Image, height: int | None, width: int | None, channels: int) -> np.ndarray:
    """Pixels resized to (height, width) as float32 in [0, 255] with `channels` channels.

    A free (None) input side keeps the image's own size, capped at MAX_FREE_SIDE.
    """
    h0, w0 = image.size
    if height is None or width is None:
        scale = min(1.0, MAX_FREE_SIDE / max(h0, w0))
        height = height or max(8, round(h0 * scale))
        width = width or max(8, round(w0 * scale))
    src = image.pixels
    if (h0, w0) != (height, width):
        shrink = height * width < h0 * w0
        src = cv2.resize(src, (width, height),
                         interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    x = src.astype(np.float32)
    if channels == 1:
        x = luminance(x)[..., None]
    elif channels != 3:
        raise UserError(f"models with {channels} input channels are not images ConvScope can feed")
    return x


def is_image_path(path: str) -> bool:
    return os.path.splitext(path)[1].lower() in SUFFIXES


def _short(exc: BaseException) -> str:
    return first_line(exc, 160)
