"""`convscope timeline`, `diff` and `cka` on a real recorded run of a small shapes network."""
import json
import os

import numpy as np
import pytest
from PIL import Image as P

from convscope.engine.cli import main as cli
from convscope.engine.demo_shapes import CLASSES, make_batch

from test_learning import SIZE, build


def run_cli(capsys, *argv):
    code = cli([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A run of 2 epochs with checkpoints and class names, and a folder of 8 images."""
    import keras

    from convscope.engine import Recorder

    root = tmp_path_factory.mktemp("learning")
    x, y, _ = make_batch(64, 5, size=SIZE)
    probes, labels, _ = make_batch(4, 6, size=SIZE)
    model = build()
    rec = Recorder(root / "run", images=list(probes), labels=list(labels), classes="label",
                   class_names=list(CLASSES))
    model.fit(x.astype(np.float32) / 255.0, keras.utils.to_categorical(y, 4), batch_size=16,
              epochs=2, verbose=0, shuffle=False, callbacks=[rec])
    images = root / "images"
    images.mkdir()
    pics, _, _ = make_batch(8, 9, size=SIZE)
    for i, p in enumerate(pics):
        P.fromarray(p).save(images / f"img{i}.png")
    return root


def ck(root, epoch):
    return root / "run" / "checkpoints" / f"epoch_{epoch:03d}.keras"


def test_timeline_figure_with_recipe(capsys, recorded, tmp_path):
    out = tmp_path / "timeline.pdf"
    code, stdout, err = run_cli(capsys, "timeline", "--run", recorded / "run", "--out", out)
    assert code == 0, err
    assert "3 epochs x 4 images" in stdout
    assert out.read_bytes()[:5] == b"%PDF-"
    recipe = json.loads((tmp_path / "timeline.pdf.json").read_text())
    assert recipe["figure"]["kind"] == "timeline"
    assert recipe["figure"]["epochs"] == [0, 1, 2]
    assert recipe["command"][:2] == ["convscope", "timeline"]
    assert len(recipe["layout"]["panels"]) == 12
    # the embedded copy is the same recipe
    from convscope.engine.figures.render import read_embedded

    assert read_embedded(str(out))["figure"] == recipe["figure"]
    # a subset: epochs 0 and 2, images 1 and 3, as PNG
    png = tmp_path / "t.png"
    code, stdout, err = run_cli(capsys, "timeline", "--run", recorded / "run", "--out", png,
                                "--epochs", "0,2", "--images", "1,3", "--dpi", "100")
    assert code == 0, err
    assert "2 epochs x 2 images" in stdout
    assert P.open(png).size[0] == pytest.approx(183 / 25.4 * 100, abs=2)


@pytest.mark.parametrize("argv, message", [
    (["--epochs", "7"], "epoch 7 is not recorded"),
    (["--method", "scorecam"], "recorded gradcam, not scorecam"),
    (["--layer", "conv1"], "recorded maps at conv2, not 'conv1'"),
    (["--images", "9"], "neither a probe number"),
])
def test_timeline_bad_choices_one_line(capsys, recorded, tmp_path, argv, message):
    out = tmp_path / "t.pdf"
    code, _, err = run_cli(capsys, "timeline", "--run", recorded / "run", "--out", out, *argv)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists() and not (tmp_path / "t.pdf.json").exists()


def test_timeline_on_a_folder_that_is_not_a_run(capsys, recorded, tmp_path):
    out = tmp_path / "t.pdf"
    code, _, err = run_cli(capsys, "timeline", "--run", recorded / "run" / "checkpoints", "--out", out)
    assert code == 2 and err.count("\n") == 1
    assert "is not a ConvScope run: it has no run.json (it holds 3 .keras file(s)" in err
    assert not out.exists()


def test_diff_of_a_model_with_itself_is_zero(capsys, recorded, tmp_path):
    image = recorded / "images" / "img0.png"
    npy = tmp_path / "d.npy"
    code, stdout, err = run_cli(capsys, "diff", "--model", ck(recorded, 2), "--model", ck(recorded, 2),
                                "--image", image, "--npy", npy, "--out", tmp_path / "d.pdf")
    assert code == 0, err
    d = np.load(npy)
    assert d.shape == (SIZE // 2, SIZE // 2) and not np.any(d)
    assert "largest |B - A| 0.000" in stdout


def test_diff_of_two_checkpoints_is_the_difference_of_their_maps(capsys, recorded, tmp_path):
    from convscope.engine import load_image, open_model

    image = recorded / "images" / "img3.png"
    npy = tmp_path / "d.npy"
    code, out, err = run_cli(capsys, "diff", "--model", ck(recorded, 0), "--model", ck(recorded, 2),
                             "--image", image, "--npy", npy, "--json")
    assert code == 0, err
    doc = json.loads(out)
    a, b = open_model(str(ck(recorded, 0))), open_model(str(ck(recorded, 2)))
    img = load_image(str(image))
    top = a.predict(img, top=1)[0].index
    assert doc["class_index"] == top and doc["label"] == CLASSES[top]  # the labels sidecar
    want = b.cam(img, layer="conv2", class_index=top).heatmap - a.cam(img, layer="conv2", class_index=top).heatmap
    d = np.load(npy)
    np.testing.assert_allclose(d, want, atol=1e-5)
    assert np.abs(d).max() > 0.05  # the two checkpoints do differ
    assert doc["max_abs_difference"] == pytest.approx(float(np.abs(want).max()), abs=1e-5)
    assert set(doc["activation_change"]) == {"conv1", "pool1", "conv2"}
    assert doc["only_in_a"] == [] and doc["only_in_b"] == []


def _other(tmp_path, size=SIZE, name="conv2", pool=True):
    """Another architecture: its pooling layer is pool_b, its last conv `name` (and,
    optionally, another input size, or no pooling)."""
    import keras

    L = keras.layers
    inp = keras.Input((size, size, 3))
    x = L.Conv2D(8, 3, activation="relu", padding="same", name="conv1")(inp)
    if pool:
        x = L.MaxPooling2D(name="pool_b")(x)
    x = L.Conv2D(6, 3, activation="relu", padding="same", name=name)(x)
    out = L.Dense(4, activation="softmax")(L.GlobalAveragePooling2D()(x))
    path = tmp_path / f"other_{size}_{name}_{pool}.keras"
    keras.Model(inp, out).save(path)
    return path


def test_diff_bad_pairs_one_line(capsys, recorded, tmp_path):
    image = recorded / "images" / "img0.png"
    out = tmp_path / "d.pdf"
    code, _, err = run_cli(capsys, "diff", "--model", ck(recorded, 2), "--model", _other(tmp_path, 32),
                           "--image", image, "--out", out)
    assert code == 2 and "different inputs" in err and "48x48x3" in err and "32x32x3" in err
    code, _, err = run_cli(capsys, "diff", "--model", ck(recorded, 2), "--model",
                           _other(tmp_path, SIZE, "conv_b"), "--image", image, "--out", out)
    assert code == 2 and err.count("\n") == 1
    assert "layer 'conv2' has no counterpart" in err and "no counterpart in B: pool1, conv2" in err
    code, _, err = run_cli(capsys, "diff", "--model", ck(recorded, 2), "--model",
                           _other(tmp_path, SIZE, "conv2", pool=False), "--image", image, "--out", out)
    assert code == 2 and "'conv2' makes 24x24 maps in epoch_002.keras but 48x48" in err
    code, _, err = run_cli(capsys, "diff", "--model", ck(recorded, 2), "--image", image, "--out", out)
    assert code == 2 and "give --model A --model B" in err
    assert not out.exists()


def test_diff_names_layers_without_counterpart(capsys, recorded, tmp_path):
    image = recorded / "images" / "img0.png"
    code, out, err = run_cli(capsys, "diff", "--model", ck(recorded, 2), "--model",
                             _other(tmp_path, SIZE, "conv2"), "--image", image, "--npy", tmp_path / "d.npy")
    assert code == 0, err
    assert "layers of A with no counterpart in B: pool1" in out
    assert "layers of B with no counterpart in A: pool_b" in out


def test_cka_of_a_model_against_itself_has_a_unit_diagonal(capsys, recorded, tmp_path):
    out = tmp_path / "cka.png"
    code, stdout, err = run_cli(capsys, "cka", "--model", ck(recorded, 2), "--images", recorded / "images",
                                "--batch-size", "4", "--json", "--out", out, "--dpi", "100")
    assert code == 0, err
    doc = json.loads(stdout)
    m = np.array(doc["matrix"], dtype=float)
    assert doc["layers_a"] == doc["layers_b"] == ["conv1", "pool1", "conv2"]
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-6)
    np.testing.assert_allclose(m, m.T, atol=1e-9)
    assert np.all(m[~np.eye(3, dtype=bool)] < 1 - 1e-4)  # other layers are not identical
    assert out.exists() and json.loads((tmp_path / "cka.png.json").read_text())["figure"]["kind"] == "cka"


def test_cka_across_checkpoints_and_architectures_equals_the_formula(capsys, recorded, tmp_path):
    """One minibatch of all 8 images: the full-batch unbiased CKA, recomputed here from the
    two models' activations with the formula written out in tests/test_cka.py."""
    from convscope.engine import load_image, open_model

    from test_cka import cka_direct

    other = _other(tmp_path, SIZE, "conv_b")
    code, stdout, err = run_cli(capsys, "cka", "--model", ck(recorded, 1), "--model", other,
                                "--images", recorded / "images", "--batch-size", "8", "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["layers_a"] == ["conv1", "pool1", "conv2"] and doc["layers_b"] == ["conv1", "pool_b", "conv_b"]
    m = np.array(doc["matrix"], dtype=float)
    imgs = [load_image(str(recorded / "images" / f"img{i}.png")) for i in range(8)]
    a, b = open_model(str(ck(recorded, 1))), open_model(str(other))
    xa = a.activations(imgs, layers=["conv2"])["conv2"].reshape(8, -1).astype(np.float64)
    xb = b.activations(imgs, layers=["conv_b"])["conv_b"].reshape(8, -1).astype(np.float64)
    assert m[2, 2] == pytest.approx(cka_direct(xa, xb), rel=1e-6)


def test_cka_bad_input_one_line(capsys, recorded, tmp_path):
    code, _, err = run_cli(capsys, "cka", "--model", ck(recorded, 2), "--images", recorded / "images",
                           "--batch-size", "2", "--json")
    assert code == 2 and "at least 4" in err
    few = tmp_path / "few"
    few.mkdir()
    P.fromarray(np.zeros((8, 8, 3), np.uint8)).save(few / "a.png")
    code, _, err = run_cli(capsys, "cka", "--model", ck(recorded, 2), "--images", few, "--json")
    assert code == 2 and "at least 4 images" in err
    code, _, err = run_cli(capsys, "cka", "--model", ck(recorded, 2), "--images", recorded / "images")
    assert code == 2 and "nothing to write" in err


@pytest.mark.parametrize("kind,argv,ext", [
    ("timeline", lambda r: ["timeline", "--run", r / "run", "--dpi", "80", "--epochs", "0,2"], "png"),
    ("timeline", lambda r: ["timeline", "--run", r / "run", "--images", "2,4"], "pdf"),
    ("diff", lambda r: ["diff", "--model", ck(r, 0), "--model", ck(r, 2), "--image",
                        r / "images" / "img3.png", "--dpi", "80"], "svg"),
    ("cka", lambda r: ["cka", "--model", ck(r, 1), "--model", ck(r, 2), "--images", r / "images",
                       "--batch-size", "4"], "pdf"),
])
def test_figure_recipe_remakes_a_learning_figure_byte_for_byte(capsys, recorded, tmp_path, kind, argv, ext):
    first, again = tmp_path / f"a.{ext}", tmp_path / f"b.{ext}"
    code, _, err = run_cli(capsys, *argv(recorded), "--out", first)
    assert code == 0, err
    recipe = json.loads((tmp_path / f"a.{ext}.json").read_text())
    assert recipe["command"][:2] == ["convscope", kind] and "--out" not in recipe["command"]
    source = str(first) if ext == "png" else str(first) + ".json"  # a PNG carries its recipe
    code, out, err = run_cli(capsys, "figure", "--recipe", source, "--out", again)
    assert code == 0, err
    assert first.read_bytes() == again.read_bytes()
    assert (tmp_path / f"a.{ext}.json").read_bytes() == (tmp_path / f"b.{ext}.json").read_bytes()
    assert out.startswith(f"{again}: ")


def test_figure_recipe_of_a_learning_figure_checks_its_inputs(capsys, recorded, tmp_path):
    import shutil

    a, b = tmp_path / "a.keras", tmp_path / "b.keras"
    shutil.copy(ck(recorded, 0), a)
    shutil.copy(ck(recorded, 2), b)
    fig = tmp_path / "d.png"
    code, _, err = run_cli(capsys, "diff", "--model", a, "--model", b, "--image",
                           recorded / "images" / "img3.png", "--out", fig, "--dpi", "60")
    assert code == 0, err
    with open(b, "ab") as f:
        f.write(b"\0")  # model B is another file now
    before = fig.read_bytes()
    code, _, err = run_cli(capsys, "figure", "--recipe", str(fig) + ".json")
    assert code == 2 and err.count("\n") == 1 and "b.keras has changed" in err
    assert "--allow-changed-inputs" in err and fig.read_bytes() == before
    # a damaged command: one line
    recipe = json.loads((tmp_path / "d.png.json").read_text())
    recipe["command"] = ["convscope", "rm", "-rf"]
    (tmp_path / "bad.png.json").write_text(json.dumps(recipe))
    code, _, err = run_cli(capsys, "figure", "--recipe", tmp_path / "bad.png.json")
    assert code == 2 and err.count("\n") == 1 and "damaged recipe" in err
