"""The Keras 2 (tf.keras) HDF5 loader, on real files written by the `tf_keras` package."""
import copy
import json
import os
import shutil

import numpy as np
import pytest

from convscope.engine import tf_runtime  # noqa: E402

tf_runtime.init("auto")

import tf_keras  # noqa: E402,F401  (the [dev] extra: the files are written with it)

import h5py  # noqa: E402
import keras  # noqa: E402

import legacy_fixtures  # noqa: E402
from convscope.engine import legacy_h5  # noqa: E402
from convscope.engine.errors import UserError  # noqa: E402

ATOL = 1e-5


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return legacy_fixtures.write_all(tmp_path_factory.mktemp("legacy_h5"))


@pytest.fixture(scope="module")
def loaded(files):
    models = {}
    for name, fx in files.items():
        if name != "lambda_layer":
            models[name] = legacy_h5.load(fx.path)
    return models


def _edited_copy(src, dst, edit):
    """Copy an .h5 file and rewrite its model_config through `edit(config)`."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        config = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)
    return dst


def _find(config, name):
    """The layer entry called `name` anywhere in a config tree."""
    if isinstance(config, dict):
        conf = config.get("config")
        if isinstance(conf, dict) and conf.get("name") == name and "class_name" in config:
            return config
        values = config.values()
    elif isinstance(config, list):
        values = config
    else:
        return None
    for v in values:
        hit = _find(v, name)
        if hit is not None:
            return hit
    return None


# --- Keras 3 on its own -----------------------------------------------------------------

@pytest.mark.parametrize("name", list(legacy_fixtures.MAIN))
def test_keras3_still_refuses_these_files(files, name):
    """keras-team/keras#19151 / #19441: if this starts failing, Keras fixed it."""
    with pytest.raises(Exception) as info:
        keras.saving.load_model(files[name].path, compile=False)
    message = str(info.value)
    assert "groups" in message or "rng_type" in message, message[:300]


def test_keras3_alone_computes_hard_sigmoid_differently():
    """Why `hard_sigmoid` is translated: the same name means another function in Keras 3."""
    import tf_keras

    import tensorflow as tf

    x = np.linspace(-4, 4, 9).astype("float32")
    k2 = np.asarray(tf_keras.activations.hard_sigmoid(tf.constant(x)))
    k3 = np.asarray(keras.activations.hard_sigmoid(x))
    assert np.abs(k2 - k3).max() > 0.05
    np.testing.assert_allclose(np.asarray(legacy_h5.keras2_hard_sigmoid(x)), k2, atol=1e-7)


# --- the loader ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [*legacy_fixtures.MAIN, "tf_ops_and_misc"])
def test_loads_with_same_predictions_and_names(files, loaded, name):
    fx, model = files[name], loaded[name]
    assert isinstance(model, keras.Model)
    np.testing.assert_allclose(np.asarray(model(fx.x, training=False)), fx.y, atol=ATOL)
    # Keras 3 forbids '/' in names (Keras 2's DenseNet and MobileNetV3 use it): '_' instead
    assert [layer.name for layer in model.layers] == [n.replace("/", "_")
                                                      for n in fx.layer_names]
    for outer, inner_names in fx.nested.items():
        assert [layer.name for layer in model.get_layer(outer).layers] == inner_names


def test_misc_translations(loaded):
    model = loaded["tf_ops_and_misc"]
    assert "block_conv_a" in [layer.name for layer in model.layers]
    assert model.get_layer("ln").axis == [1, 2, 3]  # Keras 3's legacy reader would drop it
    assert isinstance(model.get_layer("crop"), keras.layers.Resizing)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"TFOpLambda", "SlicingOpLambda", "ThresholdedReLU"} <= kinds


