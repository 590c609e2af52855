"""Class activation maps: the formulas and invariants, checked in numbers on small Keras
models saved to real .keras files and real PNG files (design §5, issue 3)."""
import json
import os

import cv2
import numpy as np
import pytest

from convscope.engine import CancelToken, Cancelled, UserError, colormaps, load_image, open_model
from convscope.engine.explore import cache as explore
from convscope.engine.cam import METHODS, compute_cam, normalise
from convscope.engine.cam import compute as cam_compute
from convscope.engine.cam import faithfulness


# -- fixtures: tiny models and image files ------------------------------------------------
def _keras():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cam")
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(5)
    # GAP + Dense head (CAM applies), with a non-zero bias for the GAP identity.
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(6, 3, padding="same", activation="relu", name="c1")(inp)
    x = L.MaxPooling2D(name="pool")(x)
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="feat")(x)
    x = L.Dropout(0.3, name="drop")(L.GlobalAveragePooling2D(name="gap")(x))
    gap = keras.Model(inp, L.Dense(4, activation="softmax", name="pred")(x), name="gap_model")
    w, _ = gap.get_layer("pred").get_weights()
    gap.get_layer("pred").set_weights([w * 3.0, np.array([0.3, -0.2, 0.1, -0.4], np.float32)])
    gap.save(d / "gap.keras")
    # Flatten head: gradients vary by position (Grad-CAM++, Score-CAM references).
    keras.utils.set_random_seed(6)
    inp = keras.Input((24, 24, 3))
    x = L.Conv2D(5, 3, activation="relu", name="c1")(inp)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="target")(x)
    x = L.Dense(10, activation="relu", name="fc")(L.Flatten(name="flat")(x))
    flat = keras.Model(inp, L.Dense(3, activation="softmax", name="pred")(x), name="flat_model")
    flat.save(d / "flat.keras")
    # real image files, of a size unlike the models' inputs
    from PIL import Image as P

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:52]
    paths = []
    for i in range(4):
        img = np.dstack([xx * rng.uniform(2, 5), yy * rng.uniform(2, 5), np.full(xx.shape, rng.uniform(0, 255))])
        for _ in range(3):
            cy, cx, r = rng.uniform(0, 40), rng.uniform(0, 52), rng.uniform(4, 12)
            img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * r * r))[..., None] * rng.uniform(-200, 200, 3)
        P.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"img{i}.png")
        paths.append(str(d / f"img{i}.png"))
    return {"gap": str(d / "gap.keras"), "flat": str(d / "flat.keras"), "images": paths, "dir": d}


@pytest.fixture(scope="module")
def gap_model(files):
    return open_model(files["gap"])


@pytest.fixture(scope="module")
def flat_model(files):
    return open_model(files["flat"])


@pytest.fixture(scope="module")
def imgs(files):
    return [load_image(p) for p in files["images"]]


def _flat_reference(m, img, cls):
    """Independent: run the flat model's layers by hand, own tape, pre-softmax logit."""
    import tensorflow as tf

    km = m.keras_model
    x = tf.constant(m.prepare(img))
    A = km.get_layer("target")(km.get_layer("c1")(x))
    with tf.GradientTape() as tape:
        tape.watch(A)
        h = km.get_layer("fc")(km.get_layer("flat")(A))
        pred = km.get_layer("pred")
        logits = tf.matmul(h, pred.kernel) + pred.bias
        s = logits[:, cls]
    return x.numpy()[0], A.numpy()[0].astype(np.float64), tape.gradient(s, A).numpy()[0].astype(np.float64)


