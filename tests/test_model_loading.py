"""Opening every kind of model spec, and the layer tree."""
import os

import numpy as np
import pytest

from convscope.engine import UserError, open_model
from convscope.engine.layers import default_cam_layer


def test_keras_file_nested_two_levels(nested_path):
    m = open_model(nested_path)
    paths = [i.path for i in m.layers]
    assert "mobilenetv2_0.35_64/block_16_project" in paths
    assert "head_block/inner_block/squeeze" in paths  # two nesting levels
    info = m.layer("head_block/inner_block/squeeze")
    assert info.depth == 2 and info.output_shape == (2, 2, 32) and info.params == 1280 * 32 + 32
    assert m.layer("mobilenetv2_0.35_64").is_container
    assert m.head.activation == "softmax" and m.head.classes == 5
    assert m.input_shape == (64, 64, 3) and m.preprocess == "rescale"
    # default CAM layer: last spatial layer before GAP, nested leaf, not a 1x1 map
    assert m.default_cam_layer == "head_block/mid_relu"
    assert m.summary()["params"] == m.keras_model.count_params()


def test_sequential_sigmoid(seq_sigmoid_path):
    m = open_model(seq_sigmoid_path)
    assert m.head.activation == "sigmoid" and m.head.units == 1 and m.head.classes == 2
    assert m.default_cam_layer == "max_pooling2d_2"
    assert not m.layer("flatten_1").spatial


def test_binary_sigmoid_prediction_reports_both_classes(seq_sigmoid_path, images_dir):
    m = open_model(seq_sigmoid_path)
    preds = m.predict(str(images_dir / "plain.png"), top=2)
    p1 = float(m.scores(str(images_dir / "plain.png"))[0, 0])
    by_index = {p.index: p.score for p in preds}
    assert by_index[1] == pytest.approx(p1) and by_index[0] == pytest.approx(1 - p1)


def test_default_cam_layer_resnet_is_not_last_conv():
    import keras

    m = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3))
    from convscope.engine.layers import describe

    assert default_cam_layer(describe(m)) == "conv5_block3_out"  # the Add+ReLU, not conv5_block3_3_conv


def test_default_cam_layer_skips_mobilenet_1x1_head():
    import keras

    from convscope.engine.layers import describe

    m = keras.applications.MobileNet(weights=None, input_shape=(128, 128, 3), alpha=0.25)
    assert default_cam_layer(describe(m)) == "conv_pw_13_relu"


def test_builtin_random_weights_and_offline_imagenet_error(tmp_path, monkeypatch):
    m = open_model("builtin:mobilenetv2?weights=none")
    assert m.labels[386] == "African elephant" and m.preprocess == "tf"
    assert m.head.classes == 1000 and m.default_cam_layer == "out_relu"
    from keras.src.backend import config as keras_config

    # Offline on any machine: an empty cache, and the download pointed at a closed port.
    from keras.src.applications import vgg16

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(vgg16, "WEIGHTS_PATH", "http://127.0.0.1:9/unreachable/vgg16.h5")
    with pytest.raises(UserError, match="weights=none") as err:
        open_model("builtin:vgg16")
    assert str(tmp_path) in str(err.value)
    assert err.value.remedy.kind == "open_model"
    assert err.value.remedy.argument == "builtin:vgg16?weights=none"


def test_savedmodel_is_predict_only(tmp_path, seq_sigmoid_path, images_dir):
    import keras

    km = keras.saving.load_model(seq_sigmoid_path)
    km.export(str(tmp_path / "sm"), verbose=False)
    m = open_model(str(tmp_path / "sm"))
    assert m.predict_only and "Keras model" in m.note
    ref = open_model(seq_sigmoid_path)
    img = str(images_dir / "plain.png")
    np.testing.assert_allclose(m.scores(img), ref.scores(img), atol=1e-6)
    with pytest.raises(UserError, match="needs a Keras model"):
        m.activations(img, ["conv2d_1"])


def test_labels_sidecar(tmp_path, seq_sigmoid_path):
    import shutil

    p = tmp_path / "pets.keras"
    shutil.copy(seq_sigmoid_path, p)
    (tmp_path / "pets.labels.txt").write_text("cat\ndog\n")
    m = open_model(str(p))
    assert m.labels == ["cat", "dog"] and m.class_index("dog") == 1 and m.class_index(0) == 0
    with pytest.raises(UserError, match="out of range"):
        m.class_index(2)
    with pytest.raises(UserError, match="no class named"):
        m.class_index("horse")


@pytest.mark.parametrize("make, words", [
    (lambda d: d / "missing.keras", "not found"),
    (lambda d: _write(d / "corrupt.keras", b"PK\x03\x04garbage"), "not a valid .keras"),
    (lambda d: _write(d / "corrupt.h5", b"\x89HDF\r\n\x1a\nbroken"), "not a readable HDF5"),
    (lambda d: _write(d / "model.txt", b"hello"), "not a model file"),
    (lambda d: _mkdir(d / "folder"), "not a SavedModel"),
])
def test_bad_model_specs(tmp_path, make, words):
    with pytest.raises(UserError, match=words):
        open_model(str(make(tmp_path)))


def test_unknown_builtin_and_weights_only_h5(tmp_path):
    with pytest.raises(UserError, match="unknown built-in"):
        open_model("builtin:alexnet")
    import keras

    m = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(2, 3)])
    m.save_weights(str(tmp_path / "w.weights.h5"))
    with pytest.raises(UserError, match="weights only"):
        open_model(str(tmp_path / "w.weights.h5"))


def test_unknown_layer_and_non_spatial_layer(seq_sigmoid_path):
    m = open_model(seq_sigmoid_path)
    with pytest.raises(UserError, match="no layer 'conv9'"):
        m.layer("conv9")
    with pytest.raises(UserError, match="no spatial output"):
        m.layer("dense_1", spatial=True)


def _write(path, data):
    path.write_bytes(data)
    return path


def _mkdir(path):
    os.makedirs(path)
    return path


def test_model_paths_are_told_from_images_by_name(tmp_path):
    # What the window's FILE arguments and drops open as a model (engine.loading.is_model_path).
    saved = tmp_path / "exported"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    plain = tmp_path / "pictures"
    plain.mkdir()
    from convscope.engine.loading import is_model_path

    for name in ("net.keras", "legacy.h5", "LEGACY.H5", "old.hdf5"):
        assert is_model_path(str(tmp_path / name)), name
    assert is_model_path(str(saved))
    for path in (plain, tmp_path / "cat.png", tmp_path / "net.keras.png", tmp_path / "weights.npz"):
        assert not is_model_path(str(path)), path
