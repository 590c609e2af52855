"""A binary classifier with one sigmoid unit: class 1 has probability sigmoid(z), class 0
has 1 - sigmoid(z) = sigmoid(-z), and explaining class 0 explains the score -z.

Two real models that differ only in their output bias (+6: class 1 wins, -6: class 0 wins),
checked against an independent computation of z (a Keras sub-model to the pooled features,
then the Dense kernel by hand): what is explained without a class, the score explained,
and the confidences the faithfulness metrics and `batch` read (issue 19: making the
top class always 1, or class 0's confidence sigmoid(z), passed every test before).
"""
import math

import numpy as np
import pytest

from convscope.engine import open_model
from convscope.engine.images import from_array

BIASES = {1: 6.0, 0: -6.0}  # the class that wins -> output bias


def _keras():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    keras = _keras()
    keras.utils.set_random_seed(4)
    L = keras.layers
    d = tmp_path_factory.mktemp("sigmoid")
    out = {}
    for winner, bias in BIASES.items():
        inp = keras.Input((32, 32, 3))
        x = L.Conv2D(4, 3, activation="relu", name="conv")(inp)
        x = L.GlobalAveragePooling2D(name="gap")(x)
        dense = L.Dense(1, activation="sigmoid", name="out")
        m = keras.Model(inp, dense(x))
        k = np.array([[0.02], [-0.01], [0.03], [0.01]], np.float32)
        dense.set_weights([k, np.array([bias], np.float32)])
        path = d / f"wins_{winner}.keras"
        m.save(path)
        out[winner] = open_model(str(path), preprocess="rescale")
    return out


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(3)
    return from_array(rng.integers(0, 255, (32, 32, 3), np.uint8), name="noise")


def _z(m, pixels01):
    """The output unit's pre-sigmoid value, recomputed: features by Keras, kernel by hand."""
    keras = _keras()
    km = m.keras_model
    feats = keras.Model(km.inputs, km.get_layer("gap").output)(pixels01).numpy()
    W, b = km.get_layer("out").get_weights()
    return (feats @ W + b)[:, 0].astype(np.float64)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


@pytest.mark.parametrize("winner", [0, 1])
def test_top_class_without_a_class_given_is_the_one_that_wins(models, image, winner):
    m = models[winner]
    z = _z(m, m.pixels([image]) / 255.0)[0]
    assert (z > 0) == (winner == 1)
    (top,) = m.predict(image, top=1)
    assert top.index == winner
    assert top.score == pytest.approx(_sigmoid(z) if winner == 1 else 1 - _sigmoid(z), abs=1e-5)
    cam = m.cam(image)  # no class: the top prediction
    assert cam.class_index == winner
    assert cam.score == pytest.approx(z if winner == 1 else -z, abs=1e-4)  # class 0: -z
    other = m.cam(image, class_index=1 - winner)
    assert other.class_index == 1 - winner
    assert other.score == pytest.approx(-cam.score, abs=1e-4)


def test_faithfulness_confidence_of_class_0_is_one_minus_sigmoid(models, image):
    """Deletion curve of class 0 on the model where it wins: the first point is the
    image's 1 - sigmoid(z), the last the all-black image's (the deletion substrate)."""
    from convscope.engine.cam import faithfulness

    m = models[0]
    heat = m.cam(image).heatmap
    _, conf = faithfulness.curves(m, [image], [heat], class_index=0, mode="deletion", steps=4)
    px = m.pixels([image])
    z0 = _z(m, px / 255.0)[0]
    z_black = _z(m, np.zeros_like(px))[0]
    assert conf[0, 0] == pytest.approx(1 - _sigmoid(z0), abs=1e-5)
    assert conf[0, -1] == pytest.approx(1 - _sigmoid(z_black), abs=1e-5)
    assert conf[0, 0] > 0.99  # class 0 wins here: its confidence is high, not sigmoid(z)


def test_batch_row_of_a_class_0_image(models, image, tmp_path):
    """`batch` on the class-0 model: explained class 0, its confidence 1 - sigmoid(z),
    and the average drop from the masked image's class-0 confidence (Chattopadhay et al.:
    max(0, Y - O) / Y)."""
    from convscope.engine.dataset.explain import Settings, explain_batch
    from convscope.engine.dataset.loader import decode
    from convscope.engine.dataset.sources import Item
    from convscope.engine.cam.overlay import upsample
    from PIL import Image as P

    m = models[0]
    path = tmp_path / "noise.png"
    P.fromarray(image.pixels).save(path)
    d = decode(Item(str(path)), 0, m.input_shape)
    rows, errors = explain_batch(m, Settings(metrics=("drop", "deletion"), steps=4), [d])
    assert not errors and len(rows) == 1
    row = rows[0]
    px = m.pixels([image])
    y = 1 - _sigmoid(_z(m, px / 255.0)[0])
    assert row["explained_class"] == row["predicted_class"] == 0
    assert row["score"] == pytest.approx(y, abs=1e-5)
    heat = m.cam(image).heatmap
    masked = px * upsample(heat, px.shape[1:3])[None, :, :, None]
    o = 1 - _sigmoid(_z(m, masked / 255.0)[0])
    assert row["average_drop"] == pytest.approx(max(0.0, y - o) / y, abs=1e-5)
    assert math.isfinite(row["deletion_auc"])
