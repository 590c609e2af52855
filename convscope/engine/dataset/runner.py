"""Running a dataset: the recipe, the local runner, and merging a run's chunks into its files.

The local runner streams: files are decoded `depth` ahead on worker threads
(engine.dataset.loader), grouped into batches, explained (engine.dataset.explain) and each
batch's rows committed as one chunk (engine.dataset.store). The cancel token is checked
between batches (and inside the CAM computation): a cancelled run keeps its committed
chunks and is finished later with resume=True. The Ray runner (engine.dataset.ray_runner)
shares everything but the loop.
"""
from __future__ import annotations

import os
import platform
import sys
import time

import pyarrow as pa
import pyarrow.csv as pacsv

from .. import cancel as cancel_mod
from ..outputs import write_file
from . import summary as summary_mod
from .explain import Settings, explain_batch
from .loader import batches, prefetch
from .defaults import substrates
from .sources import Item, list_hash, model_sha256
from .store import INTERNAL, RunStore

RUNNERS = ("local", "ray")


def make_recipe(model, model_spec: str, images_spec: str, items: list[Item], settings: Settings,
                runner: str = "local") -> dict:
    """run.json: what was computed (compared on --resume) and with what (versions)."""
    return {
        "command": "batch",
        # the substrates the curves used, spelled out (None would say nothing)
        "settings": dict(settings.as_dict(), substrate=substrates(settings.substrate)),
        "model": {"sha256": model_sha256(model), "preprocess": model.preprocess,
                  "input_shape": list(model.input_shape)},
        "images": {"count": len(items), "list_sha256": list_hash(items)},
        "sources": {"model": model_spec, "images": images_spec, "runner": runner},
        "versions": versions(),
    }


def versions() -> dict:
    out = {"python": platform.python_version(), "platform": sys.platform}
    # the ConvScope that made it: the running package's own version (issue 22), not the
    # metadata of whichever convscope distribution is installed (another checkout, or "dev")
    from ... import __version__

    out["convscope"] = __version__
    for name in ("numpy", "tensorflow", "keras", "pyarrow", "matplotlib", "cv2"):
        mod = sys.modules.get(name)
        if mod is None:
            try:
                mod = __import__(name)
            except ImportError:
                continue
        out[name] = getattr(mod, "__version__", "?")
    return out


def pending(items: list[Item], done: set[str]) -> list[tuple[int, Item]]:
    return [(i, it) for i, it in enumerate(items) if it.path not in done]


def run_local(model, settings: Settings, store: RunStore, todo: list[tuple[int, Item]],
              batch_size: int = 32, workers: int = 2, progress=None, cancel=None) -> None:
    """Explain `todo` batch by batch, committing each batch; progress(images done now)."""
    maps_dir = store.maps_dir if settings.save_maps != "none" else None
    stream = prefetch(todo, model.input_shape, workers=workers, depth=2 * batch_size + workers)
    try:
        for batch in batches(stream, batch_size):
            cancel_mod.check(cancel)
            rows, errors = explain_batch(model, settings, batch, maps_dir, cancel=cancel)
            store.commit(rows, errors)
            if progress is not None:
                progress(len(batch))
    finally:
        stream.close()  # stop the decoding threads now (cancel, errors), not at exit


def finalize(store: RunStore, settings: Settings, title: str = "") -> dict:
    """Merge the chunks into results.parquet/.csv, errors.csv, the summary; complete run.json.
    title (the model's name): the summary's title gets the count of images explained (files
    that could not be read are counted apart, not as images)."""
    import pyarrow.parquet as pq

    rows = store.read("rows")
    order = {m: k for k, m in enumerate(settings.methods)}
    rank = pa.array([order.get(m, len(order)) for m in rows.column("method").to_pylist()], pa.int64())
    rows = rows.append_column("_m", rank).sort_by([("_i", "ascending"), ("_m", "ascending")])
    rows = rows.drop_columns(["_m"])
    public = rows.drop_columns(list(INTERNAL))
    errors = store.read("errors").sort_by([("_i", "ascending")]).drop_columns(["_i"])

    run_dir = store.run_dir
    write_file(os.path.join(run_dir, "results.parquet"), lambda tmp: pq.write_table(public, tmp))
    write_file(os.path.join(run_dir, "results.csv"), lambda tmp: pacsv.write_csv(public, tmp))
    write_file(os.path.join(run_dir, "errors.csv"), lambda tmp: pacsv.write_csv(errors, tmp))
    metrics = [m for m in settings.metrics]
    images_ok = len(set(public.column("path").to_pylist()))
    if title:
        title = f"{title}: {images_ok} image{'s' if images_ok != 1 else ''}" + (
            f" ({errors.num_rows} unreadable file{'s' if errors.num_rows != 1 else ''} skipped)"
            if errors.num_rows else "")
    stats = summary_mod.write_all(run_dir, rows, list(settings.methods), metrics, title)
    recipe = store.read_json()
    recipe["outcome"] = {"finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                         "rows": public.num_rows, "images_explained": images_ok,
                         "errors": errors.num_rows}
    store.write_json("run.json", recipe)
    return {"rows": public.num_rows, "images": images_ok, "errors": errors.num_rows,
            "summary": stats}
