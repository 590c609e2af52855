"""Session files (`.convscope`, JSON): what the window shows, so it can be shown again.

A session holds the model spec and its SHA-256, the images (paths and SHA-256), the
selected image, view, layer, CAM method and class, and each view's options. Reading one
checks it (a clear UserError for a file that is not a session, or one from a newer
ConvScope) and lists the files that are missing or changed, so the rest can still open.
No Qt here: the window's side is gui/session_file.py.
"""
from __future__ import annotations

import json
import os
from functools import lru_cache

from . import outputs
from .errors import UserError

FORMAT = 1
SUFFIX = ".convscope"


@lru_cache(maxsize=256)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    from .figures.recipe import sha256_path

    return sha256_path(path)


def file_hash(path: str) -> str | None:
    """SHA-256 of a file (or SavedModel folder), cached while its size and time stay;
    None for a FIFO or a device (from os.stat: hashing would block or never end)."""
    import stat

    try:
        st = os.stat(path)
    except OSError:
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    return _sha256(os.path.abspath(path), st.st_mtime_ns, st.st_size)


def model_entry(spec: str) -> dict:
    from .figures.recipe import model_file

    path = model_file(spec)
    return {"spec": path if path and spec != "demo" else spec,
            "sha256": file_hash(path) if path else None}


def image_entry(path: str) -> dict:
    return {"path": os.path.abspath(path), "sha256": file_hash(path)}


def make(model_spec: str | None, image_paths: list, state: dict) -> dict:
    """A session document: the model, the images, and `state` (current image, view, ...)."""
    from .figures.recipe import app_version

    doc = {"convscope_session": FORMAT, "app_version": app_version(),
           "model": model_entry(model_spec) if model_spec else None,
           "images": [image_entry(p) for p in image_paths]}
    doc.update(state)
    return doc


def save(path: str, doc: dict) -> None:
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)

    outputs.write_file(path, write)


def load(path: str) -> dict:
    """A session document, checked; UserError (one line) if it is not one."""
    if not os.path.exists(path):
        raise UserError(f"session file not found: {path}")
    from .input_files import regular_file

    regular_file(path, "session file")
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path} is not a ConvScope session (not valid JSON); "
                        "it may be damaged") from None
    except RecursionError:  # [[[[...]]]] thousands deep
        raise UserError(f"{path} is not a ConvScope session (its JSON is nested too "
                        "deeply)") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not isinstance(doc, dict) or "convscope_session" not in doc:
        raise UserError(f"{path} is not a ConvScope session file")
    fmt = doc["convscope_session"]
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise UserError(f"{path} was saved by a newer ConvScope ({doc.get('app_version', '?')}); "
                        "update ConvScope to open it")
    images = doc.get("images")
    model = doc.get("model")
    if not isinstance(images, list) or not all(isinstance(i, dict) and isinstance(i.get("path"), str)
                                               for i in images):
        raise UserError(f"{path} is damaged: its image list is not readable")
    if model is not None and not (isinstance(model, dict) and isinstance(model.get("spec"), str)):
        raise UserError(f"{path} is damaged: its model entry is not readable")
    if model is not None:
        _check_model_path(path, model["spec"])
    return doc


def _check_model_path(path: str, spec: str) -> None:
    """A session's model that names a FIFO or a device is refused (from os.stat): loading
    or hashing it would block or never end."""
    from .figures.recipe import model_file
    from .input_files import regular_file

    file = model_file(spec) if spec.strip() else None
    if file and os.path.exists(file) and not os.path.isdir(file):
        try:
            regular_file(file, "model file")
        except UserError as exc:
            raise UserError(f"{path}: its model {exc}") from None


def problems(doc: dict) -> list[str]:
    """Files of the session that are missing or no longer match their SHA-256."""
    from .figures.recipe import model_file

    out = []
    model = doc.get("model")
    if model:
        path = model_file(model["spec"])
        if path and not os.path.exists(path):
            out.append(f"model file {path} is missing")
        elif path and model.get("sha256") and file_hash(path) != model["sha256"]:
            out.append(f"model file {path} has changed since the session was saved")
    for entry in doc.get("images", []):
        p = entry["path"]
        if not os.path.isfile(p):
            out.append(f"image {p} is missing")
        elif entry.get("sha256") and file_hash(p) != entry["sha256"]:
            out.append(f"image {p} has changed since the session was saved")
    return out


def present_images(doc: dict) -> list[str]:
    return [e["path"] for e in doc.get("images", []) if os.path.isfile(e["path"])]
