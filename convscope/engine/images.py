"""Decoding image files and fitting them to a model's input (no TensorFlow here).

The decoded original is kept as uint8 RGB for overlays; the model's input is prepared
from it on demand (resized, gray for 1-channel models, preprocessed by the model).
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image as PILImage, ImageOps, UnidentifiedImageError

from . import memory
from .errors import UserError, first_line
from .input_files import regular_file
from .thread_warnings import captured

SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif")
MAX_FREE_SIDE = 512  # longest side fed to models that accept any size
FREE_SIDE_STEP = 32  # free input sides are multiples of this (fitted_size)
KEEP_MAX_PIXELS = 40_000_000  # larger images are kept reduced (load_image)


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


def load_image(path: str | os.PathLike, max_pixels: int | None = None) -> Image:
    """Decode an image file; UserError if it is missing, not a regular file, not an image,
    or too large to decode in memory.

    Images over `max_pixels` (default KEEP_MAX_PIXELS) are kept reduced: JPEGs are decoded
    at 1/2, 1/4 or 1/8 scale by the decoder itself (Pillow's `draft`, no full-size buffer),
    other formats reduced by an integer box filter right after decoding. The memory the
    decoder needs is estimated from the header first (engine.memory.DECODE_BUDGET).
    `meta["original_size"]` (height, width) records the file's own size when reduced.
    """
    path = os.fspath(path)
    regular_file(path, "image file")  # a FIFO or a device would block or never end
    max_pixels = KEEP_MAX_PIXELS if max_pixels is None else int(max_pixels)
    meta = {}
    try:
        with captured():  # dropped on purpose
            # Pillow warns above ~89 MP and refuses above ~179 MP (the refusal is our
            # message), and warns about corrupt EXIF / TIFF tags it skips: a warning on
            # stderr would break the CLI's one-line contract, and the pixels are fine.
            with PILImage.open(path) as im:
                mode = im.mode
                w0, h0 = im.size
                if w0 < 1 or h0 < 1:
                    raise UserError(f"{path} has no pixels ({w0}x{h0})")
                if w0 * h0 > max_pixels and im.format == "JPEG":
                    k = math.ceil(math.sqrt(w0 * h0 / max_pixels))  # as _shrink would
                    im.draft(None, (math.ceil(w0 / k), math.ceil(h0 / k)))
                _check_decode(path, im, max_pixels)
                im.load()
                im = _shrink(im, max_pixels)
                if im.size != (w0, h0):
                    meta["original_size"] = (h0, w0)  # before EXIF orientation
                ImageOps.exif_transpose(im, in_place=True)  # no copy when upright
                pixels = _to_rgb8(im)
    except UserError:
        raise
    except PILImage.DecompressionBombError:
        raise UserError(f"{path} is too large to open safely (over "
                        f"{2 * PILImage.MAX_IMAGE_PIXELS // 1_000_000} megapixels); downscale it first") from None
    except MemoryError:
        raise UserError(f"{path} is too large for the memory available; downscale it first") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, IndexError,
            KeyError, struct.error, EOFError, ZeroDivisionError) as exc:
        # Pillow's plugins raise all of these on corrupt headers (found by fuzzing)
        raise UserError(
            f"{path} is not an image ConvScope can read ({_short(exc)}); "
            "use JPEG, PNG, BMP, TIFF or WebP"
        ) from None
    return Image(pixels=pixels, name=os.path.basename(path), path=path, source_mode=mode,
                 meta=meta)


# Bytes Pillow stores per pixel while decoding, by mode (RGB is stored as 4 bytes).
_STORED = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


def _check_decode(path: str, im, max_pixels: int) -> None:
    """Refuse before decoding when the decoder's buffers would exceed DECODE_BUDGET:
    the decoded frame, plus the RGB conversions of what is kept (4 + 3 bytes a pixel)."""
    w, h = im.size
    stored = _STORED.get(im.mode, 4)
    kept = min(w * h, max_pixels)
    need = w * h * stored + kept * 7
    if need > memory.DECODE_BUDGET:
        fits = memory.DECODE_BUDGET // (stored + 7)  # pixels, kept whole
        side = int(math.sqrt(fits * w / h)), int(math.sqrt(fits * h / w))
        raise UserError(
            f"{path} is {w}x{h} ({w * h / 1e6:.0f} megapixels, {im.mode}); decoding it would "
            f"need about {memory.human(need)}, more than the {memory.human(memory.DECODE_BUDGET)} "
            f"allowed for one image; downscale it to at most {fits / 1e6:.0f} megapixels "
            f"(e.g. {side[0]}x{side[1]}) first")


def _shrink(im, max_pixels: int):
    """Integer box reduction to at most max_pixels (after a full decode)."""
    w, h = im.size
    if w * h <= max_pixels:
        return im
    k = math.ceil(math.sqrt(w * h / max_pixels))
    while (w // k) * (h // k) > max_pixels:
        k += 1
    if im.mode in ("1", "P"):
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode.startswith("I;16"):
        im = im.convert("I")
    return im.reduce(k)


def from_array(array: np.ndarray, name: str = "array") -> Image:
    """Wrap an in-memory array (H, W), (H, W, 1|3|4), uint8 or float in [0, 1] or [0, 255]."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise UserError(f"an image array must be (H, W) or (H, W, 1/3/4), not {a.shape}")
    if a.shape[0] < 1 or a.shape[1] < 1:
        raise UserError(f"an image array must have pixels; this one is {a.shape}")
    if a.dtype != np.uint8:
        if a.dtype.kind not in "biuf":
            raise UserError(f"an image array must hold numbers (uint8, or float in [0, 1] or "
                            f"[0, 255]), not {a.dtype}")
        a = a.astype(np.float64)
        finite = a[np.isfinite(a)]
        if finite.size == 0 or finite.max() <= 1.0:
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


def fitted_size(image: Image, height: int | None, width: int | None) -> tuple[int, int]:
    """(height, width) that `fit` resizes to. A free side is the image's, scaled so the
    longest side is at most MAX_FREE_SIDE, rounded to a multiple of FREE_SIDE_STEP: the
    set of input shapes a free-size model ever sees stays small (each new shape costs
    TensorFlow/oneDNN memory that is never returned), and stride-32 networks divide evenly."""
    h0, w0 = image.size
    if height is None or width is None:
        scale = min(1.0, MAX_FREE_SIDE / max(h0, w0))
        height = height or _step(h0 * scale)
        width = width or _step(w0 * scale)
    return int(height), int(width)


def _step(side: float) -> int:
    return max(FREE_SIDE_STEP, int(round(side / FREE_SIDE_STEP)) * FREE_SIDE_STEP)


def fit(image: Image, height: int | None, width: int | None, channels: int) -> np.ndarray:
    """Pixels resized to (height, width) as float32 in [0, 255] with `channels` channels.

    A free (None) input side keeps about the image's own size (see fitted_size).
    """
    h0, w0 = image.size
    height, width = fitted_size(image, height, width)
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
