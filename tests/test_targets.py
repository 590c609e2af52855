"""Targets (issue 21): what a map explains besides a class.

Small models from engine.demo_targets (seeded random weights: the maths does not need a
trained model). Each target's Grad-CAM is recomputed here with a GradientTape from the
target's definition, using the model's own layers as functions (never engine code). The
perturbation methods on the same scalars: tests/test_targets_perturbation.py; the CLI,
bad targets and the engine jobs: tests/test_targets_io.py.
"""
import numpy as np
import pytest
from PIL import Image as P

from convscope.engine import demo_targets


@pytest.fixture(scope="module")
def tm(tmp_path_factory):
    d = tmp_path_factory.mktemp("target-models")
    paths = demo_targets.save_all(str(d), epochs=0)
    # a reference image of another size, and a mask PNG equal to a box
    big = np.asarray(P.open(paths["shape_1"]).resize((80, 72)))
    P.fromarray(big).save(str(d / "other_size.png"))
    mask = np.zeros((64, 64), np.uint8)
    mask[12:40, 20:52] = 255
    P.fromarray(mask).save(str(d / "box_mask.png"))
    paths["other_size"] = str(d / "other_size.png")
    paths["box_mask"] = str(d / "box_mask.png")
    paths["dir"] = str(d)
    return paths


@pytest.fixture(scope="module")
def models(tm):
    from convscope.engine.model import open_model

    return {k: open_model(tm[k]) for k in ("unet", "regressor", "two_head", "embedding")}


def _tf():
    import tensorflow as tf

    return tf


def _gradcam(A, g):
    """Grad-CAM's raw map (Selvaraju et al. eq. 1-2, before ReLU) from (1, h, w, K)."""
    w = g.numpy().mean(axis=(1, 2))  # (1, K)
    return (A.numpy() * w[:, None, None, :]).sum(-1)[0]


def _x(m, path):
    return m.prepare([path])


# -- the scalar of each kind, written from its definition -----------------------------------
def _unet_logits(km, A):
    """The U-Net's pre-softmax output from dec1's activations: the 1x1 conv, no softmax."""
    seg = km.get_layer("segmentation")
    return _tf().nn.conv2d(A, seg.kernel, 1, "SAME") + seg.bias


def _unet_dec1(km, x):
    import keras

    return keras.Model(km.inputs, km.get_layer("dec1").output)(x)


def _region_score(z, box, c):
    """Seg-Grad-CAM: sum of class c's logits over the output pixels whose centres lie in
    the box (input pixels; here the output grid is the input grid, 64 x 64)."""
    x0, y0, x1, y1 = box
    return _tf().reduce_sum(z[:, y0:y1, x0:x1, c])


def _trunk_gap(km, x):
    import keras

    return keras.Model(km.inputs, km.get_layer("conv2").output)(x)


def _head(km, A, name):
    """Dense(name) of the global average of conv2's activations, before any softmax."""
    d = km.get_layer(name)
    f = _tf().reduce_mean(A, axis=(1, 2))
    return _tf().matmul(f, d.kernel) + d.bias


