"""Targets (issue 21) through the perturbation methods: occlusion, Score-CAM, saliency,
every registered method and each target's bounded confidence all use the target's own
scalar. The definitions and the gradient maps: tests/test_targets.py (whose fixtures build
the small models from engine.demo_targets)."""
import numpy as np
import pytest

from test_targets import models, tm  # noqa: F401 (fixtures)
from test_targets import _region_score, _tf, _unet_dec1, _unet_logits, _x


# -- perturbation methods: the same scalar ------------------------------------------------
def _occluded(xpix, r, c, patch, fill=128.0):
    out = xpix.copy()
    out[:, r:r + patch, c:c + patch] = fill
    return out


def test_occlusion_drops_use_the_region_scalar(models, tm):
    m = models["unet"]
    box, c, patch = (10, 12, 50, 44), 3, 16
    r = m.cam(tm["shape_0"], method="occlusion", patch=patch, stride=16,
              target="region:10,12,50,44:3")
    xpix = m.pixels([tm["shape_0"]])

    def S(px):  # Seg-Grad-CAM's scalar on the model's pre-softmax output
        z = _unet_logits(m.keras_model, _unet_dec1(m.keras_model, px))  # Rescaling inside
        return float(_region_score(z, box, c))

    s0 = S(xpix)
    assert r.score == pytest.approx(s0, rel=1e-4)
    for i, j in ((0, 0), (1, 2), (3, 3)):
        want = s0 - S(_occluded(xpix, 16 * i, 16 * j, patch))
        assert r.raw[i, j] == pytest.approx(want, rel=1e-3, abs=1e-3 * abs(s0))


def test_occlusion_drops_use_the_value_scalar(models, tm):
    m = models["regressor"]
    r = m.cam(tm["shape_0"], method="occlusion", patch=16, stride=16, target="value-")
    xpix = m.pixels([tm["shape_0"]])

    def S(px):
        return -float(m.keras_model.predict(px, verbose=0)[0, 0])

    s0 = S(xpix)
    assert r.score == pytest.approx(s0, rel=1e-4)
    for i, j in ((0, 1), (2, 2)):
        assert r.raw[i, j] == pytest.approx(s0 - S(_occluded(xpix, 16 * i, 16 * j, 16)),
                                            rel=1e-3, abs=1e-5)


@pytest.mark.parametrize("method", ["saliency", "integrated-gradients", "scorecam",
                                    "gradcam++", "layercam", "ablation-cam", "rise",
                                    "smoothgrad", "guided-backprop", "guided-gradcam",
                                    "faster-scorecam", "xgradcam", "hirescam"])
def test_every_method_explains_the_target(models, tm, method):
    m = models["unet"]
    opts = {"rise": {"masks": 40}, "integrated-gradients": {"steps": 16},
            "smoothgrad": {"samples": 4}}.get(method, {})
    r = m.cam(tm["shape_0"], method=method, target="region:10,12,50,44:3", **opts)
    ref = m.cam(tm["shape_0"], target="region:10,12,50,44:3")
    assert r.target == "region:10,12,50,44:3" and r.score == pytest.approx(ref.score, rel=1e-4)
    assert np.isfinite(r.heatmap).all() and np.any(r.heatmap)
    if method == "guided-gradcam":  # its Grad-CAM factor is the target's Grad-CAM
        np.testing.assert_allclose(r.info["gradcam"], ref.heatmap, atol=1e-5)
    if method in ("scorecam", "rise"):  # says which confidence it used
        assert r.info["confidence"].startswith("the mean softmax probability")
    if method == "integrated-gradients":  # completeness on the target's scalar
        assert r.info["completeness_error"] < 0.05


def _unit_score(km, px, ch):
    import keras

    return float(np.mean(keras.Model(km.inputs, km.get_layer("conv2").output)(px).numpy()[0, ..., ch]))


def _similar_score(km, px, ref):
    e = km.predict(px, verbose=0)[0]
    return float(e @ ref / (np.linalg.norm(e) * np.linalg.norm(ref)))


