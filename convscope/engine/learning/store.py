"""A run folder: what a Recorder wrote, and reading it back.

    RUN/run.json               the recipe (probe images, methods, layers, classes, every, ...),
                               the model's name and input, the library versions
    RUN/probes.npz             the probe images as the model saw them: uint8 (N, H, W, 3)
    RUN/scalars.parquet        one table of scalars, one row per number:
                               epoch, key, layer, image, value
                               keys: log/<name> (Keras' logs: loss, metrics),
                               stat/<mean|std|zero_fraction|dead_channels> (per layer),
                               pred/<class|score|label_score> (per probe image)
    RUN/epochs/epoch_NNN.npz   the arrays of epoch NNN (np.savez_compressed):
                               "map|METHOD|LAYER" (N, h, w) float32 heatmaps in [0, 1],
                               "class|METHOD|LAYER" (N,) the class each map explains,
                               "probs" (N, units) model outputs,
                               "channel_means|LAYER" (C,), "patterns|LAYER" (n, s, s, 3) uint8,
                               "pattern_channels|LAYER" (n,)
    RUN/checkpoints/epoch_NNN.keras   the weights after epoch NNN (checkpoints=True), and
                               epoch_NNN.labels.json (the class names, when known)

Epochs are counted as Keras prints them: epoch 1 is the state after the first epoch;
epoch 0 is the untrained model (recorded when a run starts empty).

Every epoch is written atomically (engine.outputs: temp files, then os.replace; the table
last, so it never names an epoch whose arrays are missing). Writing an epoch that is
already recorded replaces it: an interrupted fit resumed into the same folder appends
without duplicates.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import numpy as np

from .. import outputs
from ..errors import UserError

FORMAT = 1
RUN_FILE, PROBES, SCALARS = "run.json", "probes.npz", "scalars.parquet"
EPOCHS, CHECKPOINTS = "epochs", "checkpoints"
COLUMNS = ("epoch", "key", "layer", "image", "value")


def epoch_name(epoch: int, suffix: str) -> str:
    return f"epoch_{int(epoch):03d}{suffix}"


def map_key(method: str, layer: str) -> str:
    return f"map|{method}|{layer}"


# -- writing ---------------------------------------------------------------------------------
def start(folder: str, meta: dict, probes: np.ndarray) -> dict:
    """Create (or re-open, for a resumed fit) the run folder; returns the run.json in force.
    A folder recorded with another recipe is refused, so two runs never mix."""
    folder = os.path.abspath(os.fspath(folder))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise UserError(f"run folder {folder} is a file; give a folder (it is created if missing)")
    path = os.path.join(folder, RUN_FILE)
    if os.path.isfile(path):
        old = read_meta(folder)
        for key in sorted(set(old["recipe"]) | set(meta["recipe"])):
            if old["recipe"].get(key) != meta["recipe"].get(key):
                raise UserError(f"{folder} holds a run recorded with another recipe ({key}: "
                                f"{old['recipe'].get(key)!r} there, {meta['recipe'].get(key)!r} "
                                "now); give a new run folder")
        return old
    try:
        os.makedirs(os.path.join(folder, EPOCHS), exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create run folder {folder}: {exc.strerror or exc}") from None
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    with outputs.Outputs() as out:
        out.write(out.claim(os.path.join(folder, PROBES), (".npz",)),
                  lambda tmp: _savez(tmp, probes=np.asarray(probes, np.uint8)))
        out.save_bytes(out.claim(path, (".json",)), text.encode())
    return meta


def write_epoch(folder: str, epoch: int, rows: list, arrays: dict, checkpoint=None,
                labels=None) -> None:
    """Record one epoch: its arrays, its checkpoint (checkpoint(tmp_path) saves the model;
    with `labels`, the class names beside it as epoch_NNN.labels.json, which open_model
    reads) and its rows of scalars (epoch, key, layer, image, value), replacing what an
    earlier attempt at the same epoch wrote."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = os.path.abspath(folder)
    table_path = os.path.join(folder, SCALARS)
    old = _read_table(table_path)
    if old is not None:
        import pyarrow.compute as pc

        old = old.filter(pc.not_equal(old["epoch"], int(epoch)))
    new = pa.table({
        "epoch": pa.array([int(epoch)] * len(rows), pa.int32()),
        "key": pa.array([r[1] for r in rows], pa.string()),
        "layer": pa.array([r[2] or "" for r in rows], pa.string()),
        "image": pa.array([-1 if r[3] is None else int(r[3]) for r in rows], pa.int32()),
        "value": pa.array([float(r[4]) for r in rows], pa.float64())})
    table = new if old is None else pa.concat_tables([old, new])
    table = table.sort_by([("epoch", "ascending")])
    with outputs.Outputs() as out:
        npz = out.claim(os.path.join(folder, EPOCHS, epoch_name(epoch, ".npz")), (".npz",))
        out.write(npz, lambda tmp: _savez(tmp, **arrays))
        if checkpoint is not None:
            os.makedirs(os.path.join(folder, CHECKPOINTS), exist_ok=True)
            ck = out.claim(os.path.join(folder, CHECKPOINTS, epoch_name(epoch, ".keras")), (".keras",))
            out.write(ck, checkpoint)
            if labels:
                side = out.claim(os.path.join(folder, CHECKPOINTS, epoch_name(epoch, ".labels.json")), (".json",))
                out.save_bytes(side, (json.dumps([str(v) for v in labels]) + "\n").encode())
        out.write(out.claim(table_path, (".parquet",)), lambda tmp: pq.write_table(table, tmp))


