"""The one method registry (engine.cam.registry): every spelling reaches its method, an
entry is all a new method needs, options and signed maps behave as documented."""
import numpy as np
import pytest

from convscope.engine import UserError, from_array
from convscope.engine.cam import compute_cam, registry
from convscope.engine.cam import compute as cam_compute
from convscope.engine.cam.weights import weighted_sum
from convscope.engine.demo_shapes import make_batch


@pytest.fixture()
def scratch_registry(monkeypatch):
    """Methods registered inside a test vanish after it."""
    monkeypatch.setattr(registry, "_METHODS", dict(registry._METHODS))
    monkeypatch.setattr(registry, "_KEYS", dict(registry._KEYS))


@pytest.fixture(scope="module")
def demo_imgs():
    images, labels, _ = make_batch(2, 7401)
    return [from_array(a, name=f"s{i}") for i, a in enumerate(images)], [int(c) for c in labels]


def test_every_name_title_and_alias_reaches_its_method():
    for name in registry.names():
        m = registry.get(name)
        for spelling in (name, m.title, name.upper(), m.title.replace("-", " "), *m.aliases):
            assert registry.get(spelling).name == name, spelling
            assert registry.find(spelling) == name
    assert registry.get("Grad-CAM++").name == registry.get("gradcampp").name == "gradcam++"
    assert registry.find("gradcam", among=("cam", "eigencam")) is None
    with pytest.raises(UserError, match="unknown CAM method 'nope'; choose one of cam, gradcam"):
        registry.get("nope")


def test_registering_a_clash_is_refused(scratch_registry):
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(registry.Method("gradcam", "X", "x", needs="gradients", weights=len))
    with pytest.raises(ValueError, match="spellings already taken"):
        registry.register(registry.Method("newcam", "Grad CAM", "x", needs="gradients", weights=len))
    with pytest.raises(ValueError, match="takes weights="):
        registry.Method("w", "W", "w", needs="gradients")
    with pytest.raises(ValueError, match="takes compute="):
        registry.Method("c", "C", "c", needs="compute", weights=len)


def test_a_new_gradient_method_is_one_entry(scratch_registry, demo_model, demo_imgs):
    """A channel weighting by mean gradient x peak activation: one register() call."""
    def gradmax(A, g):
        w = g.mean(axis=(1, 2)) * A.max(axis=(1, 2))
        return weighted_sum(A, w), w

    registry.register(registry.Method("gradmax", "Grad-Max", "mean gradient x peak activation",
                                      needs="gradients", weights=gradmax))
    imgs, labels = demo_imgs
    out = compute_cam(demo_model, imgs, "Grad-Max", class_index=labels)
    layer = demo_model.default_cam_layer
    unit = np.array(labels, np.int32)
    A, _, g, *_ = cam_compute.gradients(demo_model, imgs, layer, unit, np.ones(2, np.float32))
    A64, g64 = A.astype(np.float64), g.astype(np.float64)
    for i, r in enumerate(out):
        w = g64[i].mean(axis=(0, 1)) * A64[i].max(axis=(0, 1))  # numpy on the recorded A, g
        assert r.method == "gradmax" and r.layer == layer and r.class_index == labels[i]
        np.testing.assert_allclose(r.weights, w, rtol=1e-5, atol=1e-8)
        np.testing.assert_allclose(r.raw, (A64[i] * w).sum(-1), rtol=1e-4, atol=1e-6)
        assert r.heatmap.max() == 1.0 and r.heatmap.min() == 0.0


def test_a_compute_method_gets_its_options_and_a_signed_map_keeps_its_sign(scratch_registry,
                                                                           demo_model, demo_imgs):
    seen = {}

    def signed_ramp(ctx):
        seen.update(ctx.options, layer=ctx.layer, n=len(ctx.images))
        n = len(ctx.images)
        raw = np.tile(np.linspace(-2.0, 1.0, 16, dtype=np.float32).reshape(4, 4), (n, 1, 1))
        raw *= ctx.options["gain"]
        return registry.Maps(raw, None, np.zeros(n, np.int32), ctx.sign, np.zeros(n, np.float32))

    registry.register(registry.Method("ramp", "Ramp", "a signed test map", needs="compute",
                                      compute=signed_ramp, kind="pixel", signed=True,
                                      layer="none", options={"gain": 3.0, "seed": 0}))
    imgs, _ = demo_imgs
    r = compute_cam(demo_model, imgs, "ramp", gain=0.5, max_n=4)  # max_n: another method's, ignored
    assert seen == {"gain": 0.5, "seed": 0, "layer": None, "n": 2}
    ramp = np.linspace(-2.0, 1.0, 16).reshape(4, 4)
    np.testing.assert_allclose(r[0].heatmap, ramp / 2.0, atol=1e-6)  # / the largest magnitude
    assert r[0].heatmap.min() == -1.0 and r[0].layer is None
    with pytest.raises(UserError, match="unknown option"):
        compute_cam(demo_model, imgs[0], "ramp", no_such_option=3)


def test_compute_given_as_a_module_path_is_imported_when_run():
    m = registry.Method("late", "Late", "x", needs="compute", compute="convscope.engine.cam.weights:gradcam")
    from convscope.engine.cam.weights import gradcam

    assert m.resolve_compute() is gradcam


def test_faster_scorecam_default_comes_from_the_registry(demo_model, demo_imgs):
    imgs, labels = demo_imgs
    r = compute_cam(demo_model, imgs[0], "faster-scorecam", class_index=labels[0])
    n = registry.get("faster-scorecam").options["max_n"]
    assert np.count_nonzero(r.weights) == n < r.weights.size