def test_nested_backbone(files, loaded):
    model = loaded["nested_backbone"]
    backbone = model.get_layer("backbone")
    assert isinstance(backbone.get_layer("dw"), keras.layers.DepthwiseConv2D)
    assert backbone.trainable is False  # frozen in the file, frozen here
    assert all(not layer.trainable for layer in backbone.layers if layer.weights)
    assert {"tf.math.truediv", "tf.math.subtract"} <= {layer.name for layer in model.layers}
    # the inner model answers for itself too: called standalone (on the preprocessed input;
    # augmentation is the identity at inference), then put through the head by hand
    # (GAP, Dense, softmax), it gives tf_keras' own prediction of the whole model
    fx = files["nested_backbone"]
    inner = np.asarray(backbone(fx.x / 127.5 - 1.0, training=False), np.float64)
    assert inner.shape == (2, 16, 16, 16)
    kernel, bias = model.get_layer("probs").get_weights()
    logits = inner.mean(axis=(1, 2)) @ kernel + bias
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(probs, fx.y, rtol=1e-4, atol=ATOL)
    assert np.ptp(fx.y, axis=1).min() > 1e-3  # not a flat prediction that anything matches


def test_predictions_batch_independent(files, loaded):
    fx, model = files["nested_backbone"], loaded["nested_backbone"]
    one = np.asarray(model(fx.x[:1], training=False))
    np.testing.assert_allclose(one, fx.y[:1], atol=ATOL)


def test_mixed_precision_policy_kept(files, loaded):
    fx, model = files["mixed_precision"], loaded["mixed_precision"]
    assert model.get_layer("conv").dtype_policy.name == "mixed_float16"
    assert model.get_layer("logits").dtype_policy.name == "float32"
    # float16 arithmetic on both sides; they agree to float16 precision
    np.testing.assert_allclose(np.asarray(model(fx.x, training=False)), fx.y, atol=2e-2)


def test_lambda_needs_trust(files):
    fx = files["lambda_layer"]
    with pytest.raises(UserError) as info:
        legacy_h5.load(fx.path)
    message = str(info.value)
    # one line that names the layer and says how: --trust-model (open_model(trust_model=True))
    assert "'scale'" in message and "Lambda" in message and "--trust-model" in message
    assert "\n" not in message and info.value.remedy.kind == "trust_model"
    model = legacy_h5.load(fx.path, trust_code=True)
    np.testing.assert_allclose(np.asarray(model(fx.x, training=False)), fx.y, atol=ATOL)


def test_old_style_config_loads(files, tmp_path):
    """Older styles: no InputLayer in a Sequential (batch_input_shape on the first layer),
    initializers without module/registered_name (TF <= 2.12) and with a dtype (TF 1.x)."""
    fx = files["sequential_separable"]

    def old_style(config):
        layers = config["config"]["layers"]
        first_input = layers.pop(0)
        layers[0]["config"]["batch_input_shape"] = first_input["config"]["batch_input_shape"]

        def strip(node):
            if isinstance(node, dict):
                node.pop("module", None)
                node.pop("registered_name", None)
                if node.get("class_name") == "GlorotUniform":
                    node["config"]["dtype"] = "float32"
                for v in node.values():
                    strip(v)
            elif isinstance(node, list):
                for v in node:
                    strip(v)
        strip(config)

    path = _edited_copy(fx.path, tmp_path / "old_style.h5", old_style)
    model = legacy_h5.load(str(path))
    np.testing.assert_allclose(np.asarray(model(fx.x, training=False)), fx.y, atol=ATOL)


# --- what cannot be translated ------------------------------------------------------------

def test_grouped_depthwise_names_layer_and_setting(files, tmp_path):
    def groups2(config):
        _find(config, "dw")["config"]["groups"] = 2

    path = _edited_copy(files["nested_backbone"].path, tmp_path / "groups2.h5", groups2)
    with pytest.raises(UserError) as info:
        legacy_h5.load(str(path))
    message = str(info.value)
    assert "'backbone/dw'" in message and "DepthwiseConv2D" in message
    assert "groups=2" in message and ".keras" in message


