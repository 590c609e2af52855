"""Real HDF5 model files written by Keras 2 (the `tf_keras` package), for the legacy loader.

Each function builds a tiny tf_keras model (32x32x3 input, few channels), gives every
weight a random value (so BatchNormalization statistics are not the identity and a swapped
weight would show), saves it with `model.save(path)` to an `.h5` path, as Keras 2 does, and
returns a `LegacyFixture` with the path, a fixed random input and tf_keras' prediction on it.

tf_keras and Keras 3 import side by side in one process (checked with TF 2.21 / Keras 3.15),
so no subprocess is needed. No gradients are computed here (TensorFlow's CPU build crashes on
the gradient of some 1x1 stride-2 convolutions); only forward passes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

SIDE = 32


@dataclass
class LegacyFixture:
    name: str
    path: str
    x: np.ndarray  # input, float32 (2, 32, 32, 3)
    y: np.ndarray  # tf_keras' prediction on x (training=False)
    layer_names: list[str]  # names of the top-level layers, as tf_keras has them
    nested: dict[str, list[str]]  # nested model name -> names of its layers


def _tk():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras

    return tf_keras


def _randomise(model, seed: int):
    """Random weights; variances positive, everything else around 0 with spread."""
    rng = np.random.RandomState(seed)
    for w in model.weights:
        shape = tuple(w.shape)
        if "moving_variance" in w.name:
            value = rng.uniform(0.5, 2.0, shape)
        elif "gamma" in w.name:
            value = rng.uniform(0.5, 1.5, shape)
        else:
            value = rng.normal(0.0, 0.4, shape)
        w.assign(value.astype(w.dtype.name if hasattr(w.dtype, "name") else "float32"))


def _input(seed: int, scale: float = 1.0) -> np.ndarray:
    return (np.random.RandomState(seed).uniform(0, 1, (2, SIDE, SIDE, 3)) * scale).astype(
        "float32")


def _finish(name, model, directory, seed, scale=1.0) -> LegacyFixture:
    _randomise(model, seed)
    path = os.path.join(os.fspath(directory), f"{name}.h5")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 is legacy" warning
        model.save(path)  # .h5 suffix -> Keras 2 HDF5 format
    x = _input(seed + 1000, scale)
    y = np.asarray(model(x, training=False))
    nested = {layer.name: [inner.name for inner in layer.layers]
              for layer in model.layers if isinstance(layer, _tk().Model)}
    return LegacyFixture(name, path, x, y, [layer.name for layer in model.layers], nested)


def sequential_separable(directory) -> LegacyFixture:
    """(1) Sequential: SeparableConv2D, DepthwiseConv2D, BatchNormalization, GAP + softmax."""
    tk = _tk()
    L = tk.layers
    model = tk.Sequential([
        L.InputLayer((SIDE, SIDE, 3)),
        L.SeparableConv2D(8, 3, padding="same", name="sep1"),
        L.BatchNormalization(name="bn1"),
        L.ReLU(name="relu1"),
        L.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same", name="dw1"),
        L.BatchNormalization(name="bn2"),
        L.ReLU(6.0, name="relu6"),
        L.GlobalAveragePooling2D(name="gap"),
        L.Dense(4, activation="softmax", name="probs"),
    ], name="seq_separable")
    return _finish("sequential_separable", model, directory, seed=1)


def functional_residual(directory) -> LegacyFixture:
    """(2) Functional: residual Add, BatchNormalization, SeparableConv2D, Flatten + sigmoid."""
    tk = _tk()
    L = tk.layers
    inp = tk.Input((SIDE, SIDE, 3), name="image")
    stem = L.Conv2D(8, 3, strides=2, padding="same", name="stem")(inp)
    stem = L.BatchNormalization(name="stem_bn")(stem)
    stem = L.ReLU(name="stem_relu")(stem)
    h = L.SeparableConv2D(8, 3, padding="same", name="sep")(stem)
    h = L.BatchNormalization(name="sep_bn")(h)
    h = L.Add(name="residual")([stem, h])
    h = L.ReLU(name="out_relu")(h)
    h = L.MaxPooling2D(4, name="pool")(h)
    h = L.Flatten(name="flatten")(h)
    out = L.Dense(1, activation="sigmoid", name="score")(h)
    return _finish("functional_residual", tk.Model(inp, out, name="residual_net"), directory,
                   seed=2)


def nested_backbone(directory) -> LegacyFixture:
    """(3) The transfer-learning shape of TensorFlow's tutorial: augmentation Sequential,
    `preprocess_input` inside the model (TFOpLambda), a frozen Functional backbone with
    DepthwiseConv2D and BatchNormalization called with training=False, a new head."""
    tk = _tk()
    L = tk.layers
    b_in = tk.Input((SIDE, SIDE, 3), name="backbone_input")
    b = L.Conv2D(8, 3, strides=2, padding="same", name="conv1")(b_in)
    b = L.BatchNormalization(name="conv1_bn")(b)
    b = L.ReLU(6.0, name="conv1_relu")(b)
    b = L.DepthwiseConv2D(3, padding="same", name="dw")(b)
    b = L.BatchNormalization(name="dw_bn")(b)
    b = L.ReLU(6.0, name="dw_relu")(b)
    b = L.Conv2D(16, 1, name="project")(b)
    b = L.BatchNormalization(name="project_bn")(b)
    backbone = tk.Model(b_in, b, name="backbone")
    augment = tk.Sequential([L.RandomFlip("horizontal"), L.RandomRotation(0.1)],
                            name="data_augmentation")

    inp = tk.Input((SIDE, SIDE, 3), name="image")
    h = augment(inp)
    h = tk.applications.mobilenet_v2.preprocess_input(h)  # x / 127.5 - 1 as TFOpLambda
    h = backbone(h, training=False)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    h = L.Dropout(0.2, name="dropout")(h)
    out = L.Dense(3, activation="softmax", name="probs")(h)
    model = tk.Model(inp, out, name="transfer")
    backbone.trainable = False  # frozen, as in the tutorial's first training phase
    return _finish("nested_backbone", model, directory, seed=3, scale=255.0)


def conv_transpose(directory) -> LegacyFixture:
    """(4) Functional encoder-decoder with Conv2DTranspose."""
    tk = _tk()
    L = tk.layers
    inp = tk.Input((SIDE, SIDE, 3), name="image")
    h = L.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="down")(inp)
    h = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="up")(h)
    out = L.Conv2D(2, 1, activation="sigmoid", name="mask")(h)
    return _finish("conv_transpose", tk.Model(inp, out, name="tiny_unet"), directory, seed=4)


def tf_ops_and_misc(directory) -> LegacyFixture:
    """(5) The other things real tf_keras files hold that Keras 3 refuses or misreads:
    RandomCrop (Keras 3 no longer crops at inference), a layer name with '/', TFOpLambda
    with a tensor keyword argument and with a constant first argument, tf.concat, slicing
    (SlicingOpLambda), the `hard_sigmoid`
    activation, ThresholdedReLU, LayerNormalization over three axes, SpatialDropout2D and
    a nested Sequential."""
    tk = _tk()
    import tensorflow as tf

    L = tk.layers
    inp = tk.Input((SIDE, SIDE, 3), name="image")
    x = L.RandomCrop(28, 28, name="crop")(inp)
    a = L.Conv2D(4, 3, padding="same", name="block/conv_a")(x)
    b = L.Conv2D(4, 3, padding="same", activation="hard_sigmoid", name="conv_b")(x)
    s = a + b  # tf.__operators__.add with y=<tensor>
    c = tf.concat([s, a * 0.5], axis=-1)
    c = c[:, ::2, 1:, ...]  # (14, 27, 8)
    c = 1.0 - c  # recorded as tf.math.subtract(1.0, y=c): a constant first argument
    c = L.ThresholdedReLU(0.1, name="thresh")(c)
    c = L.LayerNormalization(axis=[1, 2, 3], name="ln")(c)
    c = L.SpatialDropout2D(0.2, name="sdrop")(c)
    head = tk.Sequential([L.InputLayer((14, 27, 8)), L.GlobalAveragePooling2D(),
                          L.Dense(3, activation="hard_sigmoid")], name="head")
    out = head(c)
    return _finish("tf_ops_and_misc", tk.Model(inp, out, name="ops_net"), directory, seed=5)


def lambda_layer(directory) -> LegacyFixture:
    """A Lambda layer (Python bytecode in the file)."""
    tk = _tk()
    L = tk.layers
    inp = tk.Input((SIDE, SIDE, 3), name="image")
    h = L.Lambda(lambda t: t * 0.5 - 0.25, name="scale")(inp)
    h = L.Conv2D(4, 3, name="conv")(h)
    out = L.GlobalAveragePooling2D(name="gap")(h)
    return _finish("lambda_layer", tk.Model(inp, out, name="lambda_net"), directory, seed=6)


def mixed_precision(directory) -> LegacyFixture:
    """Layers with a `mixed_float16` dtype policy (saved as a policy dict by Keras 2)."""
    tk = _tk()
    L = tk.layers
    inp = tk.Input((SIDE, SIDE, 3), name="image")
    h = L.Conv2D(4, 3, dtype="mixed_float16", name="conv")(inp)
    h = L.GlobalAveragePooling2D(dtype="mixed_float16", name="gap")(h)
    out = L.Dense(2, dtype="float32", name="logits")(h)
    return _finish("mixed_precision", tk.Model(inp, out, name="mixed_net"), directory, seed=7)


MAIN = {
    "sequential_separable": sequential_separable,
    "functional_residual": functional_residual,
    "nested_backbone": nested_backbone,
    "conv_transpose": conv_transpose,
}
EXTRA = {
    "tf_ops_and_misc": tf_ops_and_misc,
    "lambda_layer": lambda_layer,
    "mixed_precision": mixed_precision,
}


def write_all(directory) -> dict[str, LegacyFixture]:
    return {name: make(directory) for name, make in {**MAIN, **EXTRA}.items()}
