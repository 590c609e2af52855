"""Soak: 500 CAM jobs and 50 model switches through the engine's Worker (the code the
engine thread runs), with the process's resident memory sampled after every switch.

Every job gets a new image object of a new size (the caches key on identity, so each job
is a cache miss), gradient methods and classes cycle, and the model alternates between two
files, so compiled functions and caches are built and dropped 50 times (the models are
tiny: the test is about what is kept, not about speed). The figures are printed (growth
per job, from a least-squares line over the samples after warm-up); the assertion is
generous: under 60 MB of growth after warm-up and under 64 KB per job. Measured here:
flat (about 0 KB per job); keeping each job's image alive (a deliberate leak) fails it.
"""
import numpy as np
import pytest

from convscope.engine import jobs as J
from convscope.engine.images import from_array
from convscope.engine.worker import Worker

pytestmark = pytest.mark.timeout(900)
METHODS = ("gradcam", "gradcam++", "layercam", "hirescam", "xgradcam")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


@pytest.fixture(scope="module")
def two_models(tmp_path_factory):
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    L = keras.layers
    d = tmp_path_factory.mktemp("soak")
    paths = []
    for name in ("a", "b"):
        inp = keras.Input((32, 32, 3))
        x = L.Conv2D(4, 3, activation="relu", name="c1")(inp)
        x = L.Conv2D(4, 3, activation="relu", name="c2")(x)
        out = L.Dense(4, activation="softmax", name="head")(L.GlobalAveragePooling2D()(x))
        keras.Model(inp, out).save(d / f"{name}.keras")
        paths.append(str(d / f"{name}.keras"))
    return paths


def test_500_cam_jobs_and_50_model_switches(two_models):
    worker = Worker()
    rng = np.random.default_rng(0)
    samples = []  # (jobs done, MB)
    done = 0
    for switch in range(50):
        (loaded,) = [r for r in worker.run_all(J.LoadModel(spec=two_models[switch % 2])) if r.final]
        assert isinstance(loaded, J.ModelLoaded), loaded
        for _ in range(10):
            h, w = rng.integers(200, 600, 2)  # ~0.5 MB each: a kept image would show
            img = from_array(rng.integers(0, 255, (h, w, 3), np.uint8), name=f"soak{done}")
            method = METHODS[done % len(METHODS)]
            (result,) = [r for r in worker.run_all(J.Cam(image=img, method=method,
                                                         class_index=int(done % 4))) if r.final]
            assert isinstance(result, J.CamReady) and not result.error, result
            assert result.heatmap.min() >= 0 and result.heatmap.max() <= 1
            done += 1
        samples.append((done, _rss_mb()))
    assert done == 500
    x, y = np.array(samples[10:], float).T  # after 100 jobs of warm-up
    slope = np.polyfit(x, y, 1)[0]
    growth = y[-1] - y[0]
    print(f"\nsoak: RSS {samples[0][1]:.0f} MB after 10 jobs, {y[0]:.0f} MB after 100, "
          f"{y[-1]:.0f} MB after 500 (+{growth:.1f} MB); {1024 * slope:.1f} KB per job "
          f"(least squares over jobs 100-500)")
    assert growth < 60 and slope < 1 / 16, samples


def test_a_closed_model_is_freed_with_its_caches(two_models):
    """After every kind of CAM computation, dropping the ConvModel frees it (its compiled
    functions and caches are keyed weakly on it and must not refer back to it)."""
    import gc
    import weakref

    from convscope.engine import open_model

    m = open_model(two_models[0])
    img = from_array(np.zeros((50, 60, 3), np.uint8))
    for method in ("gradcam", "cam", "faster-scorecam", "eigencam"):
        m.cam(img, method=method)
    m.cam(img, method="gradcam", class_index=1)  # the `head` function (cached activations)
    m.filter_patterns("c2", filters=[0], steps=1)
    alive = weakref.ref(m)
    del m
    gc.collect()
    assert alive() is None, [type(r).__name__ for r in gc.get_referrers(alive())]
