"""Models researchers have: squeeze-excitation networks (default CAM layer), custom layers
(--custom-objects), Lambda layers (--trust-model), several outputs."""
import importlib.util
import json
import sys

import numpy as np
import pytest

from convscope.engine import UserError, from_array, open_model
from convscope.engine.cli import main as cli

LAYERS_PY = '''
import keras


@keras.saving.register_keras_serializable(package="lab")
class ScaledConv(keras.layers.Conv2D):
    """A registered custom layer."""

    def __init__(self, *args, scale=2.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = scale

    def call(self, x):
        return super().call(x) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class Offset(keras.layers.Layer):
    """An unregistered one: found by its name in the --custom-objects code."""

    def call(self, x):
        return x + 0.5
'''


def _keras():
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    return keras


def _se(L, x, name):
    """A squeeze-excitation block: its GAP's result multiplies back into the map."""
    c = x.shape[-1]
    s = L.GlobalAveragePooling2D(name=f"{name}_squeeze")(x)
    s = L.Dense(max(2, c // 4), activation="relu", name=f"{name}_reduce")(s)
    s = L.Dense(c, activation="sigmoid", name=f"{name}_expand")(s)
    s = L.Reshape((1, 1, c), name=f"{name}_reshape")(s)
    return L.Multiply(name=f"{name}_excite")([x, s])


def _se_keepdims(L, x, name):
    """EfficientNet's form: GAP(keepdims) -> 1x1 convs -> multiply."""
    c = x.shape[-1]
    s = L.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = L.Conv2D(max(2, c // 4), 1, activation="relu", name=f"{name}_reduce")(s)
    s = L.Conv2D(c, 1, activation="sigmoid", name=f"{name}_expand")(s)
    return L.Multiply(name=f"{name}_excite")([x, s])


def _se_net(keras, se, end_in_se=False, name="se_net"):
    L = keras.layers
    inp = keras.Input((32, 32, 3))
    x = L.Conv2D(8, 3, activation="relu", name="stem")(inp)
    x = se(L, x, "se1")
    x = L.Conv2D(16, 3, strides=2, activation="relu", name="conv2")(x)
    x = se(L, x, "se2")
    x = L.Conv2D(16, 3, activation="relu", name="last_conv")(x)
    if end_in_se:
        x = se(L, x, "se3")
    x = L.GlobalAveragePooling2D(name="head_gap")(x)
    x = L.Dropout(0.2, name="head_drop")(x)
    return keras.Model(inp, L.Dense(3, activation="softmax", name="predictions")(x), name=name)


@pytest.fixture(scope="module")
def se_models(tmp_path_factory):
    keras = _keras()
    keras.utils.set_random_seed(11)
    L = keras.layers
    folder = tmp_path_factory.mktemp("se")
    made = {
        "dense_se": _se_net(keras, _se),
        "conv_se": _se_net(keras, _se_keepdims),
        "ends_in_se": _se_net(keras, _se_keepdims, end_in_se=True),
    }
    backbone = _se_net(keras, _se_keepdims, name="backbone")
    backbone = keras.Model(backbone.input, backbone.get_layer("last_conv").output, name="backbone")
    inp = keras.Input((32, 32, 3))
    x = L.GlobalAveragePooling2D(name="gap")(backbone(inp))
    made["nested_se"] = keras.Model(inp, L.Dense(2, activation="softmax", name="out")(x))
    paths = {}
    for name, model in made.items():
        paths[name] = str(folder / f"{name}.keras")
        model.save(paths[name])
    return paths


@pytest.mark.parametrize("name, expected", [
    ("dense_se", "last_conv"), ("conv_se", "last_conv"), ("ends_in_se", "se3_excite"),
    ("nested_se", "backbone/last_conv")])
def test_default_cam_layer_on_squeeze_excitation_models(se_models, name, expected):
    m = open_model(se_models[name])
    assert m.default_cam_layer == expected
    cam = m.cam(from_array(np.full((32, 32, 3), 90, np.uint8)))
    assert cam.layer == expected and cam.heatmap.shape == m.layer(expected).output_shape[:2]


def test_two_pooled_branches_fall_back_to_the_order_rule():
    """A head that merges two pooled branches: the walk cannot choose, the order rule does."""
    keras = _keras()
    L = keras.layers
    inp = keras.Input((24, 24, 3))
    a = L.Conv2D(4, 3, activation="relu", name="branch_a")(inp)
    b = L.Conv2D(4, 5, activation="relu", name="branch_b")(inp)
    x = L.Concatenate(name="merge")([L.GlobalAveragePooling2D(name="gap_a")(a),
                                     L.GlobalAveragePooling2D(name="gap_b")(b)])
    km = keras.Model(inp, L.Dense(2, activation="softmax")(x))
    from convscope.engine import default_layer
    from convscope.engine.layers import describe

    infos = describe(km)
    assert default_layer.walk_head(km, {i.path for i in infos}) is None
    assert default_layer.find(km, infos) == "branch_b"


# -- the user's code -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def custom(tmp_path_factory):
    """A model with a registered and an unregistered custom layer, saved; then the classes
    are forgotten (unregistered, module gone), as in a fresh process."""
    keras = _keras()
    folder = tmp_path_factory.mktemp("custom")
    code = folder / "lab_layers.py"
    code.write_text(LAYERS_PY)
    spec = importlib.util.spec_from_file_location("lab_layers_build", code)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    L = keras.layers
    keras.utils.set_random_seed(4)
    inp = keras.Input((20, 20, 3))
    x = mod.ScaledConv(4, 3, scale=3.0, name="scaled")(inp)
    x = mod.Offset(name="offset")(x)
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, L.Dense(2, activation="softmax")(x))
    path = folder / "lab.keras"
    model.save(path)
    x = np.random.default_rng(0).uniform(0, 1, (1, 20, 20, 3)).astype(np.float32)
    y = model.predict(x, verbose=0)
    keras.saving.get_custom_objects().pop("lab>ScaledConv")
    sys.modules.pop(spec.name)
    return {"path": str(path), "code": str(code), "folder": folder, "x": x, "y": y}


def _forget_registration():
    """Importing the user's code registers ScaledConv for the process; start from none."""
    _keras().saving.get_custom_objects().pop("lab>ScaledConv", None)


def test_custom_layer_refused_with_the_class_and_the_flag(custom):
    _forget_registration()
    with pytest.raises(UserError) as info:
        open_model(custom["path"])
    msg = str(info.value)
    assert "'ScaledConv'" in msg and "--custom-objects" in msg and "\n" not in msg


def test_custom_layer_opens_with_custom_objects_file(custom):
    m = open_model(custom["path"], custom_objects=custom["code"])
    np.testing.assert_allclose(m.keras_model.predict(custom["x"], verbose=0), custom["y"], rtol=1e-5)
    assert m.default_cam_layer == "offset"


def test_custom_objects_as_module_name_and_on_the_cli(custom, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(custom["folder"]))
    m = open_model(custom["path"], custom_objects="lab_layers")
    np.testing.assert_allclose(m.keras_model.predict(custom["x"], verbose=0), custom["y"], rtol=1e-5)
    code = cli(["info", "--model", custom["path"], "--custom-objects", custom["code"], "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["default_cam_layer"] == "offset"
    _forget_registration()
    code = cli(["info", "--model", custom["path"]])
    out, err = capsys.readouterr()
    assert code == 2 and "ScaledConv" in err and "--custom-objects" in err and len(err.splitlines()) == 1


def test_custom_objects_code_without_the_class_or_broken(custom, tmp_path):
    _forget_registration()
    empty = tmp_path / "other.py"
    empty.write_text("def helper():\n    return 1\n")
    with pytest.raises(UserError, match="does not define .*helper"):
        open_model(custom["path"], custom_objects=str(empty))
    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\ndef (:\n")
    with pytest.raises(UserError, match=r"broken.py line 2: running it failed \(SyntaxError"):
        open_model(custom["path"], custom_objects=str(broken))
    with pytest.raises(UserError, match="no such file"):
        open_model(custom["path"], custom_objects=str(tmp_path / "absent.py"))
    with pytest.raises(UserError, match="importing it failed"):
        open_model(custom["path"], custom_objects="no_such_package.layers")


def test_sidecar_code_is_found_not_run(custom):
    from convscope.engine.model_options import sidecar_code

    assert sidecar_code(custom["path"]) is None
    _forget_registration()
    side = custom["folder"] / "lab.custom.py"
    side.write_text(LAYERS_PY)
    try:
        assert sidecar_code(custom["path"]) == str(side)
        with pytest.raises(UserError) as info:  # present, but not imported without asking
            open_model(custom["path"])
        assert info.value.remedy is not None and info.value.remedy.kind == "custom_objects"
    finally:
        side.unlink()


# -- Lambda layers ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory):
    keras = _keras()
    L = keras.layers
    keras.utils.set_random_seed(6)
    inp = keras.Input((20, 20, 3))
    x = L.Lambda(lambda t: t * 0.5 - 0.25, name="scale")(inp)
    x = L.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = L.GlobalAveragePooling2D()(x)
    model = keras.Model(inp, L.Dense(2, activation="softmax")(x))
    path = tmp_path_factory.mktemp("lambda") / "lam.keras"
    model.save(path)
    x = np.random.default_rng(1).uniform(0, 1, (1, 20, 20, 3)).astype(np.float32)
    return str(path), x, model.predict(x, verbose=0)


def test_lambda_refused_in_one_line_and_opened_with_trust(lambda_model, capsys):
    path, x, y = lambda_model
    with pytest.raises(UserError) as info:
        open_model(path)
    msg = str(info.value)
    assert "Lambda" in msg and "--trust-model" in msg and "\n" not in msg
    assert "safe_mode" not in msg  # Keras' advice is not something the user can act on here
    assert info.value.remedy.kind == "trust_model" and info.value.remedy.argument == path
    m = open_model(path, trust_model=True)
    np.testing.assert_allclose(m.keras_model.predict(x, verbose=0), y, rtol=1e-5)
    code = cli(["predict", "--model", path, "--image", _png(x, path), "--trust-model"])
    out, err = capsys.readouterr()
    assert code == 0, err
    code = cli(["predict", "--model", path, "--image", _png(x, path)])
    out, err = capsys.readouterr()
    assert code == 2 and "--trust-model" in err and len(err.splitlines()) == 1


def _png(x, near):
    from PIL import Image as P

    out = near[:-6] + ".png"
    P.fromarray((x[0] * 255).astype(np.uint8)).save(out)
    return out


# -- several outputs -------------------------------------------------------------------------
def two_heads_file(folder) -> str:
    """A model with two outputs, 'species' (softmax over 3) and 'box' (4 linear units)."""
    keras = _keras()
    L = keras.layers
    inp = keras.Input((20, 20, 3))
    x = L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu", name="conv")(inp))
    model = keras.Model(inp, [L.Dense(3, activation="softmax", name="species")(x),
                              L.Dense(4, name="box")(x)])
    path = str(folder / "two_heads.keras")
    model.save(path)
    return path


def test_multi_output_model_says_views_explain_the_first(tmp_path, capsys):
    path = two_heads_file(tmp_path)
    m = open_model(path)
    s = m.describe()
    assert s.outputs == 2 and s.output_names == ("species", "box")
    assert "2 outputs" in s.outputs_note() and "'species'" in s.outputs_note()
    assert m.head.classes == 3 and m.head.kind == "softmax"  # the first output's head
    code = cli(["info", "--model", path])
    out, _ = capsys.readouterr()
    assert code == 0 and "explains the first, 'species'" in out
    one = open_model("demo").describe()
    assert one.outputs == 1 and one.outputs_note() == ""
