"""Decoding a dataset ahead of the model: a bounded, ordered prefetch over worker threads.

`decode(item, input_shape)` reads one file (hash, decode, EXIF, resize to the model's input,
its mask or box) and never raises: a file it cannot use comes back with `error` set.
`prefetch(items, ...)` runs decode on a thread pool, at most `depth` files ahead of the
consumer, in order; Pillow and OpenCV release the GIL while they decode and resize, so the
threads overlap with the model's own computation. Memory is bounded by `depth` decoded
images whatever the number of files. `batches` groups the stream into lists of N.
"""
from __future__ import annotations

import collections
import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..errors import UserError
from ..images import Image, load_image
from .metrics import box_region
from .sources import Item

MIN_SIDE = 8  # pixels; smaller images have nothing a convolutional map can localise


@dataclass(frozen=True, eq=False)
class Decoded:
    item: Item
    index: int  # position in the run's item list
    sha256: str = ""
    image: Image | None = None  # the original, for metrics at its resolution and overlays
    fitted: Image | None = None  # resized to the model input (uint8), what the model sees
    region: np.ndarray | None = None  # bool (H, W) at the original's size, from box or mask
    error: str | None = None


def decode(item: Item, index: int, input_shape: tuple) -> Decoded:
    """One file ready for the model, or a Decoded with `error` (the reason) set. A FIFO, a
    device or a symlink to one (/dev/zero) is refused from os.stat before it is opened:
    reading it to hash it would block or never end."""
    from ..input_files import regular_file

    try:
        if os.path.exists(item.path):  # a missing file: the read below says so
            regular_file(item.path, "image file")
        if item.mask is not None and os.path.exists(item.mask):
            regular_file(item.mask, "mask file")
    except UserError as exc:
        return Decoded(item, index, error=str(exc).replace(item.path, "the file", 1))
    try:
        with open(item.path, "rb") as f:
            data = f.read()
    except OSError as exc:
        return Decoded(item, index, error=f"cannot read the file ({exc.strerror or exc})")
    sha = hashlib.sha256(data).hexdigest()
    try:
        image = load_image(item.path)
        h, w = image.size
        if min(h, w) < MIN_SIDE:
            raise UserError(f"image is {w}x{h} pixels; at least {MIN_SIDE} a side is needed")
        region = _region(item, (h, w))
        fitted = _fit(image, input_shape)
    except UserError as exc:
        msg = str(exc)
        if msg.startswith(item.path):
            msg = msg[len(item.path):].lstrip(" :")
        return Decoded(item, index, sha256=sha, error=msg)
    except Exception as exc:  # a decoder failing on a hostile file: a row in errors.csv
        return Decoded(item, index, sha256=sha, error=f"{type(exc).__name__}: {exc}"[:300])
    return Decoded(item, index, sha, image, fitted, region)


def _fit(image: Image, input_shape: tuple) -> Image:
    """The original resized to a static (H, W) input, as uint8 (so ConvModel.prepare's own
    fit is the identity and gives the same numbers as preparing the original)."""
    h, w = input_shape[0], input_shape[1]
    if h is None or w is None or image.size == (h, w):
        return image
    h0, w0 = image.size
    shrink = h * w < h0 * w0
    px = cv2.resize(image.pixels, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return Image(pixels=px, name=image.name, path=image.path, source_mode=image.source_mode)


def _region(item: Item, size: tuple[int, int]) -> np.ndarray | None:
    if item.mask is not None:
        m = load_image(item.mask).pixels
        if m.shape[:2] != size:
            raise UserError(f"mask {os.path.basename(item.mask)} is {m.shape[1]}x{m.shape[0]}, "
                            f"the image {size[1]}x{size[0]}; they must match")
        region = m.max(axis=2) > 0
    elif item.box is not None:
        region = box_region(item.box, size)
    else:
        return None
    if not region.any():
        raise UserError("the box / mask covers no pixel of the image")
    return region


def prefetch(items: Iterable[tuple[int, Item]], input_shape: tuple, workers: int = 2,
             depth: int = 64) -> Iterator[Decoded]:
    """Decoded items in order, decoded by `workers` threads at most `depth` ahead."""
    workers, depth = max(1, int(workers)), max(1, int(depth))
    pending: collections.deque = collections.deque()
    it = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="convscope-decode") as pool:
        try:
            for index, item in it:
                pending.append(pool.submit(decode, item, index, input_shape))
                if len(pending) >= depth:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for f in pending:
                f.cancel()


def batches(stream: Iterable, size: int) -> Iterator[list]:
    size = max(1, int(size))
    out: list = []
    for x in stream:
        out.append(x)
        if len(out) >= size:
            yield out
            out = []
    if out:
        yield out
