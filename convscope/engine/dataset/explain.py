"""The per-batch work of a dataset run: decoded images -> model -> maps -> metrics -> rows.

`explain_batch(model, settings, decoded)` is a pure function of its batch (no state kept
between batches, no files written except the maps it is asked to save), so the local
runner, the window's job and every Ray actor run the very same code. `run_items` adds the
decoding step for runners that receive file names (Ray).
"""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from .. import preprocess as prep
from ..cam import compute_cam
from ..cam import faithfulness, targets
from ..cam.api import method_name
from ..cam.overlay import upsample
from ..errors import Cancelled, UserError
from . import defaults as D
from . import metrics as M
from .metrics import MAX_STEPS
from .loader import Decoded, decode


@dataclass(frozen=True)
class Settings:
    """What a run computes; a resumed run must have the same (engine.dataset.store)."""

    methods: tuple = D.METHODS
    metrics: tuple = D.METRICS
    layer: str | None = None
    class_mode: str = D.CLASS_MODE  # top | label
    substrate: str | None = None  # None: RISE's (black deletion, blur insertion)
    save_maps: str = "none"  # none | npy | png
    steps: int = D.CURVE_STEPS  # deletion / insertion curve steps
    tolerance: float = M.TOLERANCE_PX
    target: str = ""  # a target instead of a class (engine.targets); "" for classes

    def __post_init__(self):
        object.__setattr__(self, "methods", tuple(method_name(m) for m in self.methods))
        bad = [m for m in self.metrics if m not in M.METRICS]
        if bad:
            raise UserError(f"unknown metric {bad[0]!r}; choose from {','.join(M.METRICS)}")
        if self.class_mode not in ("top", "label"):
            raise UserError(f"--class {self.class_mode!r}: use top or label")
        if self.substrate not in (None, "blur", "black", "mean"):
            raise UserError(f"--substrate {self.substrate!r}: use blur, black or mean")
        if self.save_maps not in ("none", "npy", "png"):
            raise UserError(f"--save-maps {self.save_maps!r}: use none, npy or png")
        if not self.methods:
            raise UserError("--methods names no method")
        if not 1 <= self.steps <= MAX_STEPS:
            raise UserError(f"--steps must be between 1 and {MAX_STEPS}, not {self.steps}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["methods"], d["metrics"] = list(self.methods), list(self.metrics)
        return d


def error_row(d: Decoded, reason: str) -> dict:
    return {"_i": d.index, "path": d.item.path, "sha256": d.sha256, "error": reason}


def run_items(model, settings: Settings, indexed_items, maps_dir: str | None = None):
    """Decode then explain: (rows, errors) for [(index, Item), ...] (the Ray actors' entry)."""
    decoded = [decode(item, i, model.input_shape) for i, item in indexed_items]
    return explain_batch(model, settings, decoded, maps_dir)


def explain_batch(model, settings: Settings, decoded: list[Decoded], maps_dir: str | None = None,
                  cancel=None):
    """(rows, errors): one row per good image x method, one error per unusable image.

    Rows hold the results.parquet columns plus `_i` (the item's position, for ordering) and
    the deletion / insertion curves (`deletion_curve`, `insertion_curve`) for the summary.
    """
    errors = [error_row(d, d.error) for d in decoded if d.error is not None]
    good = [d for d in decoded if d.error is None]
    wanted = []
    for d in list(good):
        try:
            wanted.append(_wanted_class(model, settings, d))
        except UserError as exc:
            errors.append(error_row(d, str(exc)))
            good.remove(d)
    if not good:
        return [], errors
    # One image at a time through the model: a row's numbers then depend on its image alone,
    # never on which other images share its batch (the local runner's batches and Ray's
    # differ; a forward pass's float sums can differ with the batch's size and contents,
    # and a 1e-7 change in a heatmap reorders near-ties in the deletion curve). The curves,
    # the bulk of the work (steps + 1 copies per image per mode), stay batched per image.
    rows = []
    for d, w in zip(good, wanted):
        try:
            rows += _explain(model, settings, [d], [w], maps_dir, cancel)
        except (UserError, Cancelled):
            raise  # a wrong setting (layer, method): the whole run is wrong, say it once
        except Exception as exc:  # this image broke the model: a row in errors.csv
            errors.append(error_row(d, f"{type(exc).__name__}: {exc}"[:300]))
    return rows, errors


def curve_chunk(steps: int) -> int:
    """Copies per forward pass of one image's deletion / insertion curve: from the steps
    alone (the same in every runner), at most 64."""
    return max(1, min(int(steps) + 1, 64))


def _wanted_class(model, settings, d: Decoded):
    if settings.class_mode == "top":
        return None
    if d.item.label is None:
        raise UserError("--class label, but the list gives no label for this image")
    return model.class_index(d.item.label)


def _explain(model, settings: Settings, good: list[Decoded], wanted: list, maps_dir, cancel):
    if settings.target:
        return _explain_target(model, settings, good, maps_dir, cancel)
    imgs = [d.fitted for d in good]
    n = len(imgs)
    px = model.pixels(imgs)  # (N, H, W, C) in [0, 255]
    logits, _ = model.forward(prep.apply(px, model.preprocess).astype(np.float32), logits=True)
    binary = model.head.binary_sigmoid
    top_u, top_s, _ = targets.select_np(logits, np.full(n, -1, np.int32), np.ones(n, np.float32), binary)
    unit, sign, _ = targets.resolve(model, wanted, n)
    unit, sign, _ = targets.select_np(logits, unit, sign, binary)
    full = targets.probability_np(logits, unit, sign, model.head.activation)
    explained = [targets.class_of(int(u), float(s), binary) for u, s in zip(unit, sign)]
    predicted = [targets.class_of(int(u), float(s), binary) for u, s in zip(top_u, top_s)]

    rows = []
    for method in settings.methods:
        cams = compute_cam(model, imgs, method, layer=settings.layer, class_index=explained,
                           cancel=cancel)
        heat = [c.heatmap for c in cams]
        values = {col: [math.nan] * n for col in M.COLUMNS.values()}
        curves = {"deletion": [None] * n, "insertion": [None] * n}
        for mode in ("deletion", "insertion"):
            if mode in settings.metrics:
                _, conf = faithfulness.curves(
                    model, imgs, heat, explained, mode=mode, steps=settings.steps,
                    batch_size=curve_chunk(settings.steps), substrate=settings.substrate,
                    cancel=cancel)
                for i, a in enumerate(faithfulness.auc(conf)):
                    values[M.COLUMNS[mode]][i] = float(a)
                    curves[mode][i] = conf[i].astype(np.float32).tolist()
        if "drop" in settings.metrics or "increase" in settings.metrics:
            masked = _masked_confidence(model, px, heat, unit, sign)
            for i in range(n):
                values["average_drop"][i] = M.average_drop(float(full[i]), float(masked[i]))
                values["increase_in_confidence"][i] = M.increase_in_confidence(float(full[i]), float(masked[i]))
            if "drop" not in settings.metrics:
                values["average_drop"] = [math.nan] * n
            if "increase" not in settings.metrics:
                values["increase_in_confidence"] = [math.nan] * n
        _pointing(values, good, heat, settings)
        for i, (d, cam) in enumerate(zip(good, cams)):
            row = {"_i": d.index, "path": d.item.path, "sha256": d.sha256, "method": method,
                   "layer": cam.layer, "predicted_class": predicted[i],
                   "predicted_label": model.label(predicted[i]),
                   "explained_class": explained[i], "explained_label": model.label(explained[i]),
                   "score": float(full[i]), "logit": float(cam.score)}
            rows.append(_finish(row, i, values, curves, maps_dir, settings, d, method, cam))
    return rows


def _explain_target(model, settings: Settings, good: list[Decoded], maps_dir, cancel):
    """_explain for a target (engine.targets): its map, and the faithfulness metrics on its
    own confidence (bounded where it has one, else its score), its class resolved on the
    clean image (the result's spec records it)."""
    from .. import targets as target_mod

    imgs = [d.fitted for d in good]
    n = len(imgs)
    px = model.pixels(imgs)
    rows = []
    for method in settings.methods:
        cams = compute_cam(model, imgs, method, layer=settings.layer, target=settings.target,
                           cancel=cancel)
        bounds = [target_mod.bind(model, c.target, [im]) for c, im in zip(cams, imgs)]
        heat = [c.heatmap for c in cams]
        x = prep.apply(px, model.preprocess).astype(np.float32)
        full = [float(b.confidence(model, x[i:i + 1])[0][0]) for i, b in enumerate(bounds)]
        values = {col: [math.nan] * n for col in M.COLUMNS.values()}
        curves = {"deletion": [None] * n, "insertion": [None] * n}
        for mode in ("deletion", "insertion"):
            if mode not in settings.metrics:
                continue
            for i in range(n):
                _, conf = faithfulness.curves(
                    model, [imgs[i]], [heat[i]], mode=mode, steps=settings.steps,
                    batch_size=curve_chunk(settings.steps), substrate=settings.substrate,
                    cancel=cancel, target=cams[i].target)
                values[M.COLUMNS[mode]][i] = float(faithfulness.auc(conf)[0])
                curves[mode][i] = conf[0].astype(np.float32).tolist()
        if "drop" in settings.metrics or "increase" in settings.metrics:
            h, w = px.shape[1:3]
            for i in range(n):
                mk = upsample(heat[i], (h, w))[None, ..., None]
                xm = prep.apply((px[i:i + 1] * mk).astype(np.float32), model.preprocess)
                masked = float(bounds[i].confidence(model, xm.astype(np.float32))[0][0])
                if "drop" in settings.metrics:
                    values["average_drop"][i] = M.average_drop(full[i], masked)
                if "increase" in settings.metrics:
                    values["increase_in_confidence"][i] = M.increase_in_confidence(full[i], masked)
        _pointing(values, good, heat, settings)
        for i, (d, cam) in enumerate(zip(good, cams)):
            row = {"_i": d.index, "path": d.item.path, "sha256": d.sha256, "method": method,
                   "layer": cam.layer, "predicted_class": int(cam.class_index),
                   "predicted_label": cam.target, "explained_class": int(cam.class_index),
                   "explained_label": cam.target, "score": full[i], "logit": float(cam.score)}
            rows.append(_finish(row, i, values, curves, maps_dir, settings, d, method, cam))
    return rows


def _pointing(values: dict, good: list, heat: list, settings: Settings) -> None:
    """The pointing games of every image with a box (class or target maps alike)."""
    for i, d in enumerate(good):
        if d.region is None or not any(m in settings.metrics for m in M.NEEDS_REGION):
            continue
        up = upsample(heat[i], d.image.size)
        if "pointing" in settings.metrics:
            values["pointing_game"][i] = M.pointing_game(up, d.region, settings.tolerance)
        if "energy" in settings.metrics:
            values["energy_pointing_game"][i] = M.energy_pointing_game(up, d.region)


def _finish(row: dict, i: int, values, curves, maps_dir, settings, d, method, cam) -> dict:
    """A result row's metric columns, map file and curves."""
    row.update({col: float(v[i]) for col, v in values.items()})
    row["map_file"] = _save_map(maps_dir, settings.save_maps, d, method, cam)
    row["deletion_curve"], row["insertion_curve"] = curves["deletion"][i], curves["insertion"][i]
    return row


def _masked_confidence(model, px, heat, unit, sign) -> np.ndarray:
    """O^c: the confidence on E ⊙ I, the map upsampled (bilinear) to the input times the pixels."""
    h, w = px.shape[1:3]
    maps = np.stack([upsample(hm, (h, w)) for hm in heat])[..., None]
    x = prep.apply((px * maps).astype(np.float32), model.preprocess).astype(np.float32)
    lg, _ = model.forward(x, logits=True)
    return targets.probability_np(lg, unit, sign, model.head.activation)


def map_name(d: Decoded, method: str, ext: str) -> str:
    stem = os.path.splitext(os.path.basename(d.item.path))[0]
    safe = method.replace("+", "p")
    return f"{stem}-{d.sha256[:12]}.{safe}.{ext}"


def _save_map(maps_dir, mode, d: Decoded, method, cam) -> str | None:
    if mode == "none" or maps_dir is None:
        return None
    from .. import outputs
    from ..cam.overlay import blend

    os.makedirs(maps_dir, exist_ok=True)
    name = map_name(d, method, mode)
    path = os.path.join(maps_dir, name)
    if mode == "npy":
        outputs.save_npy(path, cam.heatmap.astype(np.float32))
    else:
        outputs.save_png(path, blend(d.image.pixels, cam.heatmap))
    return os.path.join("maps", name)
