"""The oneDNN crash (facts.md): gradients through a 1x1 stride-2 convolution whose input has
8 channels kill TensorFlow's CPU build. engine.hooks rewrites such layers; this runs the
crashing shape in subprocesses so a regression cannot take the test run down with it."""
import os
import subprocess
import sys
import textwrap

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = textwrap.dedent("""
    import sys, numpy as np
    from convscope.engine import tf_runtime
    tf_runtime.init("cpu")
    import keras, tensorflow as tf
    from convscope.engine.hooks import Intercept
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((60, 60, 3))
    stem = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)   # 8 channels
    short = L.Conv2D(16, 1, strides=2, name="shortcut")(stem)                    # 1x1, stride 2
    body = L.Conv2D(16, 3, strides=2, padding="same", name="body")(stem)
    x = L.Add(name="add")([short, body])
    out = L.Dense(3)(L.GlobalAveragePooling2D()(x))
    m = keras.Model(inp, out)
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 60, 60, 3)).astype("float32"))
    guarded = sys.argv[1] == "guarded"
    with tf.GradientTape() as tape:
        tape.watch(x)
        if guarded:
            with Intercept(m, record=["stem"], tape=tape) as ic:
                y = m(x, training=False)
        else:
            y = m(x, training=False)
        s = tf.reduce_sum(y[:, 0])
    g = tape.gradient(s, x)
    np.save(sys.argv[2], g.numpy())
    print("survived")
""")


def _run(mode, out, onednn):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_ENABLE_ONEDNN_OPTS=onednn, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", SCRIPT, mode, str(out)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)


def test_guarded_gradient_survives_and_is_exact(tmp_path):
    guarded = _run("guarded", tmp_path / "g.npy", onednn="1")
    assert guarded.returncode == 0, guarded.stderr[-2000:]
    assert "survived" in guarded.stdout
    # reference: the plain computation with oneDNN off (the other known remedy)
    ref = _run("plain", tmp_path / "r.npy", onednn="0")
    assert ref.returncode == 0, ref.stderr[-2000:]
    np.testing.assert_allclose(np.load(tmp_path / "g.npy"), np.load(tmp_path / "r.npy"),
                               rtol=1e-4, atol=1e-6)


def _strided_convs(graph):
    """(op type, kernel h x w, strides) of every convolution in a graph and its gradient."""
    out = []
    for op in graph.get_operations():
        if op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
            strides = tuple(op.get_attr("strides"))[1:3]
            kernel = op.inputs[1].shape if op.type != "Conv2DBackpropFilter" else None
            if op.type == "Conv2DBackpropInput":  # inputs: (input_sizes, filter, out_backprop)
                kernel = op.inputs[1].shape
            hw = tuple(kernel[:2]) if kernel is not None and kernel.rank == 4 else None
            out.append((op.type, hw, strides))
    return out


def test_the_guard_leaves_no_strided_pointwise_convolution_in_the_graph():
    """Whatever the CPU: the gradient graph traced inside Intercept holds no 1x1 convolution
    with stride 2 (the shape oneDNN crashes on), while the same graph traced without it does
    (so this check can see one), and the 3x3 stride-2 convolution is left alone."""
    from convscope.engine import tf_runtime

    tf_runtime.init("cpu")
    import keras
    import tensorflow as tf

    from convscope.engine.hooks import Intercept

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((60, 60, 3))
    stem = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    short = L.Conv2D(16, 1, strides=2, name="shortcut")(stem)
    body = L.Conv2D(16, 3, strides=2, padding="same", name="body")(stem)
    point = L.Conv2D(16, 1, name="pointwise")(L.Add(name="add")([short, body]))  # 1x1, stride 1
    m = keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(point)))

    def traced(guarded):
        @tf.function
        def grad(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                if guarded:
                    with Intercept(m, record=["stem"], tape=tape):
                        y = m(x, training=False)
                else:
                    y = m(x, training=False)
                s = tf.reduce_sum(y[:, 0])
            return tape.gradient(s, x)
        return _strided_convs(grad.get_concrete_function(tf.TensorSpec((4, 60, 60, 3))).graph)

    def pointwise_strided(convs):
        return [c for c in convs if c[1] == (1, 1) and c[2] != (1, 1)]

    plain, guarded = traced(False), traced(True)
    assert pointwise_strided(plain), plain  # the crashing shape is there without the guard
    assert not pointwise_strided(guarded), guarded
    assert ("Conv2D", (3, 3), (2, 2)) in guarded  # other convolutions are untouched
    assert ("Conv2D", (1, 1), (1, 1)) in guarded


def _strided_conv_nodes(concrete):
    """Convolution ops (forward or gradient) with a stride other than 1, anywhere in a
    traced function, the bodies of its loops included (the graph's function library)."""
    gdef = concrete.graph.as_graph_def()
    nodes = list(gdef.node) + [n for f in gdef.library.function for n in f.node_def]
    conv = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter")
    return [(n.op, list(n.attr["strides"].list.i)) for n in nodes
            if n.op in conv and list(n.attr["strides"].list.i) != [1, 1, 1, 1]]


def test_every_compiled_cam_and_ascent_graph_is_guarded(tmp_path):
    """The engine's own compiled functions (CAM's fused gradient, the filter ascent with its
    loop) run the model inside Intercept. The model's only strided convolution is the 1x1
    shortcut on 8 channels, so any strided convolution in their graphs would be it."""
    from convscope.engine import open_model, tf_runtime

    tf_runtime.init("cpu")
    import keras
    import tensorflow as tf

    from convscope.engine.filters import ascent as filters_mod
    from convscope.engine.cam import compute as cam_compute

    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((32, 32, 3))
    stem = L.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inp)
    x = L.Add(name="add")([L.Conv2D(8, 1, strides=2, name="shortcut")(stem),
                           L.MaxPooling2D(name="pool")(stem)])
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="top")(x)
    keras.Model(inp, L.Dense(3)(L.GlobalAveragePooling2D()(x))).save(tmp_path / "m.keras")
    m = open_model(str(tmp_path / "m.keras"))
    specs = (tf.TensorSpec((1, 32, 32, 3)), tf.TensorSpec((1,), tf.int32),
             tf.TensorSpec((1,), tf.float32))

    @tf.function
    def plain(x, unit, sign):  # the same gradient without the guard: the check can see it
        with tf.GradientTape() as tape:
            tape.watch(x)
            s = tf.reduce_sum(m.keras_model(x, training=False))
        return tape.gradient(s, x)

    assert _strided_conv_nodes(plain.get_concrete_function(*specs))
    fused = cam_compute._build_fused(m, "top").get_concrete_function(*specs)
    assert not _strided_conv_nodes(fused)
    m.filter_patterns("top", filters=[0], size=32, steps=1)  # compiles the ascent
    [ascent] = filters_mod._cache[m].values()
    nodes = _strided_conv_nodes(ascent._fn.get_concrete_function())
    assert not nodes, nodes
