"""Hostile inputs through the Python API and the building blocks of reliability: output
safety (engine.outputs), special files, odd class indices and arrays, models without a
classifier head or with two inputs, bounded memory (overlay, Score-CAM chunks, filter
runs, compiled-function traces for free-size models)."""
import os
import signal
import threading
import tracemalloc

import numpy as np
import pytest

from convscope.engine import interrupts, outputs
from convscope.engine.errors import UserError
from convscope.engine.images import from_array, load_image

NO_HEAD = "builtin:vgg16?weights=none&include_top=false"


# -- output safety ---------------------------------------------------------------------------
def test_outputs_are_committed_only_when_the_command_succeeds(tmp_path):
    old = tmp_path / "a.npy"
    np.save(old, np.arange(3))
    with pytest.raises(RuntimeError):
        with outputs.Outputs() as out:
            a = out.claim(old, (".npy",), "--npy")
            b = out.claim(tmp_path / "b.png", outputs.IMAGE_SUFFIXES, "--out")
            out.save_npy(a, np.ones(5))
            out.save_png(b, np.zeros((4, 4, 3), np.uint8))
            assert len([n for n in os.listdir(tmp_path) if n.startswith(".convscope-")]) == 2
            raise RuntimeError("the command failed after writing")
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]  # no temp file, no b.png
    np.testing.assert_array_equal(np.load(old), np.arange(3))  # the old file untouched
    with outputs.Outputs() as out:
        out.save_npy(out.claim(old, (".npy",)), np.ones(5))
    np.testing.assert_array_equal(np.load(old), np.ones(5))
    assert sorted(os.listdir(tmp_path)) == ["a.npy"]


def test_sigterm_while_a_file_is_being_written_leaves_nothing(tmp_path):
    """The handler turns SIGTERM into KeyboardInterrupt inside the writer, half-way."""
    interrupts.install()

    def half_then_terminated(tmp):
        with open(tmp, "wb") as f:
            f.write(b"\x89PNG half of a file")
            f.flush()
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs at the next bytecode boundary
                f.write(b"x")

    try:
        with pytest.raises(KeyboardInterrupt):
            with outputs.Outputs() as out:
                out.write(out.claim(tmp_path / "o.png", (".png",)), half_then_terminated)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGHUP, signal.SIG_DFL)
    assert os.listdir(tmp_path) == []
    assert interrupts.exit_status() == 143 and interrupts.signal_name() == "SIGTERM"


@pytest.mark.parametrize("make, words", [
    (lambda d: (d / "x.npy").mkdir() or d / "x.npy", "is a folder"),
    (lambda d: d / "nope" / "x.npy", "does not exist"),
    (lambda d: d / "x.txt", "ending in .npy"),
    (lambda d: os.mkfifo(d / "p.npy") or d / "p.npy", "not a regular file"),
])
def test_destinations_are_checked_before_any_work(tmp_path, make, words):
    target = make(tmp_path)
    with pytest.raises(UserError, match=words):
        outputs.Outputs().claim(target, (".npy",), "--npy")


def test_one_file_claimed_twice_is_refused(tmp_path):
    out = outputs.Outputs()
    out.claim(tmp_path / "x.png", outputs.IMAGE_SUFFIXES, "--out")
    with pytest.raises(UserError, match="name the same file"):
        out.claim(tmp_path / "x.png", outputs.IMAGE_SUFFIXES, "--npy")
    with pytest.raises(ValueError, match="not claimed"):
        out.save_npy(tmp_path / "y.npy", np.zeros(2))


# -- special files and odd inputs ---------------------------------------------------------
def _within(seconds, fn):
    """fn() in a thread: a hang fails the test instead of freezing the suite."""
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("r", _catch(fn)), daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "hung"
    return box["r"]


def _catch(fn):
    try:
        return fn()
    except BaseException as exc:
        return exc


