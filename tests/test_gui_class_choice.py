"""A class belongs to its model (issue 17): a class chosen on one model is not carried to
another (nor restored from a session onto another); a map that is zero everywhere says
so — on the window's canvas, in CamResult.as_dict and in `cam --json`.

Real windows (offscreen), the real engine thread, small models made here."""
import json
import os

import numpy as np
import pytest

from convscope.engine import jobs as J
from gui_support import image_files, settings_file, settle, spin, wait_until, window  # noqa: F401
from test_bridge import small_model_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(400)


def _choose(picker, index):
    """As a user picks a class in the list (the combo's `activated`)."""
    row = picker.findData(index)
    assert row > 0, f"class {index} not in the list"
    picker.setCurrentIndex(row)
    picker.activated.emit(row)


def test_class_chosen_on_one_model_falls_back_to_top_on_another(window, small_model_file):
    from convscope.gui.views.cam_options import model_identity

    w = window
    w.view("cam")
    picker = w.cam_view.cam_controls.classes
    small = w.session.model
    label2 = small.labels[2]
    _choose(picker, 2)
    settle(w, 120)
    assert w.cam_view.result.class_index == 2 and w.cam_view.result.label == label2
    saved = w.cam_options.saved()
    assert saved == {"class_index": 2, "class_label": label2,
                     "class_model": list(model_identity(small))}

    w.open_model("demo")  # another model: index 2 would be another class there
    wait_until(lambda: w.session.model is not small, 120, "the demo to load")
    settle(w, 120)
    assert w.cam_options.class_index is None
    assert picker.currentData() is None  # the list shows "top prediction"
    top = w.session.predictions[0].index
    assert w.cam_view.result.class_index == top, "the map explains the demo's top class"

    # a session saved on the small model, restored while the demo is open: top prediction
    w.cam_options.restore(saved["class_index"], saved["class_label"], saved["class_model"])
    assert w.cam_options.class_index is None
    # ... and restored on its own model it is kept
    w.open_model(small_model_file)
    wait_until(lambda: model_identity(w.session.model) == model_identity(small),
               120, "the small model to load")
    settle(w, 120)
    w.cam_options.restore(saved["class_index"], saved["class_label"], saved["class_model"])
    assert w.cam_options.class_index == 2
    # a label that does not match (another model with the same name) is not taken
    w.cam_options.restore(2, "not-this-label", saved["class_model"])
    assert w.cam_options.class_index is None
    settle(w, 120)


@pytest.fixture(scope="module")
def blind_model_file(tmp_path_factory):
    """conv (ReLU) -> GAP -> Dense(2): class 1's kernel column is negative, so its evidence
    (Grad-CAM = ReLU(sum_k w_k A_k) with w_k = kernel[k, 1] / (h w) < 0, A >= 0) is zero
    at every position; class 0's is positive."""
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    keras.utils.set_random_seed(1)
    L = keras.layers
    inp = keras.Input((32, 32, 3), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv")(inp)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    dense = L.Dense(2, activation="softmax", name="predictions")
    out = dense(x)
    model = keras.Model(inp, out, name="blind")
    kernel = np.abs(np.random.default_rng(0).normal(size=(8, 2))).astype("float32") + 0.1
    kernel[:, 1] *= -1.0
    dense.set_weights([kernel, np.zeros(2, "float32")])
    path = str(tmp_path_factory.mktemp("blind") / "blind.keras")
    model.save(path)
    return path


def test_an_all_zero_map_is_announced_in_api_and_cli(blind_model_file, image_files, capsys):
    from convscope.engine import open_model
    from convscope.engine.cli import main as cli

    m = open_model(blind_model_file)
    empty = m.cam(image_files[0], method="gradcam", class_index=1)
    assert not empty.heatmap.any() and empty.no_evidence
    assert empty.as_dict()["no_evidence"] is True
    full = m.cam(image_files[0], method="gradcam", class_index=0)
    assert full.heatmap.max() == pytest.approx(1.0) and not full.no_evidence
    assert full.as_dict()["no_evidence"] is False

    out = os.path.join(os.path.dirname(blind_model_file), "o.png")
    code = cli(["cam", "--model", blind_model_file, "--image", image_files[0], "--class", "1",
                "--out", out, "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["no_evidence"] is True and doc["class"] == 1


def test_an_all_zero_map_says_so_on_the_canvas(qapp, blind_model_file, image_files, tmp_path):
    from gui_support import open_window

    w = open_window(tmp_path / "c.ini", model=blind_model_file, images=[image_files[0]], view="cam")
    try:
        w.cam_options.set_class(1)
        settle(w, 120)
        r = w.cam_view.result
        assert r.class_index == 1 and r.no_evidence
        assert w.cam_view.canvas.showing_image()  # the image is shown, and the map said empty
        assert w.cam_view.canvas.note_text() == "no evidence for 1 in this image at conv"
        assert w.cam_view.canvas.note.isVisible()
        w.cam_options.set_class(0)
        settle(w, 120)
        assert not w.cam_view.result.no_evidence and w.cam_view.canvas.note_text() == ""
    finally:
        w.close()
        spin(50)
