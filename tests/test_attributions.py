"""Pixel attributions checked against independent re-computations (issue 10):
a separate GradientTape, brute-force loops, numpy re-implementations of the papers'
recipes, and a two-layer net whose guided gradient is worked out by hand."""
import cv2
import numpy as np
import pytest

from convscope.engine import CancelToken, Cancelled, UserError, from_array, load_image, open_model
from convscope.engine.attribution import graphs
from convscope.engine.attribution import rise as rise_mod
from convscope.engine.attribution.guided import GuidedRelu

STAR = "convscope/resources/samples/demo_star.png"


def _keras():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras


@pytest.fixture(scope="module")
def demo():
    return open_model("demo")


@pytest.fixture(scope="module")
def star():
    return load_image(STAR)


def _demo_logits_fn(demo):
    """An independent path to the demo's logits: the GAP features from a Keras sub-model,
    then the Dense kernel by hand (no Intercept, no softmax stripping)."""
    keras = _keras()
    km = demo.keras_model
    feats = keras.Model(km.inputs, km.get_layer("gap").output)
    W, b = km.get_layer("predictions").get_weights()

    def logits(xpix):
        import tensorflow as tf

        return tf.matmul(feats(xpix / 255.0, training=False), W) + b

    return logits


def _tape_gradient(logits_fn, xpix, c):
    import tensorflow as tf

    x = tf.constant(xpix, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        s = tf.reduce_sum(logits_fn(x)[:, c])
    return tape.gradient(s, x).numpy()


# -- saliency and SmoothGrad ---------------------------------------------------------------
def test_saliency_is_abs_gradient_from_a_separate_tape(demo, star):
    r = demo.cam(star, method="saliency")
    xpix = demo.pixels([star])
    g = _tape_gradient(_demo_logits_fn(demo), xpix, r.class_index)[0]
    ref = np.abs(g).max(axis=-1)  # Simonyan et al.: max over channels of |w|
    assert r.kind == "pixel" and r.heatmap.shape == xpix.shape[1:3]
    np.testing.assert_allclose(r.raw, ref, rtol=1e-4, atol=1e-7 * ref.max())
    assert r.heatmap.min() == 0.0 and r.heatmap.max() == pytest.approx(1.0)
    assert r.class_index == int(np.argmax(demo.scores(star)[0]))


def test_smoothgrad_sigma_zero_is_saliency(demo, star):
    sal = demo.cam(star, method="saliency")
    sg = demo.cam(star, method="smoothgrad", samples=3, sigma=0.0)
    np.testing.assert_allclose(sg.raw, sal.raw, rtol=1e-5, atol=1e-9)


def test_smoothgrad_equals_mean_of_noisy_saliency_and_ignores_batching(demo, star):
    n, sigma, seed = 5, 0.2, 7
    a = demo.cam(star, method="smoothgrad", samples=n, sigma=sigma, seed=seed, chunk_size=2)
    b = demo.cam(star, method="smoothgrad", samples=n, sigma=sigma, seed=seed, chunk_size=5)
    np.testing.assert_allclose(a.raw, b.raw, rtol=1e-5, atol=1e-9)
    xpix = demo.pixels([star])[0]
    sd = sigma * (xpix.max() - xpix.min())
    noise = np.random.default_rng(seed).standard_normal((n,) + xpix.shape, dtype=np.float32)
    g = _tape_gradient(_demo_logits_fn(demo), xpix[None] + noise * np.float32(sd), a.class_index)
    ref = np.abs(g).max(axis=-1).mean(axis=0)
    np.testing.assert_allclose(a.raw, ref, rtol=2e-4, atol=1e-6 * ref.max())
    c = demo.cam(star, method="smoothgrad", samples=n, sigma=sigma, seed=seed + 1)
    assert not np.allclose(c.raw, a.raw)  # the seed matters


# -- Integrated Gradients ----------------------------------------------------------------
def test_integrated_gradients_completeness_at_256_steps(demo, star):
    r = demo.cam(star, method="integrated-gradients", steps=256)
    info = r.info
    assert info["completeness_error"] < 0.01
    scores = _demo_logits_fn(demo)(np.stack([np.zeros_like(demo.pixels([star])[0]),
                                             demo.pixels([star])[0]])).numpy()[:, r.class_index]
    np.testing.assert_allclose([info["score_baseline"], info["score_image"]], scores, rtol=1e-4)
    assert info["attribution_sum"] == pytest.approx(scores[1] - scores[0], rel=0.01)
    assert r.signed and r.heatmap.min() < 0 < r.heatmap.max()
    assert np.abs(r.heatmap).max() == pytest.approx(1.0)
    np.testing.assert_allclose(r.raw, info["attributions"].sum(axis=-1), rtol=1e-5, atol=1e-6)


def test_integrated_gradients_is_the_trapezoid_rule(demo, star):
    """m = 2: IG = (x - x') * (g(x')/4 + g((x + x')/2)/2 + g(x)/4), gradients by a tape."""
    r = demo.cam(star, method="ig", steps=2, baseline="blurred")
    x = demo.pixels([star])[0]
    x0 = cv2.GaussianBlur(x, (0, 0), sigmaX=max(x.shape[:2]) / 10.0,
                          borderType=cv2.BORDER_REFLECT)
    g = _tape_gradient(_demo_logits_fn(demo), np.stack([x0, (x + x0) / 2, x]), r.class_index)
    ref = ((x - x0) * (g[0] / 4 + g[1] / 2 + g[2] / 4)).sum(axis=-1)
    np.testing.assert_allclose(r.raw, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


# -- guided backprop -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_layer(tmp_path_factory):
    """x (2x2x3) -> Dense(4, relu) -> Dense(2): the guided gradient by hand; a twin with
    the ReLU as its own layer inside a nested Sequential."""
    keras = _keras()
    L = keras.layers
    rng = np.random.default_rng(3)
    W1 = rng.normal(size=(12, 4)).astype(np.float32)
    b1 = np.array([0.5, -0.5, 0.2, -0.1], np.float32)
    W2 = np.array([[1.0, -1.0], [-2.0, 0.5], [0.7, 0.3], [-0.4, 1.2]], np.float32)
    b2 = np.zeros(2, np.float32)
    inp = keras.Input((2, 2, 3))
    a = keras.Model(inp, L.Dense(2, name="out")(L.Dense(4, activation="relu", name="hidden")(
        L.Flatten()(inp))), name="dense_relu")
    a.get_layer("hidden").set_weights([W1, b1])
    a.get_layer("out").set_weights([W2, b2])
    inner = keras.Sequential([keras.Input((12,)), L.Dense(4, name="hidden"), L.ReLU(name="relu")],
                             name="inner")
    inp2 = keras.Input((2, 2, 3))
    b = keras.Model(inp2, L.Dense(2, name="out")(inner(L.Flatten()(inp2))), name="relu_layer")
    inner.get_layer("hidden").set_weights([W1, b1])
    b.get_layer("out").set_weights([W2, b2])
    d = tmp_path_factory.mktemp("guided")
    a.save(d / "a.keras")
    b.save(d / "b.keras")
    return {"paths": (str(d / "a.keras"), str(d / "b.keras")), "W1": W1, "b1": b1, "W2": W2}


@pytest.mark.parametrize("which", [0, 1])
def test_guided_backprop_by_hand_on_a_two_layer_net(two_layer, which):
    m = open_model(two_layer["paths"][which], preprocess="none")
    pix = np.array([[[200, 10, 90], [30, 250, 120]], [[5, 60, 180], [140, 220, 0]]], np.uint8)
    img = from_array(pix)
    W1, b1, W2 = two_layer["W1"], two_layer["b1"], two_layer["W2"]
    h = pix.astype(np.float32).reshape(-1) @ W1 + b1  # the ReLU's forward input
    # the net is chosen so that each rule matters: a unit with a positive input but a
    # negative upstream gradient, and one with a negative input
    assert ((h > 0) & (W2[:, 0] < 0)).any() and (h < 0).any()
    for c in (0, 1):
        up = W2[:, c]  # upstream gradient at the ReLU's output
        guided_h = up * (h > 0) * (up > 0)  # Springenberg et al.: both must be positive
        plain_h = up * (h > 0)
        r = m.cam(img, method="guided-backprop", class_index=c)
        np.testing.assert_allclose(r.info["gradient"].reshape(-1), W1 @ guided_h, rtol=1e-5, atol=1e-5)
        plain = m.cam(img, method="saliency", class_index=c).info["gradient"].reshape(-1)
        np.testing.assert_allclose(plain, W1 @ plain_h, rtol=1e-5, atol=1e-5)


def test_guided_patches_nested_relus_and_leave_nothing_behind(nested_path):
    m = open_model(nested_path)
    before = {p: dict(layer.__dict__) for p, layer in m.layer_index.items()}
    with GuidedRelu(m.keras_model, m.layer_index) as g:
        assert any(p.startswith("mobilenetv2") and "/" in p for p in g.patched)
        assert "head_block/inner_block/squeeze" in g.patched  # Conv2D(activation="relu")
        assert "head_block/mid_relu" in g.patched  # a ReLU layer, two models deep
    after = {p: dict(layer.__dict__) for p, layer in m.layer_index.items()}
    for p in before:
        assert before[p].keys() == after[p].keys(), p
        assert before[p].get("call") is after[p].get("call")
        assert before[p].get("activation") is after[p].get("activation")


def test_gradcam_unchanged_after_guided_methods(demo, star):
    from convscope.engine.cam import compute as cam_compute

    def fresh(method):  # drop every compiled function and cache: a new trace
        cam_compute._states.pop(demo, None)
        graphs._states.pop(demo, None)
        return demo.cam(star, method=method)

    gc0, sal0 = fresh("gradcam"), fresh("saliency")
    demo.cam(star, method="guided-backprop")
    demo.cam(star, method="guided-gradcam")
    assert np.array_equal(demo.cam(star, method="gradcam").raw, gc0.raw)  # cached functions
    gc1, sal1 = fresh("gradcam"), fresh("saliency")
    assert np.array_equal(gc1.raw, gc0.raw) and np.array_equal(gc1.weights, gc0.weights)
    assert np.array_equal(sal1.raw, sal0.raw)


def test_guided_gradcam_is_guided_backprop_times_upsampled_gradcam(demo, star):
    import tensorflow as tf

    gb = demo.cam(star, method="guided-backprop").info["gradient"]
    gc = demo.cam(star, method="gradcam")
    ggc = demo.cam(star, method="guided-gradcam")
    # the paper's map: ReLU(sum_k alpha_k A^k) from the raw Grad-CAM, not its [0, 1] copy
    relu = np.maximum(gc.raw, 0.0).astype(np.float32)
    assert relu.max() > 1.5 or relu.max() < 0.5, "a max near 1 would not tell the two apart"
    up = tf.image.resize(relu[None, :, :, None], gb.shape[:2], method="bilinear").numpy()[0]
    ref = gb * up
    np.testing.assert_allclose(ggc.info["gradient"], ref, rtol=1e-4, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(ggc.raw, np.abs(ref).max(axis=-1), rtol=1e-4,
                               atol=1e-6 * np.abs(ref).max())
    assert ggc.layer == gc.layer
    # guided differs from the plain gradient (the override really acted)
    sal = demo.cam(star, method="saliency").info["gradient"]
    assert not np.allclose(sal, gb)


# -- occlusion and RISE ----------------------------------------------------------------------
def test_occlusion_equals_a_brute_force_loop(demo, star):
    patch, stride, fill = 24, 24, 50.0
    r = demo.cam(star, method="occlusion", patch=patch, stride=stride, fill=fill, chunk_size=5)
    x = demo.pixels([star])
    logits = _demo_logits_fn(demo)
    base = logits(x).numpy()[0, r.class_index]
    n = (x.shape[1] - patch) // stride + 1
    ref = np.zeros((n, n), np.float32)
    for i in range(n):
        for j in range(n):
            y = x.copy()
            y[0, i * stride:i * stride + patch, j * stride:j * stride + patch] = fill
            ref[i, j] = base - logits(y).numpy()[0, r.class_index]
    assert r.heatmap.shape == (n, n) and r.signed
    np.testing.assert_allclose(r.raw, ref, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(r.heatmap, ref / np.abs(ref).max(), atol=1e-4)
    # display: the mean drop of the patches covering each pixel (no overlap here: blocks)
    np.testing.assert_allclose(r.display[:patch, :patch], r.heatmap[0, 0], atol=1e-6)


def test_occlusion_covers_every_pixel_with_captums_clipped_last_window(demo, star):
    """(96 - 20) = 76 is not a multiple of 12: Captum (captum/attr/_core/occlusion.py)
    takes ceil((n - p) / s) + 1 = 8 windows per axis, window k from k*s, the last one
    (from 84) clipped at the edge by its negative padding; its attribution of a pixel is
    the mean drop of the windows covering it. Recomputed here window by window."""
    patch, stride, fill = 20, 12, 50.0
    r = demo.cam(star, method="occlusion", patch=patch, stride=stride, fill=fill, chunk_size=7)
    x = demo.pixels([star])
    H, W = x.shape[1:3]
    assert (H - patch) % stride and (W - patch) % stride
    logits = _demo_logits_fn(demo)
    base = logits(x).numpy()[0, r.class_index]
    nr, nc = -(-(H - patch) // stride) + 1, -(-(W - patch) // stride) + 1
    ref = np.zeros((nr, nc), np.float64)
    acc, cnt = np.zeros((H, W)), np.zeros((H, W))
    for i in range(nr):
        for j in range(nc):
            r0, c0 = i * stride, j * stride
            y = x.copy()
            y[0, r0:min(r0 + patch, H), c0:min(c0 + patch, W)] = fill  # clipped at the edge
            ref[i, j] = base - logits(y).numpy()[0, r.class_index]
            acc[r0:r0 + patch, c0:c0 + patch] += ref[i, j]
            cnt[r0:r0 + patch, c0:c0 + patch] += 1
    assert cnt.min() >= 1  # every pixel is covered (the old grid left a 4-px band bare)
    assert r.heatmap.shape == (nr, nc) == (8, 8)
    np.testing.assert_allclose(r.raw, ref, rtol=1e-4, atol=1e-4)
    # the display is Captum's per-pixel attribution, scaled as the heatmap
    np.testing.assert_allclose(r.display, acc / cnt / np.abs(ref).max(), atol=1e-4)
    assert np.abs(r.display[-4:, :]).max() > 0 and np.abs(r.display[:, -4:]).max() > 0


def test_rise_equals_a_numpy_recomputation(demo, star):
    n, seed = 20, 11
    r = demo.cam(star, method="rise", masks=n, seed=seed, chunk_size=7)
    r2 = demo.cam(star, method="rise", masks=n, seed=seed, chunk_size=20)
    np.testing.assert_allclose(r2.raw, r.raw, rtol=1e-5, atol=1e-7)  # batching changes nothing
    x = demo.pixels([star])[0]
    H, W = x.shape[:2]
    s, p = rise_mod.CELLS, rise_mod.P_KEEP
    cell = int(np.ceil(max(H, W) / s))
    rng = np.random.default_rng(seed)
    grids = (rng.random((n, s, s)) < p).astype(np.float32)  # every grid, then every shift
    shifts = rng.integers(0, cell, size=(n, 2))
    masks = []
    for g, (dy, dx) in zip(grids, shifts):
        big = cv2.resize(g, ((s + 1) * cell, (s + 1) * cell), interpolation=cv2.INTER_LINEAR)
        masks.append(big[dy:dy + H, dx:dx + W])
    masks = np.stack(masks)
    logits = _demo_logits_fn(demo)(x[None] * masks[..., None]).numpy()
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = (e / e.sum(axis=1, keepdims=True))[:, r.class_index]
    ref = np.tensordot(prob, masks, axes=(0, 0)) / (n * p)
    np.testing.assert_allclose(r.raw, ref, rtol=1e-4, atol=1e-5)


def test_long_methods_report_progress_and_cancel(demo, star):
    seen = []
    demo.cam(star, method="rise", masks=40, chunk_size=10, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    token = CancelToken()

    def cancel_after_first(done, total):
        token.cancel()

    with pytest.raises(Cancelled):
        demo.cam(star, method="occlusion", patch=8, stride=8, chunk_size=16,
                 progress=cancel_after_first, cancel=token)


# -- targets, options, errors ---------------------------------------------------------------
def test_sigmoid_class_zero_is_the_negated_logit(seq_sigmoid_path, images_dir):
    m = open_model(seq_sigmoid_path)
    img = load_image(images_dir / "plain.png")
    g1 = m.cam(img, method="saliency", class_index=1).info["gradient"]
    g0 = m.cam(img, method="saliency", class_index=0).info["gradient"]
    np.testing.assert_allclose(g0, -g1, rtol=1e-6, atol=1e-9)
    a1 = m.cam(img, method="ig", class_index=1, steps=8).info["attributions"]
    a0 = m.cam(img, method="ig", class_index=0, steps=8).info["attributions"]
    np.testing.assert_allclose(a0, -a1, rtol=1e-5, atol=1e-7)


def test_pixel_methods_on_a_nested_model_and_a_batch(nested_path, images_dir):
    m = open_model(nested_path)
    imgs = [load_image(images_dir / "plain.png"), load_image(images_dir / "gray.png")]
    out = m.cam(imgs, method="guided-backprop", class_index=[1, 2])
    assert [r.class_index for r in out] == [1, 2]
    for r in out:
        assert r.heatmap.shape == (64, 64) and np.isfinite(r.heatmap).all() and r.raw.max() > 0
    ggc = m.cam(imgs[0], method="guided-gradcam", class_index=1)
    assert ggc.layer == m.default_cam_layer and np.isfinite(ggc.raw).all()


@pytest.mark.parametrize("method,opts,text", [
    ("smoothgrad", {"samples": 0}, "samples must be at least 1"),
    ("smoothgrad", {"sigma": -1}, "sigma must be at least 0"),
    ("ig", {"baseline": "white"}, "unknown baseline"),
    ("occlusion", {"patch": 500}, "larger than the model's input"),
    ("saliency", {"nonsense": 10}, "unknown option"),
    ("rise", {"aug_smooth": True}, "only for class activation maps"),
])
def test_bad_options_are_user_errors(demo, star, method, opts, text):
    with pytest.raises(UserError, match=text):
        demo.cam(star, method=method, **opts)


def test_overlays_are_grey_images_with_colour(demo, star):
    r = demo.cam(star, method="integrated-gradients", steps=8)
    o = r.overlay(alpha=0.0)
    assert o.shape == star.pixels.shape
    assert np.abs(o[..., 0].astype(int) - o[..., 1]).max() <= 1  # alpha 0: the grey copy
    o = r.overlay(alpha=0.4)
    assert np.abs(o[..., 0].astype(int) - o[..., 2]).max() > 50  # red and blue: signed
    up = r.upsampled()
    assert up.shape == star.size and up.min() < 0 < up.max()
