"""ConvScope's package data: the demo model (models/), sample images (samples/) and
ImageNet's class names (imagenet_classes.json). Found through importlib.resources, so they
are read from wherever the package is installed (a checkout, a wheel, a PyInstaller
bundle), never from a path relative to a checkout. pyproject.toml's package-data ships
every file of this folder."""
from importlib import resources as _res


def files():
    """The Traversable root of the package data."""
    return _res.files(__name__)


def path(*parts: str) -> str:
    """A file-system path of a resource (they are installed as plain files), or of the
    folder itself with no parts."""
    return str(files().joinpath(*parts)) if parts else str(files())


def listing() -> list[str]:
    """Every data file, as a '/'-joined path relative to this folder (code excluded)."""
    out = []

    def walk(node, prefix):
        for child in node.iterdir():
            name = prefix + child.name
            if child.is_dir():
                if child.name != "__pycache__":
                    walk(child, name + "/")
            elif not child.name.endswith((".py", ".pyc")):
                out.append(name)

    walk(files(), "")
    return sorted(out)
