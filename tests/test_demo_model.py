"""The shipped demo classifier and the generator of its images (convscope/engine/demo_shapes.py).

Fresh samples come from seeds that scripts/train_demo.py never uses (it uses 10000 + epoch,
1, 1000, 2000 and 7).
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from convscope.engine.demo_shapes import CLASSES, Sample, make_batch, make_sample

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "convscope", "resources", "models", "demo.keras")
LABELS = os.path.join(ROOT, "convscope", "resources", "models", "demo.labels.json")
FRESH_SEED = 424_242


@pytest.fixture(scope="module")
def model():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras.saving.load_model(MODEL, compile=False)


def test_files_small_and_labelled():
    assert os.path.getsize(MODEL) < 2_000_000
    with open(LABELS, encoding="utf-8") as f:
        assert json.load(f) == list(CLASSES) == ["circle", "square", "triangle", "star"]


def test_architecture(model):
    import keras

    assert tuple(model.input.shape) == (None, 96, 96, 3)
    assert isinstance(model.layers[-2], keras.layers.GlobalAveragePooling2D)
    head = model.layers[-1]
    assert isinstance(head, keras.layers.Dense) and head.units == 4
    assert head.activation is keras.activations.softmax
    # the app scales pixels by 1/255 itself: a Rescaling layer would scale twice
    assert not any(isinstance(l, keras.layers.Rescaling) for l in model.layers)
    # the layer feeding GAP is the last conv, with a map fine enough to localise objects
    last = model.get_layer("conv5")
    assert isinstance(last, keras.layers.Conv2D) and tuple(last.output.shape[1:3]) == (12, 12)


def test_accuracy_on_fresh_samples(model):
    images, labels, _ = make_batch(256, FRESH_SEED)
    pred = model.predict(images.astype(np.float32) / 255.0, batch_size=128, verbose=0)
    acc = float(np.mean(pred.argmax(1) == labels))
    assert acc >= 0.9, f"accuracy {acc:.3f} on fresh samples"


def test_sample_images_classified(model):
    import cv2

    for i, name in enumerate(CLASSES):
        bgr = cv2.imread(os.path.join(ROOT, "convscope", "resources", "samples", f"demo_{name}.png"))
        assert bgr is not None and bgr.shape == (96, 96, 3)
        pred = model.predict(bgr[None, ..., ::-1] / 255.0, verbose=0)
        assert pred.argmax() == i, name


def test_generator_is_deterministic():
    a = make_sample(np.random.default_rng(5))
    b = make_sample(np.random.default_rng(5))
    assert a.label == b.label and a.box == b.box
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    x1, y1, m1 = make_batch(8, 3)
    x2, y2, m2 = make_batch(8, 3)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(m1, m2)
    assert not np.array_equal(x1, make_batch(8, 4)[0])


def test_batch_shapes_and_balance():
    x, y, m = make_batch(40, 11)
    assert x.shape == (40, 96, 96, 3) and x.dtype == np.uint8
    assert y.shape == (40,) and m.shape == (40, 96, 96) and m.dtype == bool
    assert np.bincount(y, minlength=4).tolist() == [10, 10, 10, 10]


def test_mask_matches_the_object():
    import cv2

    rng = np.random.default_rng(99)
    kernel = np.ones((5, 5), np.uint8)
    for i in range(40):
        s = make_sample(rng, label=i % 4)
        assert isinstance(s, Sample) and s.label == i % 4
        assert s.image.shape == (96, 96, 3) and s.mask.shape == (96, 96)
        x0, y0, x1, y1 = s.box
        assert 0 <= x0 < x1 <= 96 and 0 <= y0 < y1 <= 96
        assert 12 <= max(x1 - x0, y1 - y0) <= 42  # big enough to localise, fits the frame
        inside = np.zeros_like(s.mask)
        inside[y0:y1, x0:x1] = True
        assert s.mask.sum() > 0 and not (s.mask & ~inside).any()
        # the masked pixels are the drawn object: their colour differs from the ring around
        ring = cv2.dilate(s.mask.astype(np.uint8), kernel).astype(bool) & ~s.mask
        img = s.image.astype(float)
        diff = np.linalg.norm(np.median(img[s.mask], 0) - np.median(img[ring], 0))
        assert diff > 40, (i, diff)


def test_bad_label_rejected():
    with pytest.raises(ValueError):
        make_sample(np.random.default_rng(0), label=4)


def test_generator_needs_no_tensorflow():
    code = ("import sys; import convscope.engine.demo_shapes; "
            "assert 'tensorflow' not in sys.modules and 'PySide6' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
