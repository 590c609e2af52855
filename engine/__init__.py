"""ConvScope's engine: all computation, usable without a display (design §4).

    from engine import open_model, load_image
    m = open_model("demo"); img = load_image("cat.jpg"); m.predict(img, top=3)

TensorFlow is imported by `open_model` (lazily), so importing this package is cheap and a
GUI can show its window before TensorFlow has loaded.
"""
from .cancel import CancelToken
from .errors import Cancelled, UserError
from .images import Image, from_array, load_image


def open_model(spec, preprocess="auto", device="auto"):
    from .model import open_model as _open

    return _open(spec, preprocess=preprocess, device=device)


__all__ = ["open_model", "load_image", "from_array", "Image", "UserError", "Cancelled",
           "CancelToken"]