@pytest.mark.parametrize("c", [1, 3])
def test_region_gradcam_equals_tape(models, tm, c):
    tf = _tf()
    m = models["unet"]
    box = (10, 12, 50, 44)
    r = m.cam(tm["shape_0"], layer="dec1", target=f"region:{','.join(map(str, box))}:{c}")
    assert r.layer == "dec1" and r.target == f"region:10,12,50,44:{c}"
    A = _unet_dec1(m.keras_model, _x(m, tm["shape_0"]))
    with tf.GradientTape() as tape:
        tape.watch(A)
        s = _region_score(_unet_logits(m.keras_model, A), box, c)
    g = tape.gradient(s, A)
    assert r.score == pytest.approx(float(s), rel=1e-4)
    want = _gradcam(A, g)
    assert np.abs(want).max() > 0
    np.testing.assert_allclose(r.raw, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def test_region_default_layer_is_the_bottleneck_and_equals_tape(models, tm):
    """Without a layer a region is explained at the U-Net's bottleneck (engine.default_layer:
    under the output's 1x1 convolution the map would be the class's logit map again);
    Grad-CAM there equals a tape through the decoder, skips included."""
    import keras

    tf = _tf()
    m = models["unet"]
    km = m.keras_model
    r = m.cam(tm["shape_0"], target="region:10,12,50,44:2")
    assert r.layer == "bottleneck" == m.default_cam_layer
    inner = keras.Model(km.inputs, [km.get_layer("bottleneck").output, km.get_layer("dec1").output])
    with tf.GradientTape() as tape:
        A, d1 = inner(_x(m, tm["shape_0"]))
        s = _region_score(_unet_logits(km, d1), (10, 12, 50, 44), 2)
    g = tape.gradient(s, A)
    assert r.score == pytest.approx(float(s), rel=1e-4)
    want = _gradcam(A, g)
    np.testing.assert_allclose(r.raw, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())
    # under the 1x1 output convolution the region's map is the class's logit map (minus the
    # bias): why dec1 is not the default
    low = m.cam(tm["shape_0"], layer="dec1", target="region:10,12,50,44:2")
    z = _unet_logits(km, _unet_dec1(km, _x(m, tm["shape_0"]))).numpy()[0, ..., 2]
    bias = float(km.get_layer("segmentation").bias.numpy()[2])
    area = 32 * 40 / 64 ** 2
    np.testing.assert_allclose(low.raw, area * (z - bias), rtol=1e-3, atol=1e-4)


def test_region_without_class_takes_the_majority_class(models, tm):
    m = models["unet"]
    r = m.cam(tm["shape_0"], target="region:10,12,50,44")
    z = m.keras_model.predict(_x(m, tm["shape_0"]), verbose=0)[0]
    votes = np.bincount(z[12:44, 10:50].argmax(-1).ravel(), minlength=z.shape[-1])
    assert r.class_index == int(votes.argmax())
    assert r.target == f"region:10,12,50,44:{votes.argmax()}"  # recorded with its class
    same = m.cam(tm["shape_0"], target=f"region:10,12,50,44:{votes.argmax()}")
    np.testing.assert_array_equal(r.raw, same.raw)


def test_predicted_class_is_the_vote_not_the_largest_logit_sum(tmp_path):
    """3 pixels of class 0 with a large margin, 7 of class 1 with a small one: the logit
    sums favour 0, the predicted mask (and so the region's class) shows 1."""
    import keras

    from convscope.engine.model import open_model

    L = keras.layers
    x = L.Input((8, 8, 3))
    eye = keras.initializers.Constant(np.eye(3, dtype=np.float32)[None, None])
    f = L.Conv2D(3, 1, name="feat", kernel_initializer=eye, use_bias=False)(x)
    y = L.Conv2D(3, 1, activation="softmax", name="seg", kernel_initializer=eye,
                 use_bias=False)(f)
    path = str(tmp_path / "votes.keras")
    keras.Model(x, y).save(path)
    img = np.zeros((8, 8, 3), np.uint8)
    img[0, 0:3] = (255, 0, 0)
    img[1, 0:5] = img[0, 3:5] = (0, 12, 0)
    P.fromarray(img).save(str(tmp_path / "votes.png"))
    m = open_model(path)
    z = m.keras_model.predict(m.prepare([str(tmp_path / "votes.png")]), verbose=0)
    z = np.log(z[0, 0:2, 0:5])  # logits up to a per-pixel constant
    votes = np.bincount(z.argmax(-1).ravel(), minlength=3)
    assert votes.argmax() == 1  # the premise: the vote and ...
    r = m.cam(str(tmp_path / "votes.png"), target="region:0,0,5,2")
    assert r.class_index == 1 and r.target == "region:0,0,5,2:1"
    s = m.cam(str(tmp_path / "votes.png"), target="region:0,0,5,2:0")
    assert s.score > r.score  # ... the largest logit sum disagree


def test_one_channel_sigmoid_segmentation(tmp_path, tm):
    """A binary segmentation output (one sigmoid channel): class 1 = z, class 0 = -z over
    the region; the confidence is the mean sigmoid of that score per pixel."""
    import keras

    from convscope.engine.cam import faithfulness
    from convscope.engine.model import open_model

    L = keras.layers
    keras.utils.set_random_seed(5)
    x = L.Input((64, 64, 3))
    f = L.Conv2D(4, 3, padding="same", activation="relu", name="feat")(L.Rescaling(1 / 255)(x))
    y = L.Conv2D(1, 1, activation="sigmoid", name="fg")(f)
    path = str(tmp_path / "binary_seg.keras")
    keras.Model(x, y).save(path)
    m = open_model(path)
    one = m.cam(tm["shape_0"], target="region:10,12,50,44:1")
    zero = m.cam(tm["shape_0"], target="region:10,12,50,44:0")
    p = m.keras_model.predict(_x(m, tm["shape_0"]), verbose=0)[0, 12:44, 10:50, 0]
    z = np.log(p / (1 - p))
    assert one.score == pytest.approx(float(z.sum()), rel=1e-3)
    assert zero.score == pytest.approx(-one.score, rel=1e-6)
    np.testing.assert_allclose(zero.raw, -one.raw, rtol=1e-5, atol=1e-7)
    auto = m.cam(tm["shape_0"], target="region:10,12,50,44")
    assert auto.class_index == int(2 * (p >= 0.5).sum() >= p.size)
    _, conf = faithfulness.curves(m, [tm["shape_0"]], [np.ones((64, 64))], mode="deletion",
                                  steps=2, target="region:10,12,50,44:0")
    assert conf[0, 0] == pytest.approx(float((1 - p).mean()), rel=1e-4)


def test_mask_file_equals_the_same_box(models, tm):
    m = models["unet"]
    a = m.cam(tm["shape_0"], target=f"mask:{tm['box_mask']}:2")
    b = m.cam(tm["shape_0"], target="region:20,12,52,40:2")
    np.testing.assert_allclose(a.raw, b.raw, rtol=1e-5, atol=1e-6)
    assert a.score == pytest.approx(b.score, rel=1e-6)


@pytest.mark.parametrize("spec, sign", [("value", 1.0), ("value-", -1.0)])
def test_value_gradcam_equals_tape(models, tm, spec, sign):
    tf = _tf()
    m = models["regressor"]
    r = m.cam(tm["shape_0"], layer="conv2", target=spec)
    A = _trunk_gap(m.keras_model, _x(m, tm["shape_0"]))
    with tf.GradientTape() as tape:
        tape.watch(A)
        s = sign * tf.reduce_sum(_head(m.keras_model, A, "value")[:, 0])
    g = tape.gradient(s, A)
    assert r.score == pytest.approx(float(s), rel=1e-4)
    want = _gradcam(A, g)
    np.testing.assert_allclose(r.raw, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def test_value_minus_is_the_negated_map(models, tm):
    m = models["regressor"]
    up = m.cam(tm["shape_0"], layer="conv2", target="value")
    down = m.cam(tm["shape_0"], layer="conv2", target="value-")
    np.testing.assert_allclose(down.raw, -up.raw, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("spec, head, unit", [("output:size", "size", 0),
                                              ("output:shape:2", "shape", 2)])
def test_output_head_gradcam_equals_tape(models, tm, spec, head, unit):
    tf = _tf()
    m = models["two_head"]
    r = m.cam(tm["shape_0"], layer="conv2", target=spec)
    A = _trunk_gap(m.keras_model, _x(m, tm["shape_0"]))
    with tf.GradientTape() as tape:
        tape.watch(A)
        s = tf.reduce_sum(_head(m.keras_model, A, head)[:, unit])  # pre-softmax logit
    g = tape.gradient(s, A)
    assert r.score == pytest.approx(float(s), rel=1e-4)
    want = _gradcam(A, g)
    np.testing.assert_allclose(r.raw, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def test_first_output_target_is_the_class_path_bit_for_bit(models, tm):
    m = models["two_head"]
    plain = m.cam(tm["shape_0"], class_index=2)
    for spec in ("class:2", "output:shape:2"):
        r = m.cam(tm["shape_0"], target=spec)
        np.testing.assert_array_equal(r.raw, plain.raw)
        assert r.score == plain.score and r.class_index == 2
    assert plain.target == "" and "target" not in plain.as_dict()


def test_second_output_is_read_before_its_softmax(models, tm, tmp_path):
    """Every output's softmax is stripped, not only the first's: the same head as the
    second output of a model gives the same pre-softmax score and map."""
    import keras

    from convscope.engine.model import open_model

    km = models["two_head"].keras_model
    path = str(tmp_path / "reversed.keras")
    keras.Model(km.inputs, [km.get_layer("size").output, km.get_layer("shape").output]).save(path)
    rev = open_model(path)
    a = rev.cam(tm["shape_0"], layer="conv2", target="output:shape:2")
    b = models["two_head"].cam(tm["shape_0"], layer="conv2", class_index=2)
    assert a.score == pytest.approx(b.score, rel=1e-5)
    np.testing.assert_allclose(a.raw, b.raw, rtol=1e-4, atol=1e-6)


def test_class_map_is_not_served_for_another_output(models, tm):
    """The all-layer gradient cache holds the class map of this image: the size head's
    map must be its own."""
    m = models["two_head"]
    cls = m.cam(tm["shape_1"], layer="conv2")
    size = m.cam(tm["shape_1"], layer="conv2", target="output:size")
    assert not np.allclose(cls.raw, size.raw)
    again = m.cam(tm["shape_1"], layer="conv2")
    np.testing.assert_array_equal(again.raw, cls.raw)


def test_unit_gradcam_equals_tape(models, tm):
    tf = _tf()
    import keras

    m = models["embedding"]
    km = m.keras_model
    x = _x(m, tm["shape_0"])
    c2 = keras.Model(km.inputs, km.get_layer("conv2").output)(x).numpy()[0]
    ch = int(c2.mean(axis=(0, 1)).argmax())  # a live channel
    assert c2[..., ch].mean() > 0
    r = m.cam(tm["shape_0"], layer="conv1", target=f"unit:conv2:{ch}")
    A = keras.Model(km.inputs, km.get_layer("conv1").output)(x)
    with tf.GradientTape() as tape:
        tape.watch(A)
        out = km.get_layer("conv2")(km.get_layer("pool1")(A))
        s = tf.reduce_mean(out[..., ch])  # (1 / hw) sum_ij A_ij^ch
    g = tape.gradient(s, A)
    assert r.score == pytest.approx(float(s), rel=1e-4)
    want = _gradcam(A, g)
    np.testing.assert_allclose(r.raw, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())
    # one position of the channel: A_yx^ch
    y, xx = np.unravel_index(c2[..., ch].argmax(), c2.shape[:2])
    p = m.cam(tm["shape_0"], layer="conv1", target=f"unit:conv2:{ch}@{y},{xx}")
    assert p.score == pytest.approx(float(c2[y, xx, ch]), rel=1e-4)
    # default layer: the channel's own
    assert m.cam(tm["shape_0"], target=f"unit:conv2:{ch}").layer == "conv2"


def test_similar_gradcam_equals_tape(models, tm):
    tf = _tf()
    m = models["embedding"]
    km = m.keras_model
    ref = km.predict(_x(m, tm["shape_1"]), verbose=0)[0]  # the embedding model's output
    r = m.cam(tm["shape_0"], layer="conv2", target=f"similar:{tm['shape_1']}")
    A = _trunk_gap(km, _x(m, tm["shape_0"]))
    with tf.GradientTape() as tape:
        tape.watch(A)
        e = _head(km, A, "embedding")[0]
        s = tf.reduce_sum(e * ref) / (tf.norm(e) * np.linalg.norm(ref))
    g = tape.gradient(s, A)
    assert -1.0 <= r.score <= 1.0
    assert r.score == pytest.approx(float(s), rel=1e-4)
    want = _gradcam(A, g)
    np.testing.assert_allclose(r.raw, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())
    # an image is most similar to itself
    assert m.cam(tm["shape_0"], layer="conv2",
                 target=f"similar:{tm['shape_0']}").score == pytest.approx(1.0, abs=1e-5)
    # @LAYER: the flattened activations of that layer
    import keras

    c1 = keras.Model(km.inputs, km.get_layer("conv1").output)
    e0 = c1(_x(m, tm["shape_0"])).numpy().ravel()
    e1 = c1(_x(m, tm["shape_1"])).numpy().ravel()
    at = m.cam(tm["shape_0"], layer="conv2", target=f"similar:{tm['shape_1']}@conv1")
    assert at.score == pytest.approx(float(e0 @ e1 / np.linalg.norm(e0) / np.linalg.norm(e1)),
                                     rel=1e-4)


def test_similar_on_a_classifier_defaults_to_the_layer_before_its_head(models, tm):
    m = models["two_head"]  # first output: a softmax head fed by "gap"
    r = m.cam(tm["shape_0"], layer="conv2", target=f"similar:{tm['shape_1']}")
    assert r.label.endswith("at gap")
    g = m.cam(tm["shape_0"], layer="conv2", target=f"similar:{tm['shape_1']}@gap")
    np.testing.assert_array_equal(r.raw, g.raw)


def test_callable_target_equals_the_output_target(models, tm):
    m = models["two_head"]
    a = m.cam(tm["shape_0"], layer="conv2", target=lambda outs: outs["size"][:, 0])
    b = m.cam(tm["shape_0"], layer="conv2", target="output:size")
    np.testing.assert_allclose(a.raw, b.raw, rtol=1e-6)
    assert a.target.startswith("callable:")
