"""Heads read by what they are (convscope/engine/heads.py): softmax, sigmoid, logits, binary logit,
regression; --head overrides the guess; info says which it found and why.

The TF transfer-learning tutorial's binary classifier (a pretrained base nested in a
functional model, GAP, Dropout, Dense(1) WITHOUT activation, trained with
from_logits=True) with a sidecar labels file ["cat", "dog"]: a positive logit is evidence
for "dog" (class 1, score = z), a negative one for "cat" (class 0, score = -z). Checked
against Grad-CAM computed here with a GradientTape on the same layers.
"""
import json

import numpy as np
import pytest

from convscope.engine import UserError, from_array, open_model
from convscope.engine.cli import main as cli

SIDE = 48


def _keras():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras


def _images():
    """Two images the tutorial model reads with logits of opposite signs."""
    rng = np.random.default_rng(5)
    bright = np.clip(rng.normal(200, 30, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
    dark = np.clip(rng.normal(40, 30, (SIDE, SIDE, 3)), 0, 255).astype(np.uint8)
    dark[8:24, 8:24] = 230  # something to localise
    return from_array(bright, name="bright"), from_array(dark, name="dark")


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """(path, base, dense): the tutorial's shape, with the bias set so that the two test
    images fall on either side of the decision boundary."""
    keras = _keras()
    keras.utils.set_random_seed(3)
    L = keras.layers
    base = keras.Sequential([keras.Input((SIDE, SIDE, 3)),
                             L.Conv2D(8, 3, activation="relu", name="c1"),
                             L.MaxPooling2D(name="p1"),
                             L.Conv2D(16, 3, activation="relu", name="c2")], name="base")
    inp = keras.Input((SIDE, SIDE, 3))
    x = L.GlobalAveragePooling2D(name="gap")(base(inp))
    x = L.Dropout(0.2, name="drop")(x)
    out = L.Dense(1, name="logit")(x)  # no activation: a logit
    model = keras.Model(inp, out, name="cats_vs_dogs")
    bright, dark = _images()
    x = np.stack([bright.pixels, dark.pixels]).astype(np.float32) / 255.0
    z = model.predict(x, verbose=0)[:, 0]
    assert abs(z[0] - z[1]) > 1e-3
    kernel, bias = model.get_layer("logit").get_weights()
    model.get_layer("logit").set_weights([kernel, bias - (z[0] + z[1]) / 2])
    folder = tmp_path_factory.mktemp("tutorial")
    path = folder / "cats_vs_dogs.keras"
    model.save(path)
    (folder / "cats_vs_dogs.labels.json").write_text(json.dumps(["cat", "dog"]))
    nolabels = folder / "value.keras"
    model.save(nolabels)
    return str(path), str(nolabels)


def _tape_gradcam(m, image, sign):
    """Grad-CAM of sign * z at base/c2, by hand: tape on the nested base's output."""
    import tensorflow as tf

    km = m.keras_model
    base, gap, dense = km.get_layer("base"), km.get_layer("gap"), km.get_layer("logit")
    x = tf.constant(image.pixels[None].astype(np.float32) / 255.0)
    with tf.GradientTape() as tape:
        a = base(x, training=False)
        tape.watch(a)
        z = dense(gap(a))[:, 0]
        score = sign * z
    g = tape.gradient(score, a)[0].numpy()
    a = a[0].numpy()
    cam = np.maximum((a * g.mean(axis=(0, 1))).sum(-1), 0)
    cam = (cam - cam.min()) / (cam.max() - cam.min()) if cam.max() > cam.min() else cam * 0
    return float(z.numpy()[0]), cam


def test_tutorial_binary_logit_explains_dog_when_positive_cat_when_negative(tutorial):
    m = open_model(tutorial[0])
    assert m.head.kind == "binary-logit" and m.head.classes == 2 and m.labels == ["cat", "dog"]
    assert "two labels" in m.head.reason and m.default_cam_layer == "base/c2"
    bright, dark = _images()
    seen = set()
    for image in (bright, dark):
        z, _ = _tape_gradcam(m, image, 1.0)
        sign = 1.0 if z > 0 else -1.0
        _, expected = _tape_gradcam(m, image, sign)
        cam = m.cam(image)  # the top class
        want = "dog" if z > 0 else "cat"
        seen.add(want)
        assert cam.label == want and cam.class_index == (1 if z > 0 else 0)
        assert cam.score == pytest.approx(abs(z), rel=1e-4, abs=1e-5)  # dog: z; cat: -z
        np.testing.assert_allclose(cam.heatmap, expected, atol=1e-4)
        top = m.predict(image, top=2)
        p_dog = 1.0 / (1.0 + np.exp(-z))
        assert top[0].label == want
        assert {p.label: p.score for p in top} == pytest.approx({"dog": p_dog, "cat": 1 - p_dog}, abs=1e-5)
        # the other class, asked for by name: the negated score, and its own map
        other = "cat" if want == "dog" else "dog"
        cam_other = m.cam(image, class_index=other)
        assert cam_other.score == pytest.approx(-abs(z), rel=1e-4, abs=1e-5)
        np.testing.assert_allclose(cam_other.heatmap, _tape_gradcam(m, image, -sign)[1], atol=1e-4)
    assert seen == {"dog", "cat"}


def test_one_linear_unit_without_labels_is_regression(tutorial):
    m = open_model(tutorial[1])
    assert m.head.kind == "regression" and m.head.classes == 1 and m.labels is None
    bright, _ = _images()
    z, expected = _tape_gradcam(m, bright, 1.0)
    (pred,) = m.predict(bright)
    assert pred.label == "the output value" and pred.score == pytest.approx(z, abs=1e-5)
    cam = m.cam(bright)
    assert cam.label == "the output value" and cam.score == pytest.approx(z, rel=1e-4, abs=1e-5)
    np.testing.assert_allclose(cam.heatmap, expected, atol=1e-4)
    # --head binary-logit reads the same file as a binary classifier
    b = open_model(tutorial[1], head="binary-logit")
    assert b.head.kind == "binary-logit" and b.head.forced and b.head.classes == 2
    assert b.cam(bright).score == pytest.approx(abs(z), rel=1e-4, abs=1e-5)


@pytest.fixture(scope="module")
def small_heads(tmp_path_factory):
    """One small convnet per head: softmax, sigmoid x1, sigmoid x3, linear x4."""
    keras = _keras()
    L = keras.layers
    folder = tmp_path_factory.mktemp("heads")
    paths = {}
    for name, units, act in (("softmax", 4, "softmax"), ("sigmoid1", 1, "sigmoid"),
                             ("sigmoid3", 3, "sigmoid"), ("logits", 4, None)):
        keras.utils.set_random_seed(7)
        m = keras.Sequential([keras.Input((24, 24, 3)), L.Conv2D(6, 3, activation="relu", name="conv"),
                              L.GlobalAveragePooling2D(name="gap"), L.Dense(units, activation=act, name="out")])
        paths[name] = str(folder / f"{name}.keras")
        m.save(paths[name])
    return paths


@pytest.mark.parametrize("name, kind, classes, squash", [
    ("softmax", "softmax", 4, "softmax"), ("sigmoid1", "sigmoid", 2, "sigmoid"),
    ("sigmoid3", "sigmoid", 3, "sigmoid"), ("logits", "logits", 4, "linear")])
def test_head_kind_guessed(small_heads, name, kind, classes, squash):
    m = open_model(small_heads[name])
    assert (m.head.kind, m.head.classes, m.head.activation) == (kind, classes, squash)
    assert not m.head.forced and m.head.reason


def test_head_override_softmax_on_logits(small_heads):
    """--head softmax on a linear 4-unit output: probabilities are softmax(logits)."""
    guessed = open_model(small_heads["logits"])
    forced = open_model(small_heads["logits"], head="softmax")
    img = _images()[0]
    z = guessed.scores(img)[0].astype(np.float64)
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    np.testing.assert_allclose(forced.scores(img)[0], p, rtol=1e-5)
    assert forced.head.kind == "softmax" and "--head" in forced.head.reason


def test_head_override_refusals(small_heads):
    with pytest.raises(UserError, match="ONE output unit"):
        open_model(small_heads["softmax"], head="binary-logit")
    with pytest.raises(UserError, match="at least two output units"):
        open_model(small_heads["sigmoid1"], head="softmax")
    with pytest.raises(UserError, match="unknown head kind"):
        open_model(small_heads["softmax"], head="probit")


def test_cli_info_says_which_head_and_why(capsys, tutorial, tmp_path):
    code = cli(["info", "--model", tutorial[0]])
    out, err = capsys.readouterr()
    assert code == 0, err
    head = next(line for line in out.splitlines() if line.startswith("head"))
    assert "binary-logit" in head and "two labels" in head
    code = cli(["info", "--model", tutorial[0], "--head", "regression", "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0 and doc["head"]["kind"] == "regression" and doc["head"]["chosen"] is True
    # the command line's per-layer path (no exploration cache): the same classes and scores
    z, _ = _tape_gradcam(open_model(tutorial[0]), _images()[1], 1.0)
    code = cli(["predict", "--model", tutorial[0], "--image", _save(_images()[1], tmp_path), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    p_dog = 1.0 / (1.0 + np.exp(-z))
    got = {p["label"]: p["score"] for p in json.loads(out)["predictions"]}
    assert got == pytest.approx({"dog": p_dog, "cat": 1 - p_dog}, abs=1e-5)
    code = cli(["cam", "--model", tutorial[0], "--image", _save(_images()[1], tmp_path),
                "--out", str(tmp_path / "cam.png"), "--json"])
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0 and doc["label"] == ("dog" if z > 0 else "cat")
    assert doc["score"] == pytest.approx(abs(z), rel=1e-4, abs=1e-5)
    code = cli(["info", "--model", tutorial[0], "--head", "nonsense"])
    out, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: ") and "--head" in err and len(err.splitlines()) == 1


def _save(image, folder):
    from PIL import Image as P

    path = folder / f"{image.name}.png"
    P.fromarray(image.pixels).save(path)
    return str(path)