def test_fifo_and_devices_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path, words in [(fifo, "named pipe"), ("/dev/zero", "a device"), ("/dev/null", "a device")]:
        err = _within(10, lambda: load_image(path))
        assert isinstance(err, UserError) and words in str(err), err
    model_fifo = tmp_path / "m.keras"
    os.mkfifo(model_fifo)
    from convscope.engine import open_model

    err = _within(60, lambda: open_model(str(model_fifo)))
    assert isinstance(err, UserError) and "named pipe" in str(err), err


@pytest.mark.parametrize("array, words", [
    (np.zeros((0, 0, 3), np.uint8), "must have pixels"),
    (np.zeros((5, 0)), "must have pixels"),
    (np.zeros((4, 4, 2)), "must be (H, W)"),
    (np.array([["a", "b"]]), "must hold numbers"),
])
def test_bad_arrays_are_user_errors(array, words):
    with pytest.raises(UserError) as e:
        from_array(array)
    assert words in str(e.value)


def test_class_index_of_any_numeric_kind(demo_model):
    img = load_image(os.path.join(os.path.dirname(__file__), "..", "convscope", "resources", "samples",
                                  "demo_star.png"))
    ref = demo_model.cam(img, class_index=2)
    for same in (np.array(2), np.int64(2), 2.0, np.float32(2)):
        cam = demo_model.cam(img, class_index=same)
        assert cam.class_index == 2
        np.testing.assert_array_equal(cam.heatmap, ref.heatmap)
    for bad, words in [(1.5, "not a whole number"), (True, "not True"),
                       (np.array(9), "out of range"), (float("nan"), "not a whole number")]:
        with pytest.raises(UserError, match=words):
            demo_model.cam(img, class_index=bad)


# -- model shapes the views cannot serve as they are -----------------------------------------
@pytest.fixture(scope="module")
def no_head():
    from convscope.engine import open_model

    return open_model(NO_HEAD)


def test_model_without_classifier_head_through_the_api(no_head):
    """VGG16(weights=None, include_top=False), the seeds' setup for filter patterns."""
    img = from_array(np.random.default_rng(0).integers(0, 255, (70, 90, 3), np.uint8))
    assert no_head.head.classes == 0 and no_head.summary()["output_shape"] == [None, None, 512]
    for call in (lambda: no_head.predict(img), lambda: no_head.cam(img),
                 lambda: no_head.class_index(3)):
        with pytest.raises(UserError, match="no classifier head|no classes"):
            call()
    act = no_head.activations(img, ["block1_conv1"])["block1_conv1"]
    assert act.shape == (64, 96, 64)  # the image on the 32-pixel grid of free sizes
    patterns = no_head.filter_patterns("block1_conv1", filters=[0, 1], size=32, steps=2)
    assert patterns.shape == (2, 32, 32, 3) and patterns.dtype == np.uint8


def test_two_input_model_is_refused_with_the_reason(tmp_path):
    import keras

    from convscope.engine import open_model

    a, b = keras.Input((16, 16, 3)), keras.Input((16, 16, 3))
    x = keras.layers.Concatenate()([keras.layers.Conv2D(2, 3)(a), keras.layers.Conv2D(2, 3)(b)])
    keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Flatten()(x))).save(tmp_path / "two.keras")
    with pytest.raises(UserError, match="takes 2 inputs .16x16x3, 16x16x3.; .* not supported"):
        open_model(str(tmp_path / "two.keras"))