@pytest.mark.parametrize("kind", ["output", "unit", "similar"])
def test_occlusion_drops_use_each_targets_scalar(models, tm, kind):
    if kind == "output":
        m = models["two_head"]
        spec = "output:size"

        def S(px):
            return float(m.keras_model.predict(px, verbose=0)[1][0, 0])
    elif kind == "unit":
        m = models["embedding"]
        spec = "unit:conv2:1"

        def S(px):
            return _unit_score(m.keras_model, px, 1)
    else:
        m = models["embedding"]
        ref = m.keras_model.predict(_x(m, tm["shape_1"]), verbose=0)[0]
        spec = f"similar:{tm['shape_1']}"

        def S(px):
            return _similar_score(m.keras_model, px, ref)
    r = m.cam(tm["shape_0"], method="occlusion", patch=16, stride=16, target=spec)
    xpix = m.pixels([tm["shape_0"]])
    s0 = S(xpix)
    assert abs(s0) > 1e-3 and np.any(np.abs(r.raw) > 1e-4)  # a live scalar, drops that move
    assert r.score == pytest.approx(s0, rel=1e-4, abs=1e-6)
    for i, j in ((0, 1), (2, 2), (3, 0)):
        assert r.raw[i, j] == pytest.approx(s0 - S(_occluded(xpix, 16 * i, 16 * j, 16)),
                                            rel=1e-3, abs=1e-5)


def test_scorecam_weights_are_the_regions_masked_confidence(models, tm):
    """Score-CAM's weight of channel k: the target's confidence (mean softmax probability
    of C over the region) of the input times A_k, min-max normalised (dec1 is 64 x 64,
    the input's size: no upsampling)."""
    m = models["unet"]
    r = m.cam(tm["shape_0"], method="faster-scorecam", max_n=3, layer="dec1",
              target="region:10,12,50,44:3")
    assert r.info["confidence"].startswith("the mean softmax")
    x = _x(m, tm["shape_0"])
    A = _unet_dec1(m.keras_model, x).numpy()[0]
    used = np.nonzero(r.weights)[0]
    assert len(used) == 3
    for k in used:
        a = A[..., k]
        mask = (a - a.min()) / (a.max() - a.min())
        p = m.keras_model.predict(x * mask[None, :, :, None], verbose=0)[0]
        assert r.weights[k] == pytest.approx(float(p[12:44, 10:50, 3].mean()), rel=1e-4)


def test_saliency_is_the_region_gradient(models, tm):
    tf = _tf()
    m = models["unet"]
    r = m.cam(tm["shape_0"], method="saliency", target="region:10,12,50,44:3")
    xpix = tf.constant(m.pixels([tm["shape_0"]]))
    with tf.GradientTape() as tape:
        tape.watch(xpix)
        s = _region_score(_unet_logits(m.keras_model, _unet_dec1(m.keras_model, xpix)),
                          (10, 12, 50, 44), 3)
    g = tape.gradient(s, xpix).numpy()[0]
    np.testing.assert_allclose(r.raw, np.abs(g).max(-1), rtol=1e-3, atol=1e-6 * np.abs(g).max())


def test_confidence_of_a_region_is_its_mean_softmax(models, tm):
    """Score-CAM and the faithfulness curves: the target's own bounded confidence."""
    from convscope.engine.cam import faithfulness

    m = models["unet"]
    heat = np.ones((64, 64), np.float32)
    _, conf = faithfulness.curves(m, [tm["shape_0"]], [heat], mode="deletion", steps=4,
                                  target="region:10,12,50,44:3")
    p = m.keras_model.predict(_x(m, tm["shape_0"]), verbose=0)[0]  # the model's softmax
    assert conf[0, 0] == pytest.approx(float(p[12:44, 10:50, 3].mean()), rel=1e-4)
    assert 0.0 <= conf.min() and conf.max() <= 1.0
