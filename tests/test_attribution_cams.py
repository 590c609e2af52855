"""Ablation-CAM and the CAM smoothing options (issue 10), against independent loops and
numpy linear algebra; the `cam` command line with the new methods and flags."""
import json
import numpy as np
import pytest

from convscope.engine.cli import main as cli
from convscope.engine import from_array, load_image, open_model
from convscope.engine.attribution import smoothing
from convscope.engine.cam import compute as cam_compute
from convscope.engine.cam.result import normalise

STAR = "convscope/resources/samples/demo_star.png"


@pytest.fixture(scope="module")
def demo():
    return open_model("demo")


@pytest.fixture(scope="module")
def star():
    return load_image(STAR)


def test_ablation_cam_weights_equal_a_loop_that_zeroes_each_channel(demo, star):
    r = demo.cam(star, method="ablation-cam", chunk_size=48)  # 128 channels: 3 batches
    A, _ = cam_compute.activations(demo, [star], r.layer)
    A = A[0]  # conv5 (12, 12, 128) feeds GAP -> Dense(softmax): the head by hand
    W, b = demo.keras_model.get_layer("predictions").get_weights()
    c = r.class_index
    y = A.mean(axis=(0, 1)) @ W[:, c] + b[c]
    weights = np.empty(A.shape[-1])
    for k in range(A.shape[-1]):
        Ak = A.copy()
        Ak[..., k] = 0.0
        yk = Ak.mean(axis=(0, 1)) @ W[:, c] + b[c]
        weights[k] = (y - yk) / y  # Desai & Ramaswamy: fraction of the score lost
    np.testing.assert_allclose(r.weights, weights, rtol=2e-4, atol=1e-6)
    np.testing.assert_allclose(r.raw, np.einsum("hwk,k->hw", A, weights), rtol=1e-3, atol=1e-4)
    assert r.kind == "cam" and r.score == pytest.approx(y, rel=1e-5)


def test_ablation_cam_on_a_nested_layer(nested_path, images_dir):
    m = open_model(nested_path)
    img = load_image(images_dir / "plain.png")
    layer = "mobilenetv2_0.35_64/block_16_project"  # a head with more than a Dense above
    r = m.cam(img, method="ablation-cam", layer=layer, class_index=1)
    A, _ = cam_compute.activations(m, [img], layer)
    import tensorflow as tf
    from convscope.engine.hooks import Intercept, first_output

    x = cam_compute.prepared(m, [img])
    k = A.shape[-1]
    picks = [0, 5, k - 1]
    ys = []
    for ch in [None] + picks:  # the head re-run by Keras itself, one channel at a time
        Ak = A.copy()
        if ch is not None:
            Ak[..., ch] = 0.0
        with Intercept(m.keras_model, logits=True, replace={layer: tf.constant(Ak)}):
            ys.append(float(first_output(m.keras_model(x, training=False))[0, 1]))
    ref = [(ys[0] - yk) / ys[0] for yk in ys[1:]]
    np.testing.assert_allclose(r.weights[picks], ref, rtol=1e-3, atol=1e-6)


def test_eigen_smooth_equals_a_numpy_principal_component(demo, star):
    r = demo.cam(star, method="gradcam", eigen_smooth=True)
    A, _, g, *_ = cam_compute.gradients(demo, [star], r.layer, np.array([r.class_index], np.int32),
                                        np.ones(1, np.float32))
    w = g[0].mean(axis=(0, 1))
    Wt = (A[0] * w).reshape(-1, A.shape[-1]).astype(np.float64)  # weighted activations
    Xc = Wt - Wt.mean(axis=0)
    vals, vecs = np.linalg.eigh(Xc.T @ Xc)  # first principal axis, by another route
    proj = (Xc @ vecs[:, -1]).reshape(A.shape[1:3])
    plain = Wt.sum(axis=1).reshape(A.shape[1:3])
    if np.corrcoef(proj.ravel(), plain.ravel())[0, 1] < 0:
        proj = -proj
    np.testing.assert_allclose(r.raw, proj, rtol=1e-3, atol=1e-4 * np.abs(proj).max())
    assert not np.allclose(normalise(plain), r.heatmap, atol=1e-3)  # it did change the map


def test_eigen_smooth_on_layercam_uses_positionwise_weights(demo, star):
    r = demo.cam(star, method="layercam", eigen_smooth=True)
    A, _, g, *_ = cam_compute.gradients(demo, [star], r.layer, np.array([r.class_index], np.int32),
                                        np.ones(1, np.float32))
    ref = smoothing.eigen_project(A * np.maximum(g, 0.0))[0]
    np.testing.assert_allclose(r.raw, ref, rtol=1e-5, atol=1e-6)