# -- invariants on a GAP + Dense head --------------------------------------------------------
def test_gradcam_equals_cam_up_to_scale_and_gap_identity(gap_model, imgs):
    m = gap_model
    kernel, bias = m.keras_model.get_layer("pred").get_weights()
    probs = m.keras_model.predict(m.prepare(imgs[0]), verbose=0)[0]
    scores = []
    for c in range(4):
        cam = compute_cam(m, imgs[0], "cam", class_index=c)
        grad = compute_cam(m, imgs[0], "gradcam", class_index=c)
        hires = compute_cam(m, imgs[0], "hirescam", class_index=c)
        assert cam.layer == grad.layer == "feat" and cam.raw.shape == (16, 16)
        hw = cam.raw.size
        np.testing.assert_allclose(grad.raw * hw, cam.raw, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(hires.raw * hw, cam.raw, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(grad.heatmap, cam.heatmap, atol=1e-4)
        np.testing.assert_allclose(cam.weights, kernel[:, c], rtol=1e-6)
        # GAP identity: the class logit is the map's spatial mean plus the bias
        assert cam.score == pytest.approx(float(cam.raw.mean()) + bias[c], rel=1e-4, abs=1e-5)
        assert cam.score == pytest.approx(grad.score, rel=1e-6)
        scores.append(cam.score)
    # the scores are pre-softmax: softmax of them is the model's own output
    e = np.exp(np.array(scores) - max(scores))
    np.testing.assert_allclose(e / e.sum(), probs, rtol=1e-4, atol=1e-6)
    default = compute_cam(m, imgs[0], "gradcam")
    assert default.class_index == int(np.argmax(probs))


def test_all_methods_finite_in_unit_range(gap_model, imgs):
    from convscope.engine.cam import registry

    small = {"faster-scorecam": {"max_n": 3}, "rise": {"masks": 64}, "smoothgrad": {"samples": 4},
             "integrated-gradients": {"steps": 8}}
    for method in METHODS:
        for r in compute_cam(gap_model, imgs[:2], method, **small.get(method, {})):
            assert r.method == method and r.heatmap.dtype == np.float32
            assert np.isfinite(r.heatmap).all() and np.isfinite(r.raw).all()
            if registry.get(method).signed:  # scaled by the largest magnitude: [-1, 1]
                assert r.heatmap.min() >= -1.0 and r.heatmap.max() <= 1.0
                assert np.abs(r.heatmap).max() == pytest.approx(1.0)
                continue
            assert r.heatmap.min() >= 0.0 and r.heatmap.max() <= 1.0
            assert r.heatmap.max() == pytest.approx(1.0)  # min-max reaches 1 on a real map
            assert r.heatmap.min() == pytest.approx(0.0)


def test_normalise_relu_minmax_and_constant_maps():
    raw = np.array([[-2.0, 0.0], [1.0, 3.0]], np.float32)
    np.testing.assert_allclose(normalise(raw), [[0, 0], [1 / 3, 1]], rtol=1e-6)
    for flat in (np.full((5, 4), 3.7), np.full((5, 4), -1.0), np.zeros((3, 3)),
                 np.full((4, 4), 1000.0) + np.random.default_rng(0).normal(0, 1e-7, (4, 4))):
        out = normalise(flat)
        assert out.dtype == np.float32 and not np.isnan(out).any() and not out.any()
    nan = np.array([[np.nan, 1.0], [np.inf, 2.0]])
    out = normalise(nan)
    assert np.isfinite(out).all() and out.max() == 1.0


def test_faster_scorecam_with_all_channels_equals_scorecam(gap_model, flat_model, imgs):
    for m, k in ((gap_model, 8), (flat_model, 6)):
        full = compute_cam(m, imgs[:2], "scorecam", class_index=1)
        fast = compute_cam(m, imgs[:2], "faster-scorecam", class_index=1, max_n=k)
        for a, b in zip(full, fast):
            np.testing.assert_allclose(a.weights, b.weights, rtol=1e-5, atol=1e-7)
            np.testing.assert_allclose(a.raw, b.raw, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(a.heatmap, b.heatmap, atol=1e-5)
        few = compute_cam(m, imgs[0], "faster-scorecam", class_index=1, max_n=2)
        assert np.count_nonzero(few.weights) <= 2


def test_faster_scorecam_keeps_the_top_max_n_channels_by_spatial_std(flat_model, imgs):
    # Wang et al. 2020 (Faster Score-CAM): only the max_n channels with the largest spatial
    # standard deviation are evaluated; each keeps its Score-CAM weight, the others get 0.
    m, img, cls = flat_model, imgs[3], 0
    _, A, _ = _flat_reference(m, img, cls)
    std = A.reshape(-1, A.shape[-1]).std(axis=0)
    assert len(np.unique(np.round(std, 6))) == len(std)  # no ties: the choice is unique
    full = compute_cam(m, img, "scorecam", class_index=cls)
    for n in (1, 2, 4):
        top = set(np.argsort(-std)[:n].tolist())
        fast = compute_cam(m, img, "faster-scorecam", class_index=cls, max_n=n)
        assert set(np.flatnonzero(fast.weights).tolist()) == top, (n, std)
        kept = sorted(top)
        np.testing.assert_allclose(fast.weights[kept], full.weights[kept], rtol=1e-5)
        np.testing.assert_allclose(fast.raw, (A[..., kept] * full.weights[kept]).sum(-1),
                                   rtol=1e-4, atol=1e-6)


def test_batch_equals_one_by_one(gap_model, flat_model, imgs):
    classes = [None, 2, 0, "1"]
    for m, methods in ((gap_model, METHODS), (flat_model, [x for x in METHODS if x != "cam"])):
        for method in methods:
            small = {"masks": 40, "samples": 4, "steps": 8}  # the pixel methods' (others ignore them)
            batch = compute_cam(m, imgs, method, class_index=classes, chunk_size=5, **small)
            assert isinstance(batch, list) and len(batch) == 4
            for img, c, b in zip(imgs, classes, batch):
                one = compute_cam(m, load_image(img.path), method, class_index=c, **small)
                assert one.class_index == b.class_index and one.image is not b.image
                np.testing.assert_allclose(b.raw, one.raw, rtol=1e-4, atol=1e-6)
                np.testing.assert_allclose(b.heatmap, one.heatmap, atol=1e-4)
                assert b.score == pytest.approx(one.score, rel=1e-5, abs=1e-6)


# -- formulas against independent re-computations ----------------------------------------------
def test_gradcampp_layercam_xgradcam_match_numpy(flat_model, imgs):
    m, img, cls = flat_model, imgs[1], 2
    _, A, g = _flat_reference(m, img, cls)
    h, w, k = A.shape
    ref_w = np.zeros(k)
    for ch in range(k):  # Chattopadhay et al. 2018, eq. 19 with exp(S) handled analytically
        a, gk = A[..., ch], g[..., ch]
        for i in range(h):
            for j in range(w):
                den = 2 * gk[i, j] ** 2 + a.sum() * gk[i, j] ** 3
                alpha = gk[i, j] ** 2 / den if gk[i, j] != 0 and den != 0 else 0.0
                ref_w[ch] += alpha * max(gk[i, j], 0.0)
    pp = compute_cam(m, img, "gradcam++", class_index=cls)
    np.testing.assert_allclose(pp.weights, ref_w, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(pp.raw, (A * ref_w).sum(-1), rtol=1e-4, atol=1e-7)
    assert np.abs(g).max() > 0 and len(np.unique(np.round(g[..., 0], 8))) > 3  # not a GAP head

    gc = compute_cam(m, img, "gradcam", class_index=cls)
    np.testing.assert_allclose(gc.raw, (A * g.mean(axis=(0, 1))).sum(-1), rtol=1e-4, atol=1e-7)
    lc = compute_cam(m, img, "layercam", class_index=cls)
    np.testing.assert_allclose(lc.raw, (np.maximum(g, 0) * A).sum(-1), rtol=1e-4, atol=1e-7)
    hr = compute_cam(m, img, "hirescam", class_index=cls)
    np.testing.assert_allclose(hr.raw, (g * A).sum(-1), rtol=1e-4, atol=1e-7)
    xw = np.array([(A[..., c] * g[..., c]).sum() / A[..., c].sum() if A[..., c].sum() else 0.0 for c in range(k)])
    xg = compute_cam(m, img, "xgradcam", class_index=cls)
    np.testing.assert_allclose(xg.weights, xw, rtol=1e-4, atol=1e-9)
    ev = compute_cam(m, img, "eigencam")
    u, s, vt = np.linalg.svd(A.reshape(-1, k))
    proj = (A.reshape(-1, k) @ vt[0]).reshape(h, w)
    np.testing.assert_allclose(ev.raw, proj if proj.sum() > 0 else -proj, rtol=1e-4, atol=1e-6)


def test_scorecam_weights_match_independent_masking(flat_model, imgs):
    m, img, cls = flat_model, imgs[2], 1
    x, A, _ = _flat_reference(m, img, cls)
    res = compute_cam(m, img, "scorecam", class_index=cls)
    checked = 0
    for ch in range(A.shape[-1]):
        if np.ptp(A[..., ch]) == 0 or checked == 3:
            continue
        up = cv2.resize(A[..., ch].astype(np.float32), (24, 24), interpolation=cv2.INTER_LINEAR)
        mask = (up - up.min()) / (up.max() - up.min())
        prob = m.keras_model.predict((x * mask[..., None])[None], verbose=0)[0, cls]  # the model's softmax
        assert res.weights[ch] == pytest.approx(float(prob), rel=1e-4, abs=1e-6)
        checked += 1
    assert checked >= 2
    np.testing.assert_allclose(res.raw, (A * res.weights).sum(-1), rtol=1e-4, atol=1e-6)
    assert ((res.weights > 0) & (res.weights < 1)).all()  # probabilities, softmax applied once


# -- classes, caches, progress ---------------------------------------------------------------
def test_class_by_label_and_errors(gap_model, flat_model, imgs):
    r = compute_cam(gap_model, imgs[0], "gradcam", class_index="3")
    assert r.class_index == 3 and r.label == "3"
    with pytest.raises(UserError, match="out of range"):
        compute_cam(gap_model, imgs[0], "gradcam", class_index=7)
    with pytest.raises(UserError, match="unknown CAM method"):
        compute_cam(gap_model, imgs[0], "gradcam+++")
    assert compute_cam(gap_model, imgs[0], "Grad-CAM++").method == "gradcam++"
    with pytest.raises(UserError, match="no spatial output"):
        compute_cam(gap_model, imgs[0], "gradcam", layer="gap")
    with pytest.raises(UserError, match="no layer"):
        compute_cam(gap_model, imgs[0], "gradcam", layer="nope")
    with pytest.raises(UserError, match="model's input"):
        compute_cam(gap_model, imgs[0], "gradcam", layer=gap_model.layers[0].path)
    with pytest.raises(UserError, match="feeds global average pooling"):
        compute_cam(gap_model, imgs[0], "cam", layer="c1")
    with pytest.raises(UserError, match="CAM needs a global average pooling head — use Grad-CAM"):
        compute_cam(flat_model, imgs[0], "cam")
    with pytest.raises(UserError, match="one per image"):
        compute_cam(gap_model, imgs[:2], "gradcam", class_index=[1, 2, 3])


def test_activations_reused_when_method_or_class_changes(files, monkeypatch):
    m = open_model(files["gap"])
    explore.enable(m, False)  # the per-layer path; tests/test_explore.py covers the all-layer one
    img = load_image(files["images"][3])
    kinds, forwards = [], []
    orig_fn, orig_forward = cam_compute._fn, m.forward
    monkeypatch.setattr(cam_compute, "_fn", lambda mm, kind, layer: (kinds.append(kind), orig_fn(mm, kind, layer))[1])
    monkeypatch.setattr(m, "forward", lambda *a, **k: (forwards.append(1), orig_forward(*a, **k))[1])
    first = compute_cam(m, img, "gradcam", class_index=0)
    assert kinds == ["fused"] and forwards == []  # one pass did everything
    for method in ("gradcam++", "layercam", "xgradcam", "eigencam", "cam", "gradcam"):
        compute_cam(m, img, method, class_index=0)
    assert kinds == ["fused"] and forwards == []
    other = compute_cam(m, img, "gradcam", class_index=2)  # class change: the head only
    assert kinds == ["fused", "head"] and forwards == []
    compute_cam(m, img, "scorecam", class_index=2)
    assert kinds[-1] == "masked" and forwards == []
    fresh = compute_cam(m, load_image(img.path), "gradcam", class_index=2)  # new identity
    assert kinds[-2:] == ["masked", "fused"]
    np.testing.assert_allclose(other.raw, fresh.raw, rtol=1e-5, atol=1e-7)
    assert not np.allclose(first.raw, other.raw)


def test_progress_and_cancel_between_chunks(flat_model, imgs):
    calls = []
    compute_cam(flat_model, imgs[0], "scorecam", chunk_size=2, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]  # the first pass + 3 chunks of 2 channels
    token = CancelToken()
    seen = []

    def cancel_soon(done, total):
        seen.append(done)
        if done == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        compute_cam(flat_model, imgs[1], "scorecam", chunk_size=2, progress=cancel_soon, cancel=token)
    assert seen == [1, 2]
    token2 = CancelToken()
    token2.cancel()
    with pytest.raises(Cancelled):
        compute_cam(flat_model, imgs[1], "gradcam", cancel=token2)


# -- overlay, CLI, faithfulness -----------------------------------------------------------------
def test_overlay_blend_at_image_size(gap_model, imgs):
    r = compute_cam(gap_model, imgs[0], "gradcam")
    px = imgs[0].pixels.astype(np.float64)
    up = r.upsampled()
    assert up.shape == (40, 52) and up.dtype == np.float32
    np.testing.assert_allclose(up, np.clip(cv2.resize(r.heatmap, (52, 40), interpolation=cv2.INTER_LINEAR), 0, 1), atol=1e-6)
    assert np.array_equal(r.overlay(alpha=0.0), imgs[0].pixels)
    assert np.array_equal(r.overlay(alpha=1.0), colormaps.apply(up, "jet"))
    out = r.overlay()
    assert out.shape == (40, 52, 3) and out.dtype == np.uint8
    expected = 0.6 * px + 0.4 * colormaps.apply(up, "jet").astype(np.float64)
    assert np.abs(out.astype(np.float64) - expected).max() <= 0.51
    views = {name: r.overlay(0.5, name) for name in ("jet", "viridis", "inferno", "turbo")}
    assert len({v.tobytes() for v in views.values()}) == 4
    with pytest.raises(UserError, match="colour map"):
        r.overlay(colormap="rainbowish")
    with pytest.raises(UserError, match="alpha"):
        r.overlay(alpha=1.5)
    d = r.as_dict()
    assert d["method"] == "gradcam" and d["layer"] == "feat" and d["heatmap_shape"] == [16, 16]
    assert d["class"] == r.class_index and isinstance(d["score"], float)


def test_cli_cam_writes_overlay_npy_and_json(files, capsys):
    from convscope.engine.cli import dispatch as cli

    out, npy = files["dir"] / "ov.png", files["dir"] / "hm.npy"
    code = cli.main(["cam", "--model", files["gap"], "--image", files["images"][0], "--method", "gradcam++",
                     "--class", "2", "--alpha", "0.5", "--colormap", "viridis", "--out", str(out),
                     "--npy", str(npy), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["method"] == "gradcam++" and doc["class"] == 2 and doc["layer"] == "feat"
    api = compute_cam(open_model(files["gap"]), load_image(files["images"][0]), "gradcam++", class_index=2)
    np.testing.assert_allclose(np.load(npy), api.heatmap, atol=1e-6)
    assert np.array_equal(load_image(out).pixels, api.overlay(0.5, "viridis"))
    for bad, words in ((["--method", "nope"], "unknown CAM method"), (["--layer", "gap"], "no spatial output"),
                       (["--method", "cam", "--model", files["flat"]], "global average pooling")):
        args = ["cam", "--model", files["gap"], "--image", files["images"][0], "--out", str(files["dir"] / "x.png")]
        args = args + bad
        assert cli.main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and words in err and len(err.splitlines()) == 1
        assert not os.path.exists(files["dir"] / "x.png")


def test_faithfulness_curves_endpoints(gap_model, imgs):
    m, img = gap_model, imgs[0]
    r = compute_cam(m, img, "gradcam")
    f, dele = faithfulness.curves(m, [img], [r.heatmap], r.class_index, "deletion", steps=8)
    _, ins = faithfulness.curves(m, [img], [r], r.class_index, "insertion", steps=8)
    p = m.keras_model.predict(m.prepare(img), verbose=0)[0, r.class_index]
    black = m.keras_model.predict(np.zeros_like(m.prepare(img)), verbose=0)[0, r.class_index]
    assert f[0] == 0 and f[-1] == 1 and dele.shape == (1, 9)
    assert dele[0, 0] == pytest.approx(p, rel=1e-4) and dele[0, -1] == pytest.approx(black, rel=1e-4)
    assert ins[0, -1] == pytest.approx(p, rel=1e-4)
    _, mean_del = faithfulness.curves(m, [img], [r.heatmap], r.class_index, "deletion", steps=4, substrate="mean")
    flat = np.broadcast_to(m.pixels(img).mean(axis=(1, 2), keepdims=True), m.pixels(img).shape) / 255.0
    assert mean_del[0, -1] == pytest.approx(m.keras_model.predict(flat, verbose=0)[0, r.class_index], rel=1e-4)
    # a middle point, recomputed: the top half of the pixels by the map (upsampled
    # bilinearly, ties by position) set to black
    from convscope.engine import preprocess as prep

    x = m.pixels(img)[0]
    h, w = x.shape[:2]
    hm = cv2.resize(np.asarray(r.heatmap, np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    top = np.argsort(-hm.ravel(), kind="stable")[:int(round(0.5 * h * w))]
    y = x.reshape(h * w, -1).copy()
    y[top] = 0.0
    half = m.keras_model.predict(prep.apply(y.reshape(x.shape)[None], m.preprocess), verbose=0)
    assert dele[0, 4] == pytest.approx(half[0, r.class_index], rel=1e-4)
    # the AUCs are the trapezoid rule over the fractions (np.trapezoid, not the module's auc)
    ref_del = float(np.trapezoid(dele[0].astype(np.float64), f))
    ref_ins = float(np.trapezoid(ins[0].astype(np.float64), f))
    assert faithfulness.deletion_auc(m, img, r.heatmap, r.class_index, steps=8) == pytest.approx(ref_del, rel=1e-6)
    both = faithfulness.insertion_auc(m, [img, imgs[1]], [r.heatmap, r.heatmap], r.class_index, steps=8)
    assert both[0] == pytest.approx(ref_ins, rel=1e-5) and len(both) == 2
    assert faithfulness.auc(np.array([[0.0, 1.0, 1.0, 0.0]]))[0] == pytest.approx(2 / 3)