def test_unknown_layer_class_names_layer(files, tmp_path):
    def custom(config):
        _find(config, "probs")["class_name"] = "MyFancyDense"

    path = _edited_copy(files["sequential_separable"].path, tmp_path / "custom.h5", custom)
    with pytest.raises(UserError) as info:
        legacy_h5.load(str(path))
    message = str(info.value)
    assert "'probs'" in message and "MyFancyDense" in message


def test_disallowed_tf_function_refused(files, tmp_path):
    def io_op(config):
        _find(config, "tf.math.truediv")["config"]["function"] = "io.write_file"

    path = _edited_copy(files["nested_backbone"].path, tmp_path / "io.h5", io_op)
    with pytest.raises(UserError) as info:
        legacy_h5.load(str(path))
    assert "tf.io.write_file" in str(info.value) and "'tf.math.truediv'" in str(info.value)


def test_weights_not_fitting_raise(files, tmp_path):
    def wider(config):
        _find(config, "probs")["config"]["units"] = 5

    path = _edited_copy(files["sequential_separable"].path, tmp_path / "wider.h5", wider)
    with pytest.raises(UserError) as info:
        legacy_h5.load(str(path))
    message = str(info.value)
    assert "'probs'" in message and "(16, 5)" in message and "(16, 4)" in message


def test_weights_in_another_order_refused(files, tmp_path):
    """gamma, beta, moving mean and variance share a shape: a different order in the file
    must not be loaded silently."""
    path = tmp_path / "swapped.h5"
    shutil.copyfile(files["sequential_separable"].path, path)
    with h5py.File(path, "r+") as f:
        group = f["model_weights/bn1"]
        names = list(group.attrs["weight_names"])
        group.attrs["weight_names"] = [names[1], names[0], *names[2:]]
    with pytest.raises(UserError) as info:
        legacy_h5.load(str(path))
    assert "'bn1'" in str(info.value) and "order" in str(info.value)


def test_truncated_file(files, tmp_path):
    with open(files["functional_residual"].path, "rb") as f:
        data = f.read()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(UserError, match="corrupt or truncated"):
        legacy_h5.load(str(path))


def test_not_hdf5(tmp_path):
    path = tmp_path / "garbage.h5"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(UserError, match="not a readable HDF5 file"):
        legacy_h5.load(str(path))


def test_weights_only_file(tmp_path):
    import tf_keras

    model = tf_keras.Sequential([tf_keras.Input((4,)), tf_keras.layers.Dense(2)])
    path = str(tmp_path / "only.weights.h5")
    model.save_weights(path)
    with pytest.raises(UserError, match="weights only"):
        legacy_h5.load(path)


def test_translate_config_leaves_input_alone(files):
    with h5py.File(files["nested_backbone"].path, "r") as f:
        config = json.loads(f.attrs["model_config"])
    before = copy.deepcopy(config)
    translated, notes = legacy_h5.translate_config(config)
    assert config == before
    assert _find(translated, "dw")["config"].get("groups") is None
    assert any("groups=1" in n for n in notes)


def test_open_model_end_to_end_on_legacy_nested_file(files):
    """The engine opens a Keras 2 transfer-learning file and shows its inner layers."""
    import keras

    from convscope.engine import from_array, open_model

    fx = files["nested_backbone"]
    m = open_model(str(fx.path), preprocess="none")
    assert "Keras 2 compatibility loader" in m.note
    assert "backbone/dw" in [i.path for i in m.layers]
    pixels = (fx.x[0]).astype("float32")  # the fixture's input, already in 0..255
    img = from_array(pixels.round().astype("uint8"))
    act = m.activations(img, ["backbone/dw"])["backbone/dw"]
    backbone = m.keras_model.get_layer("backbone")
    sub = keras.Model(backbone.inputs, backbone.get_layer("dw").output)
    x = m.prepare(img) / 127.5 - 1.0  # the model's own preprocess_input, by hand
    np.testing.assert_allclose(act, sub(x, training=False).numpy()[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(m.scores(img).sum(), 1.0, atol=1e-5)
