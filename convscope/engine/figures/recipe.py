"""A figure's recipe: everything needed to make it again, and the checks before doing so.

Contents: the recipe format and app version; the model (spec, file name, SHA-256) and its
preprocessing; each image's path and SHA-256; the figure spec (kinds, methods, layers,
classes, parameters) and options; TensorFlow, Keras, numpy, matplotlib and Python versions;
the layout (panel positions). No dates and no output path: the same inputs give the same
recipe, so a remade figure is identical byte for byte.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform

from ..errors import UserError
from .spec import FigureOptions, FigureSpec

FORMAT = 1  # the recipe layout; a newer one is refused


def app_version() -> str:
    """The running package's version (convscope.__version__, the one source; issue 22), not
    the metadata of whichever convscope distribution happens to be installed."""
    from ... import __version__

    return __version__


def sha256_file(path: str) -> str:
    """A regular file's SHA-256; a FIFO or a device (which would block or never end) is
    refused from os.stat before it is opened (UserError)."""
    from ..input_files import regular_file

    regular_file(path)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def sha256_path(path: str) -> str:
    """A file's SHA-256; for a folder (SavedModel), of its files' names and contents."""
    if not os.path.isdir(path):
        return sha256_file(path)
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            h.update(os.path.relpath(full, path).encode())
            h.update(sha256_file(full).encode())
    return h.hexdigest()


def model_file(spec: str) -> str | None:
    """The file (or folder) behind a model spec; None for built-ins (Keras' own cache)."""
    if spec == "demo":
        from ..loading import DEMO_PATH

        return DEMO_PATH
    if spec.startswith("builtin:"):
        return None
    return os.path.abspath(spec)


def versions() -> dict:
    import matplotlib
    import numpy

    out = {"numpy": numpy.__version__, "matplotlib": matplotlib.__version__,
           "python": platform.python_version()}
    from ... import __version__  # the ConvScope that made it (issue 22)

    out["convscope"] = __version__
    import sys

    for name in ("tensorflow", "keras"):
        module = sys.modules.get(name)
        out[name] = getattr(module, "__version__", None) if module else None
    return out


def build(model_spec: str, preprocess: str, images: list, spec: FigureSpec,
          options: FigureOptions, layout: dict | None = None) -> dict:
    """The recipe of a figure. images: engine.images.Image in spec order."""
    path = model_file(model_spec)
    model = {"spec": path if path and model_spec != "demo" else model_spec, "file": os.path.basename(path) if path else None,
             "sha256": sha256_path(path) if path and os.path.exists(path) else None}
    imgs = []
    for im in images:
        entry = {"name": im.name, "path": os.path.abspath(im.path) if im.path else None,
                 "sha256": sha256_file(im.path) if im.path and os.path.isfile(im.path) else None}
        if entry["path"] is None:
            entry["note"] = "an image that exists only in memory (pasted): cannot be re-read"
        imgs.append(entry)
    return {"convscope_recipe": FORMAT, "app_version": app_version(),
            "model": model, "preprocess": preprocess, "images": imgs,
            "figure": dict(spec.as_dict(), images=[e["path"] or e["name"] for e in imgs]),
            "options": options.as_dict(),
            "versions": versions(), "layout": layout or {}}


def load(path: str) -> dict:
    """A recipe from a .json sidecar or from a figure file's embedded copy; UserError if
    it is not one or comes from a newer ConvScope."""
    from ..input_files import regular_file

    regular_file(path, "recipe file")  # not found / a folder / a FIFO or device: one line
    if path.lower().endswith(".json"):
        try:
            with open(path, encoding="utf-8") as f:
                recipe = json.load(f)
        except (ValueError, UnicodeDecodeError):
            raise UserError(f"{path} is not a recipe: it is not valid JSON") from None
        except RecursionError:  # [[[[...]]]] thousands deep: not a recipe
            raise UserError(f"{path} is not a recipe: its JSON is nested too deeply") from None
    else:
        sidecar = path + ".json"
        if path.lower().endswith(".pdf") and os.path.isfile(sidecar):
            return load(sidecar)
        from .render import read_embedded

        try:
            recipe = read_embedded(path)
        except ImportError:
            raise UserError(f"reading the recipe inside a PDF needs pypdf; use {sidecar}") from None
    check(recipe, path)
    return recipe


def check(recipe, path: str) -> None:
    if not isinstance(recipe, dict) or "convscope_recipe" not in recipe:
        raise UserError(f"{path} is not a ConvScope figure recipe")
    fmt = recipe.get("convscope_recipe")
    made_by = str(recipe.get("app_version", "?"))
    if not isinstance(fmt, int) or fmt > FORMAT or _newer(made_by, app_version()):
        raise UserError(f"{path} was made by ConvScope {made_by} (recipe format {fmt}), newer "
                        f"than this one ({app_version()}); update ConvScope to remake it")
    for key in ("model", "images", "figure", "options"):
        if key not in recipe:
            raise UserError(f"{path} is not a complete recipe: it has no {key!r} section")
    command = recipe.get("command")
    if isinstance(command, list) and all(isinstance(a, str) for a in command):
        return  # timeline / diff / cka: remade by their own sub-command (cli/remake_command.py)
    check_fields(recipe, path)


def check_fields(recipe: dict, path: str) -> None:
    """Each section of the type the remake reads: model {spec: str, sha256: str|null},
    images [{path: str|null, sha256: str|null, ...}], figure {...}, options {...},
    preprocess str|null; UserError naming the first that is not."""
    def bad(what: str):
        raise UserError(f"{path} is a damaged recipe: {what}")

    model = recipe["model"]
    if not isinstance(model, dict):
        bad("its model is not a {spec, sha256} entry")
    if not isinstance(model.get("spec"), str) or not model["spec"].strip():
        bad("its model has no spec (a file path, builtin:NAME or demo)")
    if not isinstance(model.get("sha256"), (str, type(None))):
        bad("its model's sha256 is not text")
    images = recipe["images"]
    if not isinstance(images, list) or not all(isinstance(e, dict) for e in images):
        bad("its images are not a list of {path, sha256} entries")
    for e in images:
        for key in ("path", "sha256", "name"):
            if not isinstance(e.get(key), (str, type(None))):
                bad(f"an image's {key} is not text")
    for key in ("figure", "options"):
        if not isinstance(recipe[key], dict):
            bad(f"its {key!r} section is not a mapping")
    if not isinstance(recipe.get("preprocess"), (str, type(None))):
        bad("its preprocess is not text")


def changed_inputs(recipe: dict, image_paths: list) -> list[str]:
    """What no longer matches its recorded SHA-256 (model file, images), as sentences."""
    problems = []
    m = recipe["model"]
    path = model_file(m["spec"])
    if path and m.get("sha256"):
        if not os.path.exists(path):
            problems.append(f"model file {path} is missing")
        elif sha256_path(path) != m["sha256"]:
            problems.append(f"model file {path} has changed (SHA-256 differs)")
    for entry, p in zip(recipe["images"], image_paths):
        if entry.get("sha256") and p and os.path.isfile(p) and sha256_file(p) != entry["sha256"]:
            problems.append(f"image {p} has changed (SHA-256 differs)")
    return problems


def image_paths(recipe: dict, recipe_path: str) -> list[str]:
    """Each image's recorded path; if it moved, the same name beside the recipe."""
    out = []
    for entry in recipe["images"]:
        p = entry.get("path")
        if not p:
            raise UserError(f"image {entry.get('name')!r} existed only in memory (pasted); "
                            "this figure cannot be remade from its recipe")
        if not os.path.isfile(p):
            beside = os.path.join(os.path.dirname(os.path.abspath(recipe_path)), os.path.basename(p))
            if not os.path.isfile(beside):
                raise UserError(f"image file not found: {p} (nor {beside})")
            p = beside
        out.append(p)
    return out


def _newer(a: str, b: str) -> bool:
    def key(v):
        parts = []
        for x in v.split("."):
            digits = "".join(ch for ch in x if ch.isdigit())
            parts.append(int(digits) if digits else 0)
        return parts

    try:
        return key(a) > key(b)
    except Exception:
        return False
