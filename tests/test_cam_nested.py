"""CAM on the shapes that break other tools: a keras.applications base nested in a
functional model (two levels deep), and the seeds' Sequential Flatten + Dense(1, sigmoid)
convnet (binary classes, no GAP head). Fixtures: tests/conftest.py (real .keras files)."""
import numpy as np
import pytest

from convscope.engine import UserError, load_image, open_model
from convscope.engine.cam import compute_cam, registry

METHODS = registry.names("cam")  # the pixel attributions ignore layers: test_attributions.py

BASE = "mobilenetv2_0.35_64"


@pytest.fixture(scope="module")
def nested(nested_path):
    return open_model(nested_path)


@pytest.fixture(scope="module")
def seq(seq_sigmoid_path):
    return open_model(seq_sigmoid_path)


def test_gradcam_on_inner_layer_equals_inner_model_with_own_tape(nested, images_dir):
    import keras
    import tensorflow as tf

    m = nested
    img = load_image(images_dir / "photo.jpg")
    km = m.keras_model
    base = km.get_layer(BASE)
    head = km.get_layer("head_block")
    dense = km.get_layer("predictions")
    x = tf.constant(m.prepare(img))
    for name in ("block_13_expand_relu", "block_6_project_BN"):
        inner = keras.Model(base.inputs, [base.get_layer(name).output, base.output])
        for cls in (1, 4):
            with tf.GradientTape() as tape:
                A, feat = inner(x, training=False)
                pooled = tf.reduce_mean(head(feat, training=False), axis=(1, 2))
                logit = (tf.matmul(pooled, dense.kernel) + dense.bias)[:, cls]  # before softmax
            g = tape.gradient(logit, A).numpy()[0]
            A = A.numpy()[0]
            ref = (A * g.mean(axis=(0, 1))).sum(-1)
            r = compute_cam(m, img, "gradcam", layer=f"{BASE}/{name}", class_index=cls)
            assert r.raw.shape == A.shape[:2] and np.abs(ref).max() > 0
            np.testing.assert_allclose(r.raw, ref, rtol=1e-3, atol=1e-6 * np.abs(ref).max())
            assert r.score == pytest.approx(float(logit.numpy()[0]), rel=1e-4, abs=1e-6)
    # two levels down (a Sequential inside a functional block), and the nested model itself
    r = compute_cam(m, img, "gradcam", layer="head_block/inner_block/squeeze")
    assert r.raw.shape == (2, 2)
    whole = compute_cam(m, img, "gradcam", layer=BASE, class_index=1)
    with tf.GradientTape() as tape:
        feat = base(x, training=False)
        tape.watch(feat)
        pooled = tf.reduce_mean(head(feat, training=False), axis=(1, 2))
        logit = (tf.matmul(pooled, dense.kernel) + dense.bias)[:, 1]
    g = tape.gradient(logit, feat).numpy()[0]
    ref = (feat.numpy()[0] * g.mean(axis=(0, 1))).sum(-1)
    np.testing.assert_allclose(whole.raw, ref, rtol=1e-3, atol=1e-6 * np.abs(ref).max())


def test_every_method_maps_or_says_why(nested, seq, images_dir):
    img = load_image(images_dir / "plain.png")
    cases = [(nested, None), (nested, f"{BASE}/block_13_expand_relu"), (seq, None), (seq, "conv2d_1")]
    for m, layer in cases:
        for method in METHODS:
            try:
                r = compute_cam(m, img, method, layer=layer)
            except UserError as exc:
                msg = str(exc)
                assert method == "cam" and "\n" not in msg, msg
                if m is seq:
                    assert msg.startswith("CAM needs a global average pooling head — use Grad-CAM")
                else:
                    assert "feeds global average pooling" in msg and "head_block/mid_relu" in msg
                continue
            assert r.heatmap.shape == m.layer(r.layer).output_shape[:2]
            assert np.isfinite(r.heatmap).all() and 0 <= r.heatmap.min() <= r.heatmap.max() <= 1
            assert r.overlay().shape == img.pixels.shape
    assert compute_cam(nested, img, "cam").layer == "head_block/mid_relu" == nested.default_cam_layer
    assert seq.default_cam_layer == "max_pooling2d_2"
    for m, layer in ((seq, "flatten_1"), (seq, "dense_1"), (nested, "gap"), (nested, "predictions")):
        for method in METHODS:
            with pytest.raises(UserError) as err:
                compute_cam(m, img, method, layer=layer)
            assert ("no spatial output" in str(err.value) or
                    (method == "cam" and "global average pooling" in str(err.value)))


def test_binary_sigmoid_classes_follow_the_maths(seq, images_dir):
    m = seq
    img = load_image(images_dir / "photo.png" if (images_dir / "photo.png").exists() else images_dir / "plain.png")
    p = float(m.keras_model.predict(m.prepare(img), verbose=0)[0, 0])
    logit = np.log(p / (1 - p))
    one = compute_cam(m, img, "gradcam", layer="conv2d_2", class_index=1)
    zero = compute_cam(m, img, "gradcam", layer="conv2d_2", class_index=0)
    assert one.score == pytest.approx(logit, rel=1e-4, abs=1e-5)
    assert zero.score == -one.score
    np.testing.assert_array_equal(zero.raw, -one.raw)  # the class-0 score is the negated logit
    assert np.abs(one.raw).max() > 0 and not np.allclose(zero.heatmap, one.heatmap)
    np.testing.assert_allclose(zero.heatmap, _norm(np.maximum(-one.raw, 0)), atol=1e-6)
    assert (zero.label, one.label) == ("0", "1")
    default = compute_cam(m, img, "gradcam", layer="conv2d_2")
    assert default.class_index == (1 if p >= 0.5 else 0)
    # Score-CAM: class 0 is weighted by 1 - p of each masked input, class 1 by p
    s1 = compute_cam(m, img, "scorecam", layer="conv2d_2", class_index=1)
    s0 = compute_cam(m, img, "scorecam", layer="conv2d_2", class_index=0)
    np.testing.assert_allclose(s0.weights + s1.weights, 1.0, atol=1e-5)
    assert np.ptp(s1.weights) > 0  # not all equal (tf-keras-vis #78)
    # HiResCAM is linear in the score too; LayerCAM keeps only positive gradients
    h1 = compute_cam(m, img, "hirescam", layer="conv2d_2", class_index=1)
    h0 = compute_cam(m, img, "hirescam", layer="conv2d_2", class_index=0)
    np.testing.assert_array_equal(h0.raw, -h1.raw)
    l1 = compute_cam(m, img, "layercam", layer="conv2d_2", class_index=1)
    l0 = compute_cam(m, img, "layercam", layer="conv2d_2", class_index=0)
    np.testing.assert_allclose(l1.raw - l0.raw, h1.raw, rtol=1e-4, atol=1e-6 * np.abs(h1.raw).max())


def _norm(r):
    span = r.max() - r.min()
    return (r - r.min()) / span if span > 0 else np.zeros_like(r)
