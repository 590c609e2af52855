"""ConvScope's package data: the demo model (models/), sample images (samples/) and
ImageNet's class names (imagenet_classes.json). Found through importlib.resources, so they
are read from wherever the package is installed (a wheel, a zip, a PyInstaller bundle)."""
from importlib import resources as _res


def files():
    """The Traversable root of the package data."""
    return _res.files(__name__)


def path(*parts: str) -> str:
    """A real file-system path of one resource (they are installed as plain files)."""
    return str(files().joinpath(*parts))
