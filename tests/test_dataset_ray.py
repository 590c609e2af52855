"""The Ray runner gives the local runner's rows (a local Ray instance with 2 CPUs), equal
to the last bit: each image goes through the model alone (engine.dataset.explain), so its
numbers do not depend on how a runner groups images into batches — the two runners here
use different batch sizes (4 local, 3 on Ray) to show it."""
import math
import os

import pyarrow.parquet as pq

from convscope.engine.dataset.demo_folder import write_folder
from convscope.engine.dataset.explain import Settings
from convscope.engine.dataset.ray_runner import run_ray
from convscope.engine.dataset.runner import finalize, make_recipe, pending
from convscope.engine.dataset.sources import list_items
from convscope.engine.dataset.store import RunStore


def _run(model, settings, items, listing, folder, runner, batch_size=4):
    store = RunStore(folder)
    store.open(make_recipe(model, "demo", listing, items, settings, runner), resume=False)
    todo = pending(items, set())
    if runner == "ray":
        run_ray("demo", "auto", "cpu", settings, store, todo, batch_size=batch_size)
    else:
        from convscope.engine.dataset.runner import run_local

        run_local(model, settings, store, todo, batch_size=batch_size)
    finalize(store, settings)
    return pq.read_table(os.path.join(folder, "results.parquet")).to_pylist()


def test_ray_rows_equal_local_rows(tmp_path, demo_model):
    import ray

    listing = write_folder(str(tmp_path / "shapes"), n=10, seed=9300)
    (tmp_path / "shapes" / "broken.png").write_bytes(b"not a png")
    items = list_items(str(tmp_path / "shapes"))  # the folder: 10 shapes + broken.png
    settings = Settings(methods=("gradcam", "gradcam++"), steps=5)
    local = _run(demo_model, settings, items, listing, str(tmp_path / "local"), "local")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = _run(demo_model, settings, items, listing, str(tmp_path / "ray"), "ray", batch_size=3)
    finally:
        ray.shutdown()
    assert len(local) == len(remote) == 20
    for a, b in zip(local, remote):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], float):
                assert (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k], (k, a[k], b[k])
            else:
                assert a[k] == b[k], k
    for f in ("local", "ray"):
        text = (tmp_path / f / "errors.csv").read_text()
        assert "broken.png" in text
