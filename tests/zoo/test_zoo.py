"""Every built-in architecture (convscope/engine/builtin_models.py), random weights, a small input:
info, predict, activations, Grad-CAM at the default layer, filters 0-1.

Each architecture is built once per test session (a session fixture parametrised by name;
pytest runs all tests of one architecture before building the next). The fast half runs in
CI; the rest is marked `zoo_slow` and deselected by default (pyproject addopts):
    python -m pytest tests/zoo -m zoo_slow      # the slow half
    python -m pytest tests/zoo -m ""            # all of it
"""
import numpy as np
import pytest

from convscope.engine.builtin_models import BUILTINS

# Fast half (CI): the squeeze-excitation families the default-layer rule got wrong, and
# MobileNet's 1x1-conv head, at 64 px. ResNet/VGG/... are in tests/test_model_loading.py too.
FAST = {"mobilenetv3small", "efficientnetb0", "mobilenet"}
# The smallest input each family takes (Inception/Xception: >= 75 / 71 px); 64 px keeps a
# 2x2 last map at stride 32, so the last conv block stays spatial.
# Inception's last map is 1x1 below ~139 px (so no map to explain at all).
SIDE = {"inceptionv3": 139, "inceptionresnetv2": 139, "xception": 96, "nasnetmobile": 96,
        "nasnetlarge": 96}

# The last conv block of each architecture, read from keras.applications' source. Names
# Keras numbers by creation order (activation_74, ...) are checked by the structural rule
# in _feeds_classifier_pooling instead.
LAST_BLOCK = {
    "vgg16": "block5_pool", "vgg19": "block5_pool",
    "resnet50": "conv5_block3_out", "resnet101": "conv5_block3_out",
    "resnet152": "conv5_block3_out", "resnet50v2": "post_relu", "resnet101v2": "post_relu",
    "resnet152v2": "post_relu", "xception": "block14_sepconv2_act",
    "inceptionv3": "mixed10", "inceptionresnetv2": "conv_7b_ac",
    "mobilenet": "conv_pw_13_relu", "mobilenetv2": "out_relu",
    "densenet121": "relu", "densenet169": "relu", "densenet201": "relu",
    "convnexttiny": "convnext_tiny_stage_3_block_2_identity",
    **{n: "top_activation" for n in BUILTINS if n.startswith("efficientnet")},
}


def _param(name):
    marks = () if name in FAST else (pytest.mark.zoo_slow,)
    return pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="session", params=[_param(n) for n in BUILTINS])
def zoo(request):
    """(name, ConvModel) built with random weights at a small input, once per session."""
    import gc

    from convscope.engine import tf_runtime
    from convscope.engine.labels import imagenet
    from convscope.engine.loading import Loaded
    from convscope.engine.model import ConvModel

    tf_runtime.init("auto")
    import keras

    name = request.param
    keras.utils.set_random_seed(0)
    side = SIDE.get(name, 64)
    ctor = getattr(keras.applications, BUILTINS[name].ctor)
    km = ctor(weights=None, input_shape=(side, side, 3))
    m = ConvModel(Loaded(keras_model=km, name=name, source=f"builtin:{name}?weights=none",
                         labels=imagenet(), auto_preprocess=BUILTINS[name].preprocess))
    yield name, m
    from convscope.engine.explore import cache as explore

    explore.clear() if hasattr(explore, "clear") else None
    del m, km
    keras.backend.clear_session()
    gc.collect()


@pytest.fixture(scope="module")
def photo():
    from skimage import data

    from convscope.engine.images import from_array

    return from_array(data.chelsea())


def _feeds_classifier_pooling(km) -> str:
    """Independent rule: the layer whose output the LAST global pooling of the model reads
    (SE blocks hold earlier GAPs; the classifier's is the last one); a model without global
    pooling (VGG): what its Flatten reads."""
    kinds = [type(layer).__name__ for layer in km.layers]
    pools = [layer for layer, k in zip(km.layers, kinds) if k in ("GlobalAveragePooling2D", "GlobalMaxPooling2D")] \
        or [layer for layer, k in zip(km.layers, kinds) if k == "Flatten"]
    producer = pools[-1].input._keras_history.operation
    return producer.name


def test_default_cam_layer_is_the_last_conv_block(zoo):
    name, m = zoo
    expected = LAST_BLOCK.get(name) or _feeds_classifier_pooling(m.keras_model)
    assert m.default_cam_layer == expected
    feeds = _feeds_classifier_pooling(m.keras_model)
    if name == "convnexttiny":
        # its pooling reads `inputs + branch`, a Keras op that is no layer (nothing ConvScope
        # can record); the nearest layer is the last block's branch output
        assert feeds.startswith("add") and m._by_path.get(feeds) is None
    else:
        assert feeds == expected
    info = m.layer(expected, spatial=True)
    h, w, _ = info.output_shape
    assert h * w > 1 and h <= 4  # the last block (stride 32 at 64-96 px), not a stem layer


def test_info_predict_activations(zoo, photo):
    name, m = zoo
    s = m.summary()
    assert s["head"]["classes"] == 1000 and s["default_cam_layer"] == m.default_cam_layer
    assert s["head"]["kind"] == "softmax"
    preds = m.predict(photo, top=5)
    scores = m.scores(photo)[0]
    assert len(preds) == 5 and abs(scores.sum() - 1.0) < 1e-3  # a softmax head
    assert preds[0].index == int(scores.argmax()) and preds[0].label == m.labels[preds[0].index]
    acts = m.activations(photo, [m.default_cam_layer])[m.default_cam_layer]
    assert acts.shape == m.layer(m.default_cam_layer).output_shape and np.isfinite(acts).all()


def test_gradcam_at_default_layer(zoo, photo):
    name, m = zoo
    cam = m.cam(photo, method="gradcam")
    layer = m.layer(m.default_cam_layer)
    assert cam.layer == m.default_cam_layer
    assert cam.heatmap.shape == layer.output_shape[:2]
    assert np.isfinite(cam.heatmap).all() and 0.0 <= cam.heatmap.min() and cam.heatmap.max() <= 1.0
    top = m.predict(photo, top=2)
    if top[0].score - top[1].score > 1e-6:  # random weights may tie (all 1/1000)
        assert cam.class_index == top[0].index
    assert 0 <= cam.class_index < 1000


def test_filters_0_1(zoo):
    name, m = zoo
    pats = m.filter_patterns(m.default_cam_layer, filters=[0, 1], steps=2)
    side = m.input_shape[0]
    assert pats.shape == (2, side, side, 3) and pats.dtype == np.uint8
    assert pats.std() > 0
