"""Dataset examples: the real images that excite each channel of a layer most, as an index.

One streaming pass (engine.dataset.loader prefetches ahead of the model) records the
layer's activations per batch; each channel's score per image is its spatial max (or
mean) and the unit at the maximum gives the position. engine.dataset.topk keeps the top-k
per channel. Each example carries the crop under that unit's receptive field
(engine.dataset.receptive_field), mapped from the model input back to the original image.

The index is a JSON file named by the model's SHA-256, the layer and the file list's hash,
so the same request is answered from disk, and the window finds the index of a layer
instantly (find_index). Default folder: $XDG_CACHE_HOME/convscope/examples (~/.cache/...).
"""
from __future__ import annotations

import glob
import json
import os
import time

import numpy as np

from .. import cancel as cancel_mod
from ..errors import UserError
from .loader import batches, prefetch
from .receptive_field import receptive_field
from .sources import list_hash, model_sha256
from .topk import TopK

VERSION = 1


def default_index_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "convscope", "examples")


def index_name(model_sha: str, layer: str, files_sha: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in layer)
    return f"{model_sha[:16]}-{safe}-{files_sha[:16]}.json"


def compute(model, items, layer: str, channels=None, k: int = 9, score: str = "max",
            batch_size: int = 32, workers: int = 2, progress=None, cancel=None) -> dict:
    """The index for `items`: {key..., "channels": [{"channel", "examples": [...]}], "errors"}."""
    if score not in ("max", "mean"):
        raise UserError(f"--score {score!r}: use max or mean")
    info = model.layer(layer, spatial=True)
    if info.class_name == "InputLayer":
        raise UserError(f"{layer!r} is the model's input; choose a layer it computes")
    n_ch = info.channels
    chans = list(range(n_ch)) if channels is None else [int(c) for c in channels]
    bad = [c for c in chans if not 0 <= c < n_ch]
    if bad:
        raise UserError(f"channel {bad[0]} is out of range: {layer} has channels 0..{n_ch - 1}")
    field = receptive_field(model.keras_model, layer)
    top = TopK(len(chans), k)
    sel = np.asarray(chans)
    errors, done = [], 0
    stream = prefetch(list(enumerate(items)), model.input_shape, workers=workers,
                      depth=2 * batch_size + workers)
    for batch in batches(stream, batch_size):
        cancel_mod.check(cancel)
        good = [d for d in batch if d.error is None]
        errors += [{"path": d.item.path, "error": d.error} for d in batch if d.error is not None]
        if good:
            acts = model.activations([d.fitted for d in good], [layer])[layer][..., sel]  # (B, h, w, C)
            b, h, w, c = acts.shape
            flat = acts.reshape(b, h * w, c)
            arg = flat.argmax(axis=1)  # (B, C) unit of the maximum
            scores = flat.max(axis=1) if score == "max" else flat.mean(axis=1)
            in_hw = model.pixels([good[0].fitted]).shape[1:3]

            def payload(i, j, good=good, arg=arg, w=w, in_hw=in_hw):
                uy, ux = divmod(int(arg[i, j]), w)
                d = good[i]
                return {"path": d.item.path, "y": uy, "x": ux,
                        "box": _to_original(field.box(uy, ux, in_hw), in_hw, d.image.size)}

            top.push(scores, [d.index for d in good], payload)
        done += len(batch)
        if progress is not None:
            progress(done, len(items))
    return {
        "version": VERSION, "model_sha256": model_sha256(model), "layer": layer,
        "files_sha256": list_hash(items), "files": len(items), "score": score, "k": top.k,
        "images": len(items) - len(errors),  # the files read: unreadable ones are no images
        "receptive_field": {"size": list(field.size), "jump": list(field.jump)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "channels": [{"channel": ch, "examples": [dict(p, score=s) for s, _, p in entries]}
                     for ch, entries in zip(chans, top.result())],
        "errors": errors,
    }


def _to_original(box, in_hw, orig_hw):
    """A box in model-input pixels -> the original image's pixels (it was resized, not cropped)."""
    x0, y0, x1, y1 = box
    sy, sx = orig_hw[0] / in_hw[0], orig_hw[1] / in_hw[1]
    return [int(np.floor(x0 * sx)), int(np.floor(y0 * sy)),
            min(orig_hw[1], int(np.ceil(x1 * sx))), min(orig_hw[0], int(np.ceil(y1 * sy)))]


def covers(index: dict, channels, k: int, score: str) -> bool:
    """Can a stored index answer this request (same scoring, enough examples, channels)?"""
    have = {c["channel"] for c in index.get("channels", [])}
    return (index.get("version") == VERSION and index.get("score") == score
            and index.get("k", 0) >= k and set(channels) <= have)


def check_index_dir(folder: str, flag: str = "--index") -> str:
    """Before the work: the index folder exists and is writable, or can be created (its
    nearest existing parent is a writable folder); nothing is created here. UserError."""
    from ..outputs import check_destination

    folder = os.path.abspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"{flag} {folder} is a file; give a folder for the stored index")
    parent = folder
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise UserError(f"cannot create {flag} {folder}: {parent} is a file")
    check_destination(os.path.join(parent, "index.json"), (".json",), flag)
    return folder


def save(index: dict, folder: str) -> str:
    from ..outputs import write_file

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {folder} ({exc.strerror or exc})") from None
    path = os.path.join(folder, index_name(index["model_sha256"], index["layer"], index["files_sha256"]))

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(index, f)

    write_file(path, write)
    return path


def load(folder: str, model_sha: str, layer: str, files_sha: str) -> dict | None:
    path = os.path.join(folder, index_name(model_sha, layer, files_sha))
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def find_index(model_sha: str, layer: str, folder: str | None = None) -> dict | None:
    """The newest stored index of this model's layer (any file list), or None."""
    folder = folder or default_index_dir()
    probe = index_name(model_sha, layer, "x")[:-len("x.json")]
    paths = sorted(glob.glob(os.path.join(glob.escape(folder), glob.escape(probe) + "*.json")),
                   key=os.path.getmtime, reverse=True)
    for p in paths:
        try:
            with open(p, encoding="utf-8") as f:
                idx = json.load(f)
            if idx.get("layer") == layer:
                return idx
        except (OSError, ValueError):
            continue
    return None


def crops(index: dict, channel: int, size: int = 64) -> list[tuple[np.ndarray, dict]]:
    """(uint8 (size, size, 3) crop, example) for one channel's examples, best first;
    unreadable files are skipped. Crops keep their aspect (padded with grey)."""
    from ..images import load_image

    entry = next((c for c in index["channels"] if c["channel"] == channel), None)
    if entry is None:
        return []
    out = []
    for ex in entry["examples"]:
        try:
            px = load_image(ex["path"]).pixels
        except UserError:
            continue
        x0, y0, x1, y1 = ex["box"]
        out.append((_fit_square(px[y0:y1, x0:x1], size), ex))
    return out


def _fit_square(crop: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = crop.shape[:2]
    out = np.full((size, size, 3), 128, np.uint8)
    if h == 0 or w == 0:
        return out
    s = size / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    small = cv2.resize(crop, (nw, nh), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
    oy, ox = (size - nh) // 2, (size - nw) // 2
    out[oy:oy + nh, ox:ox + nw] = small
    return out
