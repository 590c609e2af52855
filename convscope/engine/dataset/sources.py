"""What a dataset run reads: a folder, a glob pattern or a LIST.csv, as a list of Items.

- DIR: every image file below it (recursively), sorted by path.
- GLOB: `data/**/*.jpg` style patterns (recursive), sorted.
- LIST.csv: a `path` column (relative paths are relative to the CSV's folder) and optional
  `label` (class index or name), box columns `x0,y0,x1,y1` (pixels of the original image,
  x1/y1 exclusive) or a `mask` column (path to a binary mask image, nonzero = object).

Paths are kept as given (absolute), once each: a file listed twice is used once. The
list's hash (over paths, labels and annotations) names the dataset in recipes and indexes.
No TensorFlow here.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import os
from dataclasses import asdict, dataclass

from ..errors import UserError
from ..images import is_image_path

BOX_COLUMNS = ("x0", "y0", "x1", "y1")


@dataclass(frozen=True)
class Item:
    path: str
    label: str | None = None  # as written in the CSV: an index or a class name
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1 (exclusive)
    mask: str | None = None  # path of a binary mask image

    def as_dict(self) -> dict:
        d = asdict(self)
        d["box"] = list(self.box) if self.box is not None else None
        return d

    @staticmethod
    def from_dict(d: dict) -> "Item":
        box = d.get("box")
        if box is not None and not isinstance(box, str):
            box = tuple(float(v) for v in box)
        else:
            box = None
        return Item(path=str(d["path"]), label=_none(d.get("label")), box=box,
                    mask=_none(d.get("mask")))


def _none(v):
    if v is None:
        return None
    if isinstance(v, float) and v != v:  # NaN from a table
        return None
    s = str(v)
    return s if s.strip() else None


def list_items(spec: str, limit: int | None = None) -> list[Item]:
    """Items named by DIR, GLOB or LIST.csv; UserError when it names nothing usable."""
    if not spec:
        raise UserError("--images is empty; give a folder, a glob pattern or a LIST.csv")
    if os.path.isdir(spec):
        paths = sorted(
            os.path.join(root, f) for root, _, files in os.walk(spec) for f in files
            if is_image_path(f))
        items = [Item(os.path.abspath(p)) for p in paths]
        what = f"folder {spec}"
    elif spec.lower().endswith(".csv") and os.path.exists(spec):
        from ..input_files import regular_file

        items = _read_csv(regular_file(spec, "CSV file"))
        what = spec
    elif any(ch in spec for ch in "*?["):
        items = [Item(os.path.abspath(p)) for p in sorted(glob.glob(spec, recursive=True))
                 if os.path.isfile(p)]
        what = f"pattern {spec!r}"
    elif os.path.exists(spec):
        raise UserError(f"--images {spec}: give a folder, a glob pattern or a .csv list")
    else:
        raise UserError(f"--images {spec}: no such folder or file")
    seen, unique = set(), []
    for it in items:
        if it.path not in seen:
            seen.add(it.path)
            unique.append(it)
    if limit is not None:
        unique = unique[:max(0, int(limit))]
    if not unique:
        raise UserError(f"{what} holds no image files (JPEG, PNG, BMP, TIFF, WebP)")
    return unique


def _read_csv(path: str) -> list[Item]:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"cannot read {path} as CSV ({exc})") from None
    if not rows or "path" not in rows[0]:
        raise UserError(f"{path} needs a header with a `path` column "
                        "(and optional label, x0,y0,x1,y1 or mask)")
    has_box = all(c in rows[0] for c in BOX_COLUMNS)
    items = []
    for n, row in enumerate(rows, start=2):
        p = (row.get("path") or "").strip()
        if not p:
            raise UserError(f"{path} line {n}: empty path")
        box = None
        if has_box and any((row.get(c) or "").strip() for c in BOX_COLUMNS):
            try:
                box = tuple(float(row[c]) for c in BOX_COLUMNS)
            except (TypeError, ValueError):
                raise UserError(f"{path} line {n}: box columns x0,y0,x1,y1 must be numbers") from None
            if not (box[2] > box[0] and box[3] > box[1]):
                raise UserError(f"{path} line {n}: an empty box {box} (x1 > x0 and y1 > y0 needed)")
        mask = (row.get("mask") or "").strip() or None
        if mask is not None and not os.path.isabs(mask):
            mask = os.path.join(folder, mask)
        label = (row.get("label") or "").strip() or None
        items.append(Item(os.path.abspath(os.path.join(folder, p)), label, box, mask))
    return items


def list_hash(items: list[Item]) -> str:
    """SHA-256 of the item list (paths, labels, boxes, masks), in order."""
    h = hashlib.sha256()
    for it in items:
        h.update(json.dumps(it.as_dict(), sort_keys=True).encode())
        h.update(b"\n")
    return h.hexdigest()


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    from ..input_files import regular_file

    regular_file(path)  # a FIFO or a device would block or never end: refused from os.stat
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def model_sha256(model) -> str:
    """SHA-256 naming a model's weights: its file's bytes (a folder's files), else its spec."""
    src = getattr(model, "source", "") or ""
    path = _model_file(src)
    if path is None:
        return hashlib.sha256(src.encode()).hexdigest()
    if os.path.isdir(path):
        h = hashlib.sha256()
        for root, _, files in sorted(os.walk(path)):
            for f in sorted(files):
                h.update(file_sha256(os.path.join(root, f)).encode())
        return h.hexdigest()
    return file_sha256(path)


def _model_file(src: str) -> str | None:
    if src == "demo":
        from ..labels import RESOURCES

        return os.path.join(RESOURCES, "models", "demo.keras")  # = engine.loading.DEMO_PATH
    if src and os.path.exists(src):
        return src
    return None
