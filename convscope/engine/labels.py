"""Class names: ImageNet's (shipped, Keras downloads them at run time), the demo's, or a
sidecar file next to a user's model (`MODEL.labels.json` list, or `MODEL.labels.txt`,
one name a line)."""
from __future__ import annotations

import json
import os

from ..resources import path as _resource_path
from .errors import UserError

# The package data (convscope/resources), found through importlib.resources: wherever the
# package is installed (checkout, wheel, PyInstaller bundle), never relative to a checkout.
RESOURCES = _resource_path()


def imagenet() -> list[str]:
    with open(os.path.join(RESOURCES, "imagenet_classes.json"), encoding="utf-8") as f:
        return json.load(f)["labels"]


def sidecar(model_path: str) -> list[str] | None:
    stem = os.path.splitext(model_path.rstrip("/\\"))[0]
    for candidate in (stem + ".labels.json", stem + ".labels.txt"):
        if os.path.isfile(candidate):
            with open(candidate, encoding="utf-8") as f:
                if candidate.endswith(".json"):
                    data = json.load(f)
                    return [str(x) for x in (data["labels"] if isinstance(data, dict) else data)]
                return [line.strip() for line in f if line.strip()]
    return None


def resolve(labels: list[str] | None, classes: int, wanted: int | str) -> int:
    """A class given by index (int or digits) or by label, as an index in range."""
    if classes < 1:
        raise UserError("this model has no classes to choose from (its output is not a "
                        "vector of class scores)")
    if isinstance(wanted, str) and wanted.strip().lstrip("-").isdigit():
        wanted = int(wanted)
    wanted = _as_index(wanted)
    if isinstance(wanted, int):
        if not 0 <= wanted < classes:
            raise UserError(f"class {wanted} is out of range: this model has classes 0..{classes - 1}")
        return wanted
    if not isinstance(wanted, str):
        raise UserError(f"a class is an index 0..{classes - 1} or a label, not {wanted!r}")
    if classes == 1 and labels is None:
        labels = ["0", "1"]
    if not labels:
        raise UserError(f"this model has no class names; give the class as an index 0..{classes - 1}")
    key = wanted.strip().lower()
    hits = [i for i, name in enumerate(labels) if name.lower() == key]
    if not hits:
        hits = [i for i, name in enumerate(labels) if key in name.lower()]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UserError(f"no class named {wanted!r}; give an index 0..{max(classes, 2) - 1} or one of the model's labels")
    shown = ", ".join(f"{i} ({labels[i]})" for i in hits[:8])
    raise UserError(f"class {wanted!r} is ambiguous: {shown}; give the index")


def _as_index(wanted):
    """Whole numbers of any kind (numpy scalars, 0-d arrays, 2.0) as int; others unchanged.
    Non-whole numbers and booleans are refused: they are mistakes, not classes."""
    import numbers

    import numpy as np

    if isinstance(wanted, np.ndarray) and wanted.ndim == 0:
        wanted = wanted.item()
    if isinstance(wanted, (bool, np.bool_)):
        raise UserError(f"a class is an index or a label, not {wanted!r}")
    if isinstance(wanted, numbers.Integral):
        return int(wanted)
    if isinstance(wanted, numbers.Real):
        if float(wanted).is_integer():
            return int(wanted)
        raise UserError(f"class {wanted!r} is not a whole number; give an index or a label")
    return wanted