def _savez(path: str, **arrays) -> None:
    with open(path, "wb") as f:  # a file object: numpy would otherwise append .npz to the name
        np.savez_compressed(f, **arrays)


def _read_table(path: str):
    if not os.path.isfile(path):
        return None
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except Exception as exc:
        raise UserError(f"{path} is not a readable Parquet table ({type(exc).__name__}); "
                        "the run folder is damaged") from None


# -- reading ---------------------------------------------------------------------------------
def read_meta(folder: str) -> dict:
    path = os.path.join(folder, RUN_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError, UnicodeDecodeError):
        meta = None
    if not isinstance(meta, dict) or meta.get("convscope_run") is None or "recipe" not in meta:
        raise UserError(f"{path} is not a ConvScope run file (run.json); the folder is damaged")
    if int(meta["convscope_run"]) > FORMAT:
        raise UserError(f"{folder} was recorded by a newer ConvScope (run format "
                        f"{meta['convscope_run']}); update ConvScope to read it")
    return meta


@dataclass
class Run:
    """A recorded run, read back (the timeline figure, the window)."""

    folder: str
    meta: dict
    table: object = None  # pyarrow.Table of scalars
    _rows: dict = field(default_factory=dict)

    @property
    def epochs(self) -> list[int]:
        """The recorded epochs, ascending (those with both scalars and arrays)."""
        if self.table is None:
            return []
        found = sorted(set(self.table.column("epoch").to_pylist()))
        return [e for e in found if os.path.isfile(self.epoch_file(e))]

    def epoch_file(self, epoch: int) -> str:
        return os.path.join(self.folder, EPOCHS, epoch_name(epoch, ".npz"))

    def checkpoint(self, epoch: int) -> str | None:
        path = os.path.join(self.folder, CHECKPOINTS, epoch_name(epoch, ".keras"))
        return path if os.path.isfile(path) else None

    def arrays(self, epoch: int) -> dict:
        if epoch not in self.epochs:
            raise UserError(f"epoch {epoch} is not recorded in {self.folder}; recorded: "
                            f"{', '.join(map(str, self.epochs)) or 'none'}")
        with np.load(self.epoch_file(epoch), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def probes(self) -> np.ndarray:
        with np.load(os.path.join(self.folder, PROBES), allow_pickle=False) as z:
            return z["probes"]

    def scalars(self, key: str, layer: str = "", image: int = -1) -> dict:
        """{epoch: value} of one series."""
        out = {}
        if self.table is None:
            return out
        cols = self.table.to_pydict() if not self._rows else self._rows
        self._rows = cols
        for e, k, lay, im, v in zip(cols["epoch"], cols["key"], cols["layer"], cols["image"], cols["value"]):
            if k == key and lay == layer and im == image:
                out[e] = v
        return out

    def keys(self) -> list[str]:
        if self.table is None:
            return []
        return sorted(set(self.table.column("key").to_pylist()))


def open_run(folder: str) -> Run:
    """The run in `folder`, or UserError (one line) if it is not one."""
    folder = os.path.abspath(os.fspath(folder))
    if not os.path.isdir(folder):
        raise UserError(f"run folder not found: {folder}")
    if not os.path.isfile(os.path.join(folder, RUN_FILE)):
        keras_files = [n for n in os.listdir(folder) if n.endswith(".keras")]
        hint = (f" (it holds {len(keras_files)} .keras file(s): compare two of them with "
                "`convscope diff` or `convscope cka`)") if keras_files else ""
        raise UserError(f"{folder} is not a ConvScope run: it has no {RUN_FILE}{hint}; "
                        "record one with engine.Recorder during model.fit")
    meta = read_meta(folder)
    run = Run(folder, meta, _read_table(os.path.join(folder, SCALARS)))
    if not os.path.isfile(os.path.join(folder, PROBES)):
        raise UserError(f"{folder} is not a complete run: {PROBES} is missing")
    return run