# -- bounded memory ----------------------------------------------------------------------------
def test_overlay_of_a_huge_image_is_bounded_and_exact():
    """40 MP in: a 16 MP overlay, equal to the blend of the area-reduced image computed
    here independently; the old full-size float blend needed ~1.4 GB of temporaries."""
    import cv2

    from convscope.engine import colormaps
    from convscope.engine.cam.overlay import OVERLAY_MAX_PIXELS, blend

    h, w = 5000, 8000
    pixels = np.empty((h, w, 3), np.uint8)
    pixels[...] = (np.arange(w, dtype=np.uint32) * 255 // w).astype(np.uint8)[None, :, None]
    heat = np.random.default_rng(1).random((7, 9)).astype(np.float32)
    tracemalloc.start()
    out = blend(pixels, heat, alpha=0.4)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.shape[0] * out.shape[1] <= OVERLAY_MAX_PIXELS and out.dtype == np.uint8
    assert abs(out.shape[1] / out.shape[0] - w / h) < 1e-3
    assert peak < 300 << 20, peak / 2**20
    oh, ow = out.shape[:2]
    small = cv2.resize(pixels, (ow, oh), interpolation=cv2.INTER_AREA).astype(np.float64)
    up = np.clip(cv2.resize(heat, (ow, oh), interpolation=cv2.INTER_LINEAR), 0, 1)
    ref = np.clip(np.rint(0.6 * small + 0.4 * colormaps.apply(up, "jet")), 0, 255)
    rows = slice(0, oh, 97)  # a sample of rows across the bands
    assert np.abs(out[rows].astype(int) - ref[rows].astype(int)).max() <= 1


def test_scorecam_chunks_follow_the_memory_budget(demo_model, monkeypatch):
    """A budget that fits two masked copies per pass: same weights as the default chunks."""
    from convscope.engine import memory
    from convscope.engine.cam import compute

    img = load_image(os.path.join(os.path.dirname(__file__), "..", "convscope", "resources", "samples",
                                  "demo_circle.png"))
    ref = demo_model.cam(img, method="faster-scorecam", max_n=6)
    per = memory.per_image_bytes(demo_model, 96, 96)
    monkeypatch.setenv("CONVSCOPE_MEMORY_BUDGET", str(2 * per + 1))
    assert compute.chunk_for(demo_model, (96, 96)) == 2
    calls = []
    got = demo_model.cam(img, method="faster-scorecam", max_n=6, progress=lambda d, t: calls.append(t))
    assert calls and calls[-1] == 3 + 1  # 6 copies in chunks of 2, plus the first pass
    np.testing.assert_allclose(got.weights, ref.weights, rtol=1e-5, atol=1e-6)


def test_oversized_filter_run_is_refused_with_what_fits(tmp_path, monkeypatch):
    import keras

    from convscope.engine import open_model

    inp = keras.Input((None, None, 3))
    keras.Model(inp, keras.layers.Conv2D(4, 3, name="c")(inp)).save(tmp_path / "f.keras")
    m = open_model(str(tmp_path / "f.keras"))
    monkeypatch.setenv("CONVSCOPE_MEMORY_BUDGET", "128M")
    with pytest.raises(UserError, match=r"4 filter pattern\(s\) of 1024x1024 .* 1 filter\(s\) at once would fit"):
        m.filter_patterns("c", filters=range(4), size=1024, steps=1)
    assert m.filter_patterns("c", filters=[0], size=256, steps=1).shape == (1, 256, 256, 3)


def test_free_size_model_traces_a_bounded_number_of_times(tmp_path):
    """40 image sizes: the CAM's compiled function is traced at most 3 times (then general in H and W),
    and the inputs land on few shapes (a 32-pixel grid)."""
    import keras

    from convscope.engine.explore import cache as explore
    from convscope.engine import open_model
    from convscope.engine.cam import compute

    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c")(inp)
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(x))
    keras.Model(inp, out).save(tmp_path / "free.keras")
    m = open_model(str(tmp_path / "free.keras"))
    shapes = set()
    for i in range(40):
        img = from_array(np.full((40 + 7 * i, 50 + 5 * i, 3), i, np.uint8))
        m.cam(img, method="gradcam")
        shapes.add(m.prepare(img).shape)
    assert len(shapes) <= 16  # from 40 distinct image sizes
    # whichever compiled path answered (the per-layer CAM function or the exploration
    # cache's all-layer passes), each was traced at most 3 times (not 15)
    fns = [f for f in [*compute.state(m).fns.values(), *explore.state(m).fns.values()]
           if hasattr(f, "experimental_get_tracing_count")]
    assert fns and max(f.experimental_get_tracing_count() for f in fns) <= 3
