"""Memory a job will need, estimated from shapes before anything is allocated.

A job that would not fit is refused with a UserError that says what would fit, instead of
being killed by the kernel half-way (a 40000 x 40000 model input is 19 GB as float32).

- `budget()`: bytes one job may use: a quarter of the physical memory, at most 4 GiB,
  or CONVSCOPE_MEMORY_BUDGET (bytes, or with a K/M/G suffix) when set.
- `DECODE_BUDGET`: bytes an image decoder may allocate for one file (engine.images).
- `forward_bytes(model, n, h, w)`: one forward pass of n images: the input as uint8 and
  float32 (resized, preprocessed: 3 float copies) plus every layer's output (an upper
  bound: TensorFlow frees most of them as it goes). For models with a free input size
  the layers' sizes are unknown before tracing, so only the input is counted (their
  inputs are capped at engine.images.MAX_FREE_SIDE).
- `require(need, what, hint)`: UserError if need > budget().
"""
from __future__ import annotations

import math
import os
import re

from .errors import UserError

GiB = 1 << 30
MiB = 1 << 20
DECODE_BUDGET = 640 * MiB
_BYTES_PER_FLOAT = 4


def _physical() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 8 * GiB


def budget() -> int:
    text = os.environ.get("CONVSCOPE_MEMORY_BUDGET", "").strip()
    if text:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([kKmMgG]?)[bB]?", text)
        if m:
            scale = {"": 1, "k": 1 << 10, "m": MiB, "g": GiB}[m.group(2).lower()]
            return max(1, int(float(m.group(1)) * scale))
    return int(min(4 * GiB, _physical() // 4))


def human(n: float) -> str:
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} bytes"


def require(need: float, what: str, hint: str = "") -> None:
    """Refuse a job whose estimate `need` (bytes) exceeds the budget."""
    limit = budget()
    if need > limit:
        raise UserError(f"{what} would need about {human(need)} of memory, more than the "
                        f"{human(limit)} ConvScope allows itself"
                        + (f"; {hint}" if hint else "")
                        + " (CONVSCOPE_MEMORY_BUDGET sets the limit)")


def layer_floats(model, h: int, w: int) -> int:
    """Floats of all layer outputs for one image, free sides counted at (h, w)."""
    total = 0
    for info in getattr(model, "layers", ()):
        shape = info.output_shape
        if not shape or info.is_container:
            continue
        dims = list(shape)
        if len(dims) == 3:
            dims = [h if dims[0] is None else dims[0], w if dims[1] is None else dims[1],
                    dims[2] or 1]
        total += math.prod(int(d) for d in dims if d is not None)
    return total


def forward_bytes(model, n: int, h: int, w: int) -> int:
    """Estimate for one forward pass of n images of h x w (see the module docstring)."""
    c = int(model.input_shape[2] or 3)
    fixed = model.input_shape[0] is not None and model.input_shape[1] is not None
    per_image = h * w * c * (1 + 3 * _BYTES_PER_FLOAT)
    if fixed:
        per_image += layer_floats(model, h, w) * _BYTES_PER_FLOAT
    return int(n) * per_image


def per_image_bytes(model, h: int, w: int) -> int:
    return forward_bytes(model, 1, h, w)


def side_that_fits(model, n: int = 1) -> int:
    """The largest square input side whose forward pass of n images fits the budget."""
    h, w, _ = model.input_shape
    if h is None or w is None:
        return 0
    per_pixel = forward_bytes(model, n, h, w) / max(1, h * w)
    return int(math.sqrt(budget() / max(per_pixel, 1e-9)))


def check_forward(model, n: int, h: int, w: int) -> None:
    need = forward_bytes(model, n, h, w)
    if need <= budget():
        return
    side = side_that_fits(model, n)
    hint = (f"a model input of about {side}x{side} would fit" if side >= 8
            else "this model's input is too large for this computer")
    what = f"a forward pass of {n} image(s) at {h}x{w}" if n > 1 else \
        f"a forward pass at this model's {h}x{w} input size"
    require(need, what, hint)
