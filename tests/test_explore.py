"""Instant exploration (issue 14): every layer from one pass, every layer's gradients from
one backward pass, a memory budget with LRU eviction, and nothing ever stale.

Costs are asserted on ConvModel.passes (a counter of forward / backward passes), never on
time. "Fresh" results come from a second ConvModel of the same file with the exploration
cache switched off, i.e. the per-layer paths (convscope/engine/model.py, convscope/engine/cam/compute.py).
"""
import numpy as np
import pytest

from convscope.engine.explore import cache as explore
from convscope.engine import from_array, open_model

GRADIENT_METHODS = ("gradcam", "gradcam++", "layercam", "hirescam", "xgradcam")


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(float(np.abs(b).max()), 1e-30)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * scale)


@pytest.fixture(autouse=True)
def default_budget():
    explore.configure(budget=1 << 30)
    yield
    explore.configure(budget=1 << 30)


@pytest.fixture(scope="module")
def demo():
    return open_model("demo")


@pytest.fixture(scope="module")
def fresh():
    m = open_model("demo")
    explore.enable(m, False)
    return m


def image(seed, size=(90, 110)):
    rng = np.random.default_rng(seed)
    return from_array(rng.integers(0, 256, size + (3,), dtype=np.uint8), name=f"img{seed}")


def spatial(m):
    return explore.state(m).paths


def test_every_layer_from_one_forward_pass(demo, fresh):
    img = image(1)
    everything = demo.activations(img)  # all spatial layers: one recorded pass
    before = demo.passes.copy()
    for path in spatial(demo)[::-1]:
        act = demo.activations(img, [path])[path]
        same(act, fresh.activations(img, [path])[path])
        np.testing.assert_array_equal(act, everything[path])
    assert demo.passes == before, "another layer of the same image ran a pass"
    # predictions come from the same pass, and equal the model's own outputs
    assert [p.index for p in demo.predict(img, top=3)] == [p.index for p in fresh.predict(img, top=3)]
    same(demo.scores(img), fresh.scores(img))
    assert demo.passes == before


def test_first_layer_request_records_all(demo):
    img = image(2)
    before = demo.passes["forward"]
    layers = spatial(demo)
    demo.activations(img, [layers[0]])
    demo.activations(img, [layers[-1]])
    demo.predict(img)
    assert demo.passes["forward"] == before + 1


@pytest.mark.parametrize("method", GRADIENT_METHODS)
def test_cam_at_another_layer_costs_no_pass_and_equals_fresh(demo, fresh, method):
    img = image(3)
    layers = spatial(demo)
    demo.cam(img, method=method)  # default layer, top class: one forward + one backward
    before = demo.passes.copy()
    for layer in (layers[0], layers[3], layers[-3]):
        got = demo.cam(img, method=method, layer=layer)
        want = fresh.cam(img, method=method, layer=layer)
        assert (got.class_index, got.layer) == (want.class_index, layer)
        same(got.raw, want.raw)
        same(got.heatmap, want.heatmap)
        assert got.score == pytest.approx(want.score, rel=1e-6)
    assert demo.passes == before, "Grad-CAM at another layer ran a pass"


def test_each_class_has_its_own_gradients(demo, fresh):
    img = image(4)
    layer = spatial(demo)[5]
    demo.cam(img, class_index=0)
    one = demo.passes.copy()
    a = demo.cam(img, class_index=1, layer=layer)
    assert demo.passes["backward"] == one["backward"] + 1  # a new class: a new backward pass
    b = demo.cam(img, class_index=0, layer=layer)
    assert demo.passes["backward"] == one["backward"] + 1  # class 0 again: cached
    same(a.raw, fresh.cam(img, class_index=1, layer=layer).raw)
    same(b.raw, fresh.cam(img, class_index=0, layer=layer).raw)
    assert not np.allclose(a.raw, b.raw)


def test_binary_sigmoid_classes_are_separate_entries(seq_sigmoid_path):
    m, ref = open_model(seq_sigmoid_path), open_model(seq_sigmoid_path)
    explore.enable(ref, False)
    img = image(5, (60, 60))
    for c in (1, 0, 1):
        for layer in ("conv2d_1", "max_pooling2d_2"):
            got, want = m.cam(img, class_index=c, layer=layer), ref.cam(img, class_index=c, layer=layer)
            same(got.raw, want.raw)
            assert got.score == pytest.approx(want.score, rel=1e-6)
    assert m.passes["backward"] == 2  # one per class, whatever the layer
    c1, c0 = m.cam(img, class_index=1, method="hirescam"), m.cam(img, class_index=0, method="hirescam")
    same(c0.raw, -c1.raw)  # class 0's score is the negated logit


def test_small_budget_evicts_and_stays_correct(demo, fresh):
    per = explore.bytes_per_image(demo)
    explore.configure(budget=int(3.5 * per))  # acts + one class's grads of ~1.75 images
    evicted = explore.STORE.evictions
    imgs = [image(10 + i) for i in range(3)]
    for img in imgs:
        demo.cam(img, method="gradcam++", layer=spatial(demo)[2])
        assert explore.STORE.used <= explore.STORE.budget
    assert explore.STORE.evictions > evicted
    assert not explore.has_activations(demo, imgs[0])  # least recently used: gone first
    assert explore.has_activations(demo, imgs[-1])
    before = demo.passes["forward"]
    for img in imgs:  # after eviction: recomputed, equal to a fresh computation
        for layer in (spatial(demo)[1], spatial(demo)[-1]):
            same(demo.cam(img, method="gradcam++", layer=layer).raw,
                 fresh.cam(img, method="gradcam++", layer=layer).raw)
            same(demo.activations(img, [layer])[layer], fresh.activations(img, [layer])[layer])
        assert explore.STORE.used <= explore.STORE.budget
    assert demo.passes["forward"] > before