def test_aug_smooth_is_the_mean_of_deaugmented_maps(demo, star):
    r = demo.cam(star, method="gradcam", aug_smooth=True)
    plain = demo.cam(star, method="gradcam")
    maps = []
    for flip, zoom in smoothing.augmentations():
        copy = from_array(smoothing.augment(star.pixels, flip, zoom))
        h = demo.cam(copy, method="gradcam", class_index=plain.class_index).heatmap
        maps.append(smoothing.deaugment(h, flip, zoom))
    np.testing.assert_allclose(r.heatmap, normalise(np.mean(maps, axis=0)), atol=1e-5)
    assert r.class_index == plain.class_index and r.info["aug_smooth"]
    assert not np.allclose(r.heatmap, plain.heatmap, atol=1e-3)


def test_flip_deaugmentation_is_exact():
    rng = np.random.default_rng(0)
    img = (rng.random((20, 30, 3)) * 255).astype(np.uint8)
    flipped = smoothing.augment(img, True, 1.0)
    assert np.array_equal(flipped[:, ::-1], img)
    heat = rng.random((5, 7)).astype(np.float32)
    assert np.array_equal(smoothing.deaugment(heat[:, ::-1], True, 1.0), heat)
    # zoom then un-zoom leaves the centre where it was
    blob = np.zeros((41, 41), np.float32)
    blob[18:23, 26:31] = 1.0
    z = smoothing.augment(blob[..., None].repeat(3, 2), False, 1.1)[..., 0]
    back = smoothing.deaugment(z, False, 1.1)
    yy, xx = np.mgrid[0:41, 0:41]
    centre = [(back * yy).sum() / back.sum(), (back * xx).sum() / back.sum()]
    np.testing.assert_allclose(centre, [20.0, 28.0], atol=0.3)
    zc = [(z * yy).sum() / z.sum(), (z * xx).sum() / z.sum()]  # the zoom moved it out
    np.testing.assert_allclose(zc, [20 + 0.1 * 0, 20 + 1.1 * 8], atol=0.3)


# -- command line ----------------------------------------------------------------------------
class _Run:
    def __init__(self, capsys, argv):
        self.returncode = cli(list(argv))
        self.stdout, self.stderr = capsys.readouterr()


def test_cli_pixel_method_npy_at_input_resolution(tmp_path, capsys):
    out, npy, occ = tmp_path / "o.png", tmp_path / "ig.npy", tmp_path / "occ.npy"
    r = _Run(capsys, ["cam", "--model", "demo", "--image", STAR, "--method", "ig", "--steps", "16",
             "--baseline", "blurred", "--out", str(out), "--npy", str(npy), "--json"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["method"] == "integrated-gradients" and doc["signed"] and doc["steps"] == 16
    assert 0 <= doc["completeness_error"] < 1
    heat = np.load(npy)
    assert heat.shape == (96, 96) and heat.min() < 0 < heat.max() and np.abs(heat).max() == 1
    r = _Run(capsys, ["cam", "--model", "demo", "--image", STAR, "--method", "occlusion", "--patch", "32",
             "--stride", "16", "--out", str(out), "--npy", str(occ)])
    assert r.returncode == 0, r.stderr
    assert np.load(occ).shape == (5, 5) and "grid of patch positions" in r.stdout


@pytest.mark.parametrize("args,text", [
    (["--method", "occlusion", "--patch", "500"], "larger than the model's input"),
    (["--method", "smoothgrad", "--samples", "0"], "--samples must be"),
    (["--method", "saliency", "--aug-smooth"], "only for class activation maps"),
])
def test_cli_bad_attribution_options_one_line(tmp_path, capsys, args, text):
    out = tmp_path / "o.png"
    r = _Run(capsys, ["cam", "--model", "demo", "--image", STAR, "--out", str(out), *args])
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], r.stderr
    assert not out.exists()


def test_pixel_attributions_are_not_offered_on_video():
    from convscope.engine import UserError
    from convscope.engine.video.explain import check_live_method, live_note, live_ok

    assert live_ok("gradcam") and live_ok("guided-gradcam") is False and not live_ok("ablation-cam")
    # what the Live view's method menu says next to each refused method
    assert (live_note("gradcam"), live_note("saliency"), live_note("scorecam")) == (
        "", "pixel map, not on video", "too slow live")
    with pytest.raises(UserError, match="pixel attribution"):
        check_live_method("saliency")
