"""The engine thread and what runs on it: engine.jobs, engine.worker, engine.qt_bridge.

Real models saved to real files, a real QThread; nothing mocked. `small_model_file` is
shared with the GUI tests (tests/test_gui*.py import it).
"""
import dataclasses
import json
import os
import time

import numpy as np
import pytest

from convscope.engine import jobs as J
from convscope.engine.cancel import CancelToken
from convscope.engine.images import from_array
from convscope.engine.worker import Worker

LABELS = ["circle", "square", "triangle", "star"]


def build_small_model(path: str) -> str:
    """64x64 RGB -> conv/pool -> nested `backbone` (conv3, conv4) -> GAP -> Dense(4, softmax).

    Small enough for the suite, but every view applies (GAP + Dense: all CAM methods) and a
    nested model is in it (layer paths `backbone/conv4`)."""
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    inner_in = keras.Input((16, 16, 16), name="features")
    y = L.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(inner_in)
    y = L.Conv2D(64, 3, padding="same", activation="relu", name="conv4")(y)
    backbone = keras.Model(inner_in, y, name="backbone")
    inp = keras.Input((64, 64, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv1")(inp)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(16, 3, padding="same", activation="relu", name="conv2")(x)
    x = L.MaxPooling2D(name="pool2")(x)
    x = L.GlobalAveragePooling2D(name="gap")(backbone(x))
    out = L.Dense(4, activation="softmax", name="predictions")(x)
    keras.Model(inp, out, name="small").save(path)
    with open(os.path.splitext(path)[0] + ".labels.json", "w") as f:
        json.dump(LABELS, f)
    return path


@pytest.fixture(scope="session")
def small_model_file(tmp_path_factory):
    return build_small_model(str(tmp_path_factory.mktemp("gui-models") / "small.keras"))


@pytest.fixture(scope="session")
def broken_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("broken") / "broken.keras"
    path.write_bytes(b"PK\x03\x04 this is not a real zip archive" * 50)
    return str(path)


def wait_until(predicate, timeout=60.0):
    """Spin the event loop until predicate() (not qtbot.waitUntil: QTest.qWait keeps the GIL
    and starves the engine thread)."""
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        QApplication.processEvents()
        time.sleep(0.005)


def ramp_image(h=48, w=64):
    yy, xx = np.mgrid[0:h, 0:w]
    return from_array(np.dstack([xx * 4, yy * 5, 255 - xx * 3]).astype(np.uint8), name="ramp")


# -- the worker, without Qt ------------------------------------------------------------------
@pytest.fixture(scope="module")
def worker(small_model_file):
    w = Worker()
    out = w.run_all(J.LoadModel(spec=small_model_file))
    assert isinstance(out[-1], J.ModelLoaded), out[-1]
    return w


def test_jobs_are_frozen_with_unique_ids():
    a, b = J.Predict(image=None), J.Predict(image=None)
    assert a.job_id != b.job_id and a.channel == "predict"
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.top = 3
    assert not J.Progress(job_id=1, channel="x").final
    assert J.FiltersReady(job_id=1, channel="filters", last=False).final is False


def test_load_reports_layers_labels_and_methods(small_model_file):
    w = Worker()
    out = w.run_all(J.LoadModel(spec=small_model_file))
    assert all(isinstance(r, J.Progress) for r in out[:-1])
    loaded = out[-1]
    assert isinstance(loaded, J.ModelLoaded) and loaded.final
    paths = [i.path for i in loaded.layers]
    assert "backbone/conv4" in paths and "conv1" in paths
    assert loaded.labels == tuple(LABELS)
    assert loaded.summary.default_cam_layer == "backbone/conv4"
    assert loaded.summary.head.classes == 4 and loaded.summary.input_shape == (64, 64, 3)
    assert loaded.layers is loaded.summary.layers
    assert "gradcam" in loaded.cam_methods and loaded.filters_available


def test_activations_equal_the_engine_api(worker):
    img = ramp_image()
    [r] = worker.run_all(J.Activations(image=img, layer="backbone/conv3"))
    assert isinstance(r, J.ActivationsReady)
    direct = worker.model.activations(img, ["backbone/conv3"])["backbone/conv3"]
    assert r.activations.shape == (16, 16, 32)
    np.testing.assert_allclose(r.activations, direct, rtol=1e-5, atol=1e-6)


def test_bad_input_becomes_a_failed_result(worker):
    [r] = worker.run_all(J.Activations(image=ramp_image(), layer="gap"))
    assert isinstance(r, J.JobFailed) and not r.internal
    assert "no spatial output" in r.message
    [r] = worker.run_all(J.Activations(image=ramp_image(), layer="nope"))
    assert isinstance(r, J.JobFailed) and "no layer 'nope'" in r.message


def test_a_bug_becomes_a_short_internal_failure(worker):
    [r] = worker.run_all(J.Predict(image=ramp_image(), top="five"))  # a bug in the caller
    assert isinstance(r, J.JobFailed) and r.internal
    assert r.message.startswith("internal error (predicting ramp): TypeError")
    assert "Traceback" in r.details


def test_a_corrupt_model_keeps_the_old_one(worker, broken_model_file):
    before = worker.model
    out = worker.run_all(J.LoadModel(spec=broken_model_file))
    assert isinstance(out[-1], J.JobFailed) and not out[-1].internal
    assert "not a valid .keras file" in out[-1].message
    assert worker.model is before
    assert isinstance(worker.run_all(J.Predict(image=ramp_image()))[-1], J.Predicted)


def test_cancelled_token_gives_cancelled_result(worker):
    token = CancelToken()
    token.cancel()
    [r] = worker.run_all(J.FilterPatterns(layer="conv1", filters=(0, 1), steps=5), token)
    assert isinstance(r, J.JobCancelled)


def test_filters_stream_then_finish(worker, monkeypatch):
    monkeypatch.setattr(worker, "progress_interval", 0.0)  # stream every partial result
    out = []
    worker.run(J.FilterPatterns(layer="conv2", filters=(0, 3), size=64, steps=12), out.append)
    partial = [r for r in out if isinstance(r, J.FiltersReady) and not r.final]
    assert partial and out[-1].final and isinstance(out[-1], J.FiltersReady)
    assert out[-1].patterns.shape == (2, 64, 64, 3) and out[-1].patterns.dtype == np.uint8
    assert [r.step for r in partial] == [5, 10] and all(r.steps == 12 for r in partial)


def test_compare_streams_every_method(worker):
    methods = ("gradcam", "cam", "eigencam")
    out = worker.run_all(J.CompareCams(image=ramp_image(), methods=methods))
    maps = [r for r in out if isinstance(r, J.CamReady)]
    assert [m.method for m in maps] == list(methods)
    assert [m.final for m in maps] == [False, False, True]
    for m in maps:
        assert m.heatmap.shape == (16, 16) and 0 <= m.heatmap.min() <= m.heatmap.max() <= 1


# -- the bridge: a real QThread ----------------------------------------------------------------
@pytest.fixture
def bridge(qtbot, small_model_file):
    from convscope.engine.qt_bridge import EngineBridge, running_threads

    b = EngineBridge()
    results = []
    b.sigResult.connect(results.append)
    b.results = results
    b.start()
    b.submit(J.LoadModel(spec=small_model_file))
    wait_until(lambda: any(isinstance(r, J.ModelLoaded) for r in results), 60)
    yield b
    assert b.stop(30000)
    assert not running_threads()


def test_bursts_collapse_to_the_latest(qtbot, bridge):
    layers = ["conv1", "pool1", "conv2", "pool2", "backbone/conv3", "backbone/conv4"] * 4
    img = ramp_image()
    sent = [J.Activations(image=img, layer=layer) for layer in layers]
    started = []
    bridge.sigStarted.connect(started.append)
    for job in sent:
        bridge.submit(job)
    wait_until(lambda: any(r.job_id == sent[-1].job_id for r in bridge.results), 30)
    wait_until(lambda: not bridge.busy(), 30)
    ran = [j for j in started if isinstance(j, J.Activations)]
    assert len(ran) < len(sent) / 2, f"{len(ran)} of {len(sent)} jobs ran"
    assert ran[-1] is sent[-1]
    last = [r for r in bridge.results if r.job_id == sent[-1].job_id]
    assert last[-1].layer == "backbone/conv4" and last[-1].activations.shape == (16, 16, 64)


def test_a_newer_job_cancels_the_running_one(qtbot, bridge):
    long = J.FilterPatterns(layer="backbone/conv4", filters=tuple(range(64)), steps=2000)
    short = J.FilterPatterns(layer="conv1", filters=(0,), steps=3)
    bridge.submit(long)
    wait_until(lambda: any(r.job_id == long.job_id and isinstance(r, J.FiltersReady)
                           for r in bridge.results), 60)
    t0 = time.monotonic()
    bridge.submit(short)
    wait_until(lambda: any(r.job_id == short.job_id and r.final for r in bridge.results), 60)
    ended = [r for r in bridge.results if r.job_id == long.job_id and r.final]
    assert [type(r) for r in ended] == [J.JobCancelled]
    assert time.monotonic() - t0 < 20  # 2000 steps would take minutes


def test_cancel_by_channel_and_stop(qtbot, bridge):
    long = J.FilterPatterns(layer="backbone/conv4", filters=tuple(range(64)), steps=2000)
    bridge.submit(long)
    wait_until(lambda: bridge.busy() and bridge._running is not None, 10)
    bridge.cancel("filters")
    wait_until(lambda: any(r.job_id == long.job_id and r.final for r in bridge.results), 60)
    assert isinstance([r for r in bridge.results if r.job_id == long.job_id][-1], J.JobCancelled)


def test_stop_ends_the_thread_during_a_long_job(qtbot, small_model_file):
    from convscope.engine.qt_bridge import EngineBridge, running_threads

    b = EngineBridge()
    results = []
    b.sigResult.connect(results.append)
    b.start()
    b.submit(J.LoadModel(spec=small_model_file))
    long = J.FilterPatterns(layer="backbone/conv4", filters=tuple(range(64)), steps=5000)
    b.submit(long)
    wait_until(lambda: any(r.job_id == long.job_id for r in results), 60)  # it is running
    t0 = time.monotonic()
    assert b.stop(30000)
    assert time.monotonic() - t0 < 10
    assert not running_threads()
    b.submit(J.Predict(image=ramp_image()))  # after stop: ignored, no error
    assert not b.busy()
