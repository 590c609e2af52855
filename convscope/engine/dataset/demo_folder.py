"""A small labelled folder from the demo-shapes generator: PNGs plus a LIST.csv with each
image's label (class name) and the box of its object (x0, y0, x1, y1, exclusive)."""
from __future__ import annotations

import csv
import os

import numpy as np
from PIL import Image as PILImage

from ..demo_shapes import CLASSES, make_sample


def write_folder(out: str, n: int = 40, seed: int = 9000, size: int = 96,
                 masks: bool = False) -> str:
    """Write n images to `out`, and out/list.csv; returns the CSV's path."""
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        s = make_sample(rng, i % len(CLASSES), size)
        name = f"shape_{i:04d}.png"
        PILImage.fromarray(s.image).save(os.path.join(out, name))
        row = {"path": name, "label": CLASSES[s.label], "x0": s.box[0], "y0": s.box[1],
               "x1": s.box[2], "y1": s.box[3]}
        if masks:
            mname = f"mask_{i:04d}.png"
            os.makedirs(os.path.join(out, "masks"), exist_ok=True)
            PILImage.fromarray(s.mask.astype(np.uint8) * 255).save(os.path.join(out, "masks", mname))
            row["mask"] = os.path.join("masks", mname)
        rows.append(row)
    path = os.path.join(out, "list.csv")
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return path