def test_model_too_big_for_the_budget_goes_layer_by_layer(demo, fresh):
    per = explore.bytes_per_image(demo)
    explore.configure(budget=per)  # activations alone fit, not with gradients: no all-layer
    p = explore.plan(demo)
    assert not p.all_layers and "each layer is computed on its own" in p.note
    img = image(20)
    layers = spatial(demo)
    before = demo.passes["forward"]
    for layer in layers[:3]:
        same(demo.activations(img, [layer])[layer], fresh.activations(img, [layer])[layer])
    assert demo.passes["forward"] == before + 3  # one pass per layer
    same(demo.cam(img, layer=layers[4]).raw, fresh.cam(img, layer=layers[4]).raw)
    assert len(explore.STORE) == 0 or not explore.has_activations(demo, img)


def test_nothing_stale_new_model_preprocessing_or_image(demo):
    img, other = image(30), image(31)
    layer = spatial(demo)[6]
    first = demo.activations(img, [layer])[layer]
    first_cam = demo.cam(img, layer=layer, class_index=2)
    # a different image
    assert not np.allclose(demo.activations(other, [layer])[layer], first)
    # a new model (same file, other weights): never the old model's entries
    m2 = open_model("demo")
    km = m2.keras_model
    km.set_weights([w * 1.5 for w in km.get_weights()])
    ref = open_model("demo")
    ref.keras_model.set_weights(km.get_weights())
    explore.enable(ref, False)
    new = m2.activations(img, [layer])[layer]
    assert m2.passes["forward"] == 1
    same(new, ref.activations(img, [layer])[layer])
    assert not np.allclose(new, first)
    same(m2.cam(img, layer=layer, class_index=2).raw, ref.cam(img, layer=layer, class_index=2).raw)
    assert m2.passes["backward"] == 1
    # a changed preprocessing option on the same model
    old = demo.preprocess
    try:
        demo.preprocess = "none" if old != "none" else "rescale"
        explore.enable(fresh_pre := open_model("demo", preprocess=demo.preprocess), False)
        changed = demo.activations(img, [layer])[layer]
        same(changed, fresh_pre.activations(img, [layer])[layer])
        assert not np.allclose(changed, first)
        same(demo.cam(img, layer=layer, class_index=2).raw,
             fresh_pre.cam(img, layer=layer, class_index=2).raw)
    finally:
        demo.preprocess = old
    same(demo.cam(img, layer=layer, class_index=2).raw, first_cam.raw)


def test_cached_arrays_are_read_only(demo):
    img = image(40)
    act = demo.activations(img, [spatial(demo)[0]])[spatial(demo)[0]]
    with pytest.raises(ValueError):
        act[0, 0, 0] = 1.0


def test_cached_arrays_keep_their_values_while_tensorflow_works_on(demo, fresh):
    """The cache holds views of TensorFlow's output buffers (no copy): they must not change
    when later passes allocate and free tensors of the same sizes."""
    img = image(41)
    assert explore.analyse(demo, img)
    layers = spatial(demo)
    acts = demo.activations(img, layers)
    cams = {p: demo.cam(img, layer=p).raw for p in layers}
    before = {p: np.array(a) for p, a in acts.items()}
    for seed in range(142, 154):  # other images: new buffers of the very same shapes
        explore.analyse(demo, image(seed))
        demo.cam(image(seed), class_index=seed % 3)
    again = demo.activations(img, layers)
    for p in layers:
        assert np.shares_memory(again[p], acts[p])  # served from the cache ...
        np.testing.assert_array_equal(again[p], before[p])  # ... unchanged
        same(again[p], fresh.activations(img, [p])[p])
        same(demo.cam(img, layer=p).raw, cams[p])


def test_prefetch_fills_without_evicting(demo, fresh):
    img = image(50)
    assert explore.ensure(demo, img)  # activations
    assert not explore.ensure(demo, img)  # already there: no pass
    assert explore.ensure(demo, img, unit=3)
    assert explore.has_gradients(demo, img, 3, 1.0)
    before = demo.passes.copy()
    layer = spatial(demo)[4]
    same(demo.cam(img, class_index=3, layer=layer).raw, fresh.cam(img, class_index=3, layer=layer).raw)
    assert demo.passes == before
    explore.configure(budget=explore.STORE.used + 1000)  # full: prefetch must not evict
    keys = explore.STORE.keys()
    assert not explore.ensure(demo, img, unit=1)
    assert not explore.ensure(demo, image(51))
    assert explore.STORE.keys() == keys


def test_first_analysis_is_one_forward_and_one_backward_pass(demo, fresh):
    img = image(60)
    before = demo.passes.copy()
    assert explore.analyse(demo, img)
    assert not explore.analyse(demo, img)
    top = demo.predict(img, top=1)[0].index
    for layer in spatial(demo)[::3]:
        demo.activations(img, [layer])
        same(demo.cam(img, layer=layer).raw, fresh.cam(img, layer=layer).raw)
    assert demo.cam(img).class_index == top == fresh.predict(img, top=1)[0].index
    assert demo.passes - before == {"forward": 1, "backward": 1}


def test_paused_takes_the_per_layer_path_and_caches_nothing(demo, fresh):
    img = image(70)
    with explore.paused(demo):  # as the Live view does for video frames
        got = demo.cam(img, layer=spatial(demo)[4])
        assert not explore.has_activations(demo, img)
    assert explore.usable(demo) and not explore.has_activations(demo, img)
    same(got.raw, fresh.cam(img, layer=spatial(demo)[4]).raw)
