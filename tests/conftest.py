"""Shared fixtures: real Keras models saved to real files, real image files.

TensorFlow is imported once per test session; models are small so the suite stays fast on
two cores.
"""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# One pytest process holds dozens of models at once; a window's exploration cache gets only
# what the process budget leaves beside them (convscope/engine/process_memory.py), so the suite gives
# itself room. The budget's own tests set the variable themselves (monkeypatch).
os.environ.setdefault("CONVSCOPE_MEMORY_BUDGET", "16G")

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _keras():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def seq_sigmoid_path(model_dir):
    """The seeds' cats-vs-dogs convnet, small: Conv/Pool blocks -> Flatten -> Dense(1, sigmoid)."""
    keras = _keras()
    keras.utils.set_random_seed(1)
    L = keras.layers
    m = keras.Sequential([
        keras.Input((48, 48, 3)),
        L.Conv2D(8, 3, activation="relu", name="conv2d_1"), L.MaxPooling2D(name="max_pooling2d_1"),
        L.Conv2D(16, 3, activation="relu", name="conv2d_2"), L.MaxPooling2D(name="max_pooling2d_2"),
        L.Flatten(name="flatten_1"), L.Dropout(0.5, name="dropout_1"),
        L.Dense(16, activation="relu", name="dense_1"), L.Dense(1, activation="sigmoid", name="dense_2"),
    ], name="cats_and_dogs_small")
    path = model_dir / "cats_and_dogs_small.keras"
    m.save(path)
    return str(path)


@pytest.fixture(scope="session")
def nested_path(model_dir):
    """Transfer learning: a keras.applications base nested inside a functional model, with a
    second level of nesting (a small Sequential block inside a functional block)."""
    keras = _keras()
    keras.utils.set_random_seed(2)
    L = keras.layers
    base = keras.applications.MobileNetV2(input_shape=(64, 64, 3), include_top=False,
                                          weights=None, alpha=0.35)
    inner = keras.Sequential([keras.Input((2, 2, 1280)), L.Conv2D(32, 1, activation="relu", name="squeeze")],
                             name="inner_block")
    mid_in = keras.Input((2, 2, 1280))
    mid = keras.Model(mid_in, L.ReLU(name="mid_relu")(inner(mid_in)), name="head_block")
    inp = keras.Input((64, 64, 3))
    x = head = mid(base(inp))
    x = L.GlobalAveragePooling2D(name="gap")(head)
    out = L.Dense(5, activation="softmax", name="predictions")(x)
    m = keras.Model(inp, out, name="transfer")
    path = model_dir / "transfer.keras"
    m.save(path)
    return str(path)


@pytest.fixture(scope="session")
def images_dir(tmp_path_factory):
    """One real file per image kind the loader must read."""
    from PIL import Image as P

    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    # smooth colour ramps (JPEG-friendly) with a little noise
    yy, xx = np.mgrid[0:30, 0:40]
    ramp = np.dstack([xx * 6, yy * 8, 255 - xx * 6]).astype(float)
    rgb = np.clip(ramp + rng.normal(0, 4, ramp.shape), 0, 255).astype(np.uint8)
    rgb[:10, :10] = (255, 0, 0)  # a red corner, to check orientation
    P.fromarray(rgb).save(d / "plain.png")
    P.fromarray(rgb).save(d / "photo.jpg", quality=95)
    P.fromarray(rgb).save(d / "photo.bmp")
    P.fromarray(rgb).save(d / "photo.tiff")
    P.fromarray(rgb).save(d / "photo.webp", lossless=True)
    # EXIF orientation 6: the viewer must rotate 90° clockwise.
    exif = P.Exif()
    exif[0x0112] = 6
    P.fromarray(rgb).save(d / "rotated.jpg", quality=95, exif=exif)
    gray = (np.arange(30 * 40) % 256).astype(np.uint8).reshape(30, 40)
    P.fromarray(gray, mode="L").save(d / "gray.png")
    g16 = (np.arange(30 * 40, dtype=np.uint32) * 50 % 65536).astype(np.uint16).reshape(30, 40)
    P.fromarray(g16).save(d / "gray16.png")
    rgba = np.dstack([rgb, np.full((30, 40), 255, np.uint8)])
    rgba[:, 20:, 3] = 0  # right half transparent -> white
    P.fromarray(rgba, mode="RGBA").save(d / "alpha.png")
    P.fromarray(rgb).convert("P", palette=P.Palette.ADAPTIVE, colors=16).save(d / "palette.png")
    (d / "not_an_image.png").write_bytes(b"this is text, not a PNG\n" * 10)
    (d / "truncated.jpg").write_bytes((d / "photo.jpg").read_bytes()[:200])
    return d


@pytest.fixture(scope="session")
def demo_model():
    from convscope.engine import open_model

    return open_model("demo")


@pytest.fixture(scope="module", autouse=True)
def no_qthread_left_running():
    """Every QThread a test module starts (the engine's or any other) must have ended when
    the module is done, its fixtures torn down (as napari's conftest: QThread.start patched
    to remember each thread and where it was started)."""
    import traceback
    import weakref

    from PySide6.QtCore import QThread

    started = weakref.WeakKeyDictionary()
    original = QThread.start

    def start(self, *args, **kwargs):
        started[self] = "".join(traceback.format_stack(limit=8)[:-1])
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(QThread, "start", start)
        yield
    running = [(t, where) for t, where in list(started.items()) if t.isRunning()]
    for t, _ in running:
        t.wait(5000)  # one more chance: it may be ending right now
    still = [where for t, where in running if t.isRunning()]
    assert not still, "QThread(s) left running, started at:\n" + "\n---\n".join(still)
