"""The Ray runner: the same per-batch function on Ray Data, one model per actor.

The file list becomes a Ray Dataset of (index, item) rows; `map_batches` sends batches to
a pool of actors (ActorPoolStrategy), each of which opens the model once in its
constructor and calls engine.dataset.explain.run_items (decode -> model -> maps -> metrics)
on every batch it gets: the very code of the local runner. Actors ask for one GPU each
when the cluster has GPUs. Their rows come back to this process and are committed by the
same RunStore, so a Ray run and a local run give the same results.parquet rows.

Ray is optional (`pip install "convscope[distributed]"`); without it, a clear error.
"""
from __future__ import annotations

import json

from .. import cancel as cancel_mod
from ..errors import UserError
from .explain import Settings
from .sources import Item
from .store import RunStore

INSTALL = 'pip install "convscope[distributed]"'


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise UserError(f"--runner ray needs Ray Data, which is not installed; {INSTALL} "
                        "(or pip install 'ray[data]>=2.9')") from None
    return ray


class ExplainActor:
    """One model per actor; __call__ explains one batch of rows {"i", "item"}."""

    def __init__(self, model_spec: str, preprocess: str, device: str, settings: dict,
                 maps_dir: str | None):
        from ..model import open_model

        self.model = open_model(model_spec, preprocess=preprocess, device=device)
        self.settings = Settings(**{k: tuple(v) if isinstance(v, list) else v
                                    for k, v in settings.items()})
        self.maps_dir = maps_dir

    def __call__(self, batch: dict) -> dict:
        from .explain import run_items

        items = [(int(i), Item.from_dict(json.loads(s))) for i, s in zip(batch["i"], batch["item"])]
        try:
            rows, errors = run_items(self.model, self.settings, items, self.maps_dir)
        except UserError as exc:  # a setting that cannot work: carried back as text
            return {"kind": ["fatal"], "record": [str(exc)]}
        kinds = ["row"] * len(rows) + ["error"] * len(errors)
        return {"kind": kinds, "record": [json.dumps(r) for r in rows + errors]}


def run_ray(model_spec: str, preprocess: str, device: str, settings: Settings, store: RunStore,
            todo: list[tuple[int, Item]], batch_size: int = 32, address: str | None = None,
            actors: int | None = None, progress=None, cancel=None) -> None:
    """Explain `todo` on Ray (a local instance, or the cluster at `address`)."""
    ray = _ray()
    import logging
    import os

    for name in ("ray", "ray.data"):  # keep the progress bar and the one-line errors readable
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    started = False
    if not ray.is_initialized():
        from .ray_connect import connect

        connect(ray, address)  # one line on failure (token authentication named)
        started = True
    try:
        if not todo:
            return
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        resources = ray.cluster_resources()
        gpus = int(resources.get("GPU", 0))
        if actors is None:
            actors = gpus if gpus else max(1, int(resources.get("CPU", 1)) // 2)
        ds = ray.data.from_items([{"i": i, "item": json.dumps(it.as_dict())} for i, it in todo])
        maps_dir = store.maps_dir if settings.save_maps != "none" else None
        out = ds.map_batches(
            ExplainActor, batch_size=batch_size, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=max(1, int(actors))),
            fn_constructor_kwargs={"model_spec": model_spec, "preprocess": preprocess,
                                   "device": device, "settings": settings.as_dict(),
                                   "maps_dir": maps_dir},
            num_gpus=1 if gpus else 0, num_cpus=1)
        per_image = len(settings.methods)
        partial: dict[int, list] = {}  # an image's rows are committed together, never split
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            cancel_mod.check(cancel)
            rows, errors = [], []
            for kind, rec in zip(batch["kind"], batch["record"]):
                if kind == "fatal":
                    raise UserError(str(rec))
                record = json.loads(rec)
                if kind == "error":
                    errors.append(record)
                    continue
                got = partial.setdefault(record["_i"], [])
                got.append(record)
                if len(got) == per_image:
                    rows += partial.pop(record["_i"])
            store.commit(rows, errors)
            if progress is not None:
                progress(len({r["_i"] for r in rows}) + len(errors))
    finally:
        if started:
            ray.shutdown()
