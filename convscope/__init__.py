"""ConvScope: see what a convolutional network has learned.

    import convscope
    m = convscope.open_model("demo")
    img = convscope.load_image(convscope.sample("demo_star.png"))
    m.predict(img, top=3)

The public API is convscope.engine's, re-exported here on first use (PEP 562), so
`import convscope` stays cheap (no TensorFlow, no Qt). The code lives in convscope.engine
(all computation, no display) and convscope.gui (the window); convscope/resources holds the
demo model, the sample images and ImageNet's class names.
"""
from importlib import import_module

__version__ = "0.1.0"

_API = ("open_model", "load_image", "from_array", "Image", "UserError", "Cancelled",
        "CancelToken")
__all__ = [*_API, "sample", "__version__"]


def sample(name: str) -> str:
    """The path of a bundled sample image (convscope/resources/samples/NAME)."""
    from .resources import path as _path

    return _path("samples", name)


def __getattr__(name):
    if name in _API:
        value = getattr(import_module(".engine", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'convscope' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_API))
