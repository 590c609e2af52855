"""`convscope predict` on a segmentation model (issue 21): the classes of its predicted mask,
each with its share and the region: target of its bounding box, recomputed here from the
model's own output; --out draws the mask with a legend; a classifier refuses --out."""
import json

import numpy as np
import pytest
from PIL import Image as P

from convscope.engine import demo_targets
from convscope.engine.cli import main as cli
from convscope.engine.model import open_model
from convscope.engine.targets import predicted_mask
from convscope.engine.targets.masks import PALETTE, box_to_input, class_regions


@pytest.fixture(scope="module")
def tm(tmp_path_factory):
    d = tmp_path_factory.mktemp("predict-mask")
    paths = demo_targets.save_all(str(d), epochs=0)
    big = np.asarray(P.open(paths["shape_0"]).resize((96, 128)))  # W 96, H 128: stretched
    P.fromarray(big).save(str(d / "tall.png"))
    paths["tall"] = str(d / "tall.png")
    return paths


def _expected(m, path):
    """Per class present: pixels and box, from the model's output argmax at the image's size."""
    import cv2

    img = np.asarray(P.open(path).convert("RGB"))
    z = m.keras_model.predict(m.prepare([path]), verbose=0)[0]
    cls = cv2.resize(z.argmax(-1).astype(np.uint8), (img.shape[1], img.shape[0]),
                     interpolation=cv2.INTER_NEAREST)
    out = {}
    for c in np.unique(cls):
        ys, xs = np.nonzero(cls == c)
        out[int(c)] = (len(ys), (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), img.shape[:2])
    return out


@pytest.mark.parametrize("image", ["shape_0", "tall"])
def test_predict_lists_the_mask_classes_with_their_region_targets(tm, image, capsys):
    m = open_model(tm["unet"])
    want = _expected(m, tm[image])
    code = cli(["predict", "--model", tm["unet"], "--image", tm[image], "--json"])
    got = json.loads(capsys.readouterr().out)
    assert code == 0 and got["output"] == "segmentation" and got["input_hw"] == [64, 64]
    assert {c["index"] for c in got["classes"]} == set(want)
    for c in got["classes"]:
        n, box, hw = want[c["index"]]
        assert c["pixels"] == n and c["fraction"] == pytest.approx(n / (hw[0] * hw[1]))
        assert tuple(c["box"]) == box_to_input(box, hw, (64, 64))
        assert c["target"] == f"region:{','.join(map(str, c['box']))}:{c['index']}"
        assert c["label"] == demo_targets.SEG_CLASSES[c["index"]]
    counts = [c["pixels"] for c in got["classes"]]
    assert counts == sorted(counts, reverse=True)
    # each listed target explains that class over its box: a map the CLI can make
    first = got["classes"][0]
    r = m.cam(tm[image], target=first["target"])
    assert r.target == first["target"] and r.class_index == first["index"]


def test_tall_image_box_is_in_input_pixels():
    assert box_to_input((0, 0, 96, 128), (128, 96), (64, 64)) == (0, 0, 64, 64)
    assert box_to_input((12, 32, 60, 96), (128, 96), (64, 64)) == (8, 16, 40, 48)


def test_predict_out_draws_the_mask_with_a_legend(tm, tmp_path, capsys):
    out = tmp_path / "mask.png"
    assert cli(["predict", "--model", tm["unet"], "--image", tm["shape_0"], "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "--target region:" in text and "wrote" in text
    pic = np.asarray(P.open(out).convert("RGB"))
    assert pic.shape[0] > 300 and pic.shape[1] > 300
    # the legend's patch of the largest class is drawn in its palette colour
    top = class_regions(predicted_mask(open_model(tm["unet"]), tm["shape_0"]))[0]
    colour = PALETTE[top.index % len(PALETTE)].astype(int)
    assert (np.abs(pic.astype(int) - colour).sum(-1) < 6).sum() > 20


def test_predict_out_on_a_classifier_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "m.png"
    assert cli(["predict", "--model", "demo", "--image", str(tmp_path / "none.png")]) == 2
    capsys.readouterr()
    img = tmp_path / "i.png"
    P.fromarray(np.zeros((32, 32, 3), np.uint8)).save(img)
    assert cli(["predict", "--model", "demo", "--image", str(img), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no per-pixel output" in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["i.png"]


def test_a_feature_map_is_not_a_segmentation_output(tmp_path, capsys):
    """A headless backbone ends in a feature map (a ReLU convolution, a pooling): no mask,
    no default region; a convolution's linear logits per pixel are a segmentation output."""
    import keras

    from convscope.engine.targets import heads
    from convscope.engine.targets.window import default_target

    L = keras.layers
    built = {}
    for name, make in (("relu", lambda x: L.Conv2D(4, 3, activation="relu")(x)),
                       ("pool", lambda x: L.MaxPooling2D()(L.Conv2D(4, 3, activation="relu")(x))),
                       ("logits", lambda x: L.Conv2D(3, 1)(L.Conv2D(4, 3, padding="same",
                                                                  activation="relu")(x)))):
        inp = keras.Input((32, 32, 3))
        built[name] = str(tmp_path / f"{name}.keras")
        keras.Model(inp, make(inp)).save(built[name])
    img = tmp_path / "i.png"
    P.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(img)
    for name in ("relu", "pool"):
        m = open_model(built[name])
        assert not heads(m)[0].segmentation and default_target(m) == ""
        # a feature map's default CAM layer stays the head walk's: the output layer itself
        assert m.default_cam_layer == [i.path for i in m.layers if i.spatial][-1]
        assert cli(["predict", "--model", built[name], "--image", str(img)]) == 2
        assert "no classifier head" in capsys.readouterr().err
    m = open_model(built["logits"])
    assert heads(m)[0].segmentation and default_target(m) == "region:0,0,32,32"
    # one resolution throughout: the layer before the output, never the logits themselves
    spatial = [i.path for i in m.layers if i.spatial and i.class_name != "InputLayer"]
    assert m.default_cam_layer == spatial[-2]
    assert cli(["predict", "--model", built["logits"], "--image", str(img), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"][0]["target"].startswith("region:")
