"""Dataset examples: the receptive field from layer geometry equals the one input gradients
show, the bounded heaps equal a brute-force sort, and `examples` keeps and reuses its index."""
import json
import os

import numpy as np
import pytest

from convscope.engine.cli import main as cli_main
from convscope.engine.dataset.demo_folder import write_folder
from convscope.engine.dataset.receptive_field import receptive_field
from convscope.engine.dataset.topk import TopK


def _geometry_net():
    """Every kind of geometry: same/valid padding, strides, dilation, pooling, zero padding,
    cropping, a depthwise and a separable conv, a residual merge and a nested model."""
    from convscope.engine import tf_runtime

    tf_runtime.init("cpu")
    import keras

    L = keras.layers
    pos = keras.initializers.RandomUniform(0.1, 1.0, seed=3)
    kw = dict(kernel_initializer=pos, use_bias=False)
    inner = keras.Sequential([
        keras.Input((15, 15, 4)),
        L.Conv2D(4, 3, strides=2, padding="same", name="in_conv", **kw),
        L.DepthwiseConv2D(5, padding="same", depthwise_initializer=pos, use_bias=False, name="in_dw"),
    ], name="inner")
    inp = keras.Input((61, 61, 3))
    x = L.Conv2D(4, 3, padding="same", name="c1", **kw)(inp)
    x = L.Conv2D(4, 3, strides=2, padding="valid", name="c2", **kw)(x)  # 30
    x = L.AveragePooling2D(2, name="pool")(x)  # 15
    a = L.ZeroPadding2D(((2, 1), (1, 2)), name="zpad")(x)  # 18
    a = L.Conv2D(4, 3, dilation_rate=2, padding="valid", name="dil", **kw)(a)  # 14
    a = L.Cropping2D(((0, 0), (0, 0)), name="crop")(a)
    b = L.Conv2D(4, 3, padding="valid", name="side", **kw)(x)  # 13 -> pad to 14
    b = L.ZeroPadding2D(((1, 0), (0, 1)), name="side_pad")(b)
    x = L.Add(name="merge")([a, b])
    x = L.BatchNormalization(name="bn")(x)
    x = L.Cropping2D(((1, 0), (0, 1)), name="crop2")(L.ZeroPadding2D(1, name="pad1")(x))  # 15
    x = inner(x)  # 8
    x = L.SeparableConv2D(4, 3, strides=2, padding="same", depthwise_initializer=pos,
                          pointwise_initializer=pos, use_bias=False, name="sep")(x)  # 4
    return keras.Model(inp, x, name="geometry")


def _empirical_box(model, path, uy, ux, size):
    """Bounding box of the input pixels whose gradient on unit (uy, ux) is non-zero."""
    import tensorflow as tf

    from convscope.engine.hooks import Intercept

    x = tf.Variable(np.random.default_rng(0).random((1, size, size, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        with Intercept(model, record=[path]) as ic:
            model(x, training=False)
        unit = tf.reduce_sum(ic.outputs[path][0, uy, ux, :])
    g = np.abs(tape.gradient(unit, x).numpy()[0]).sum(axis=-1)
    ys, xs = np.nonzero(g > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.mark.parametrize("path", ["c2", "pool", "dil", "merge", "inner/in_conv", "inner/in_dw", "sep"])
def test_receptive_field_equals_the_gradient_support(path):
    model = _geometry_net()
    field = receptive_field(model, path)
    from convscope.engine.layers import index

    out = index(model)[path].output.shape
    h, w = out[1], out[2]
    for uy, ux in {(0, 0), (h - 1, w - 1), (h // 2, w // 3), (1, w - 1)}:
        assert field.box(uy, ux, (61, 61)) == _empirical_box(model, path, uy, ux, 61), (path, uy, ux)


def test_receptive_field_of_the_demo_model(demo_model):
    # conv1 3x3/2 -> conv2 3x3 -> pool 2 -> conv3 3x3: 3, 7, 9, 17 px; jump 2, 2, 4, 4
    f = receptive_field(demo_model.keras_model, "conv3")
    assert f.size == (17, 17) and f.jump == (4, 4)
    assert f.box(0, 0, (96, 96)) == _empirical_box(demo_model.keras_model, "conv3", 0, 0, 96)


def test_heap_equals_brute_force_sort():
    rng = np.random.default_rng(5)
    n, c, k = 300, 7, 9
    scores = rng.integers(0, 40, (n, c)).astype(np.float64)  # many ties on purpose
    top = TopK(c, k)
    for s in range(0, n, 32):
        top.push(scores[s:s + 32], list(range(s, min(n, s + 32))), lambda b, ch, s=s: s + b)
    for ch, got in enumerate(top.result()):
        brute = sorted(range(n), key=lambda i: (-scores[i, ch], i))[:k]
        assert [o for _, o, _ in got] == brute
        assert [p for _, _, p in got] == brute
        assert [s for s, _, _ in got] == [scores[i, ch] for i in brute]
    assert all(len(h) == k for h in top.heaps)  # bounded


def test_examples_cli_equals_brute_force_and_reuses_its_index(tmp_path, capsys, demo_model):
    listing = write_folder(str(tmp_path / "shapes"), n=30, seed=9400)
    folder = os.path.dirname(listing)
    args = ["examples", "--model", "demo", "--images", folder, "--layer", "conv4",
            "--channels", "0-11", "--top", "5", "--out", str(tmp_path / "atlas.pdf"),
            "--index", str(tmp_path / "index"), "--batch-size", "7", "--json"]
    assert cli_main(args) == 0
    doc = json.loads(capsys.readouterr().out)
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".png"))
    acts = demo_model.activations(paths, ["conv4"])["conv4"]  # (30, 12, 12, 128) at once
    field = receptive_field(demo_model.keras_model, "conv4")
    for entry in doc["channels"]:
        ch = entry["channel"]
        a = acts[..., ch].reshape(len(paths), -1)
        brute = sorted(range(len(paths)), key=lambda i: (-a[i].max(), i))[:5]
        assert [e["file"] for e in entry["examples"]] == [paths[i] for i in brute]
        for e, i in zip(entry["examples"], brute):
            assert e["score"] == pytest.approx(float(a[i].max()), rel=1e-5)
            uy, ux = divmod(int(a[i].argmax()), 12)
            assert e["position"] == [uy, ux]
            assert e["box"] == list(field.box(uy, ux, (96, 96)))  # 96 px images: no resize
    assert (tmp_path / "atlas.pdf").read_bytes()[:5] == b"%PDF-"
    stored = os.listdir(tmp_path / "index")
    assert len(stored) == 1 and stored[0].endswith(".json")
    # the same request again: answered from the index, same examples, a PNG this time
    args[args.index("--out") + 1] = str(tmp_path / "atlas.png")
    assert cli_main(args[:-1]) == 0
    assert "from the stored index" in capsys.readouterr().out
    from PIL import Image as P

    assert P.open(tmp_path / "atlas.png").size == (5 * 64 + 4 * 2, 12 * 64 + 11 * 2)
