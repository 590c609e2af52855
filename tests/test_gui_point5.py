"""Issue 17, point 5 (the window's part): each small thing a new user saw, on a real window
(offscreen), the real engine thread and a small model made here."""
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from convscope.engine import jobs as J
from convscope.engine import session_io
from gui_support import (drop, image_files, open_window, settings_file, settle, spin,  # noqa: F401
                         wait_until, window)
from test_bridge import small_model_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(400)


def test_views_say_opening_while_the_model_loads(qapp, small_model_file, image_files, tmp_path):
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings

    w = MainWindow(Settings.at(str(tmp_path / "c.ini")),
                   Startup(model=small_model_file, images=[image_files[0]], view="activations"))
    w.show()
    try:
        spin(30)
        assert w.session.model is None, "the model loaded before the test could look"
        text = w.activations_view.canvas.message()
        assert text.startswith("Opening ") and small_model_file in text, text
        assert "Open a model" not in text
        wait_until(lambda: w.session.model is not None, 120, "the model")
        settle(w)
        assert w.activations_view.canvas.showing_image()
    finally:
        w.close()
        spin(50)


def test_previous_models_predictions_go_with_it(window, small_model_file):
    w = window
    settle(w)
    old = w.image_panel.predictions.predictions
    assert old, "the small model's predictions are shown"
    seen = []  # what the predictions panel shows the moment the new model is in
    w.client.subscribe(J.ModelLoaded, lambda r: seen.append(tuple(w.image_panel.predictions.predictions)))
    w.open_model("demo")
    wait_until(lambda: seen, 120, "the demo to load")
    assert seen[0] == (), f"the previous model's predictions still shown: {seen[0]}"
    settle(w, 120)
    assert {p.label for p in w.image_panel.predictions.predictions} <= set(w.session.model.labels)
    w.open_model(small_model_file)
    wait_until(lambda: w.session.model.summary.source == small_model_file, 120)
    settle(w, 120)


def test_arrow_keys_in_the_tree_move_the_cam_view(window):
    w = window
    w.view("cam")
    w.cam_options.set_follow_tree(False)
    settle(w)
    default = w.session.default_layer()
    assert w.cam_view.result.layer == default
    tree = w.model_panel.tree
    w.model_panel.select("conv1")
    tree.setFocus()
    QTest.keyClick(tree, Qt.Key.Key_Down)  # conv1 -> the next layer (pool1)
    spin(50)
    moved = w.session.layer
    assert moved not in ("conv1", default) and w.session.layer_info(moved).spatial
    settle(w)
    assert w.cam_view.result.layer == moved, "the CAM view stayed on its layer"
    assert w.cam_options.follow_tree
    w.cam_options.set_follow_tree(False)
    w.session.set_layer(default)
    settle(w)


def test_job_names_are_words_in_the_status_bar(window):
    from convscope.engine.dataset import jobs as DJ

    assert DJ.FindExamples().describe() == "find examples"
    for cls in (DJ.FindExamples, DJ.DatasetIndex, DJ.DatasetBatch):
        text = cls().describe()
        assert cls.__name__ not in text, text
    w = window
    w._on_finished(DJ.FindExamples(), J.JobCancelled(job_id=0, channel="x"), 0.5)
    assert w.statusBar().currentMessage().startswith("find examples — done")


def test_two_bad_images_are_both_reported(window, tmp_path):
    bad = []
    for name in ("first-bad.png", "second-bad.jpg"):
        p = tmp_path / name
        p.write_bytes(b"this is not an image" * 10)
        bad.append(str(p))
    assert drop(window, bad)
    wait_until(lambda: not window.decoder.busy, 30, "the decoder")
    spin(50)
    text = window.notifications.current_text()
    assert "first-bad.png" in text and "second-bad.jpg" in text, text


def test_view_given_with_session_wins(qapp, small_model_file, image_files, tmp_path):
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings

    doc = session_io.make(small_model_file, [image_files[0]],
                          {"view": "filters", "layer": "conv2", "current_image": 0})
    w = MainWindow(Settings.at(str(tmp_path / "c.ini")),
                   Startup(model=small_model_file, images=[image_files[0]], view="activations",
                           session=doc))
    w.show()
    try:
        wait_until(lambda: w.session.model is not None and w.sessions.pending is None, 120,
                   "the session to be applied")
        spin(50)
        assert w.current_view().key == "activations"
        assert w.session.layer == "conv2"  # the rest of the session is applied
        settle(w)
    finally:
        w.close()
        spin(50)


def test_live_method_box_shows_the_whole_name(window):
    w = window
    w.resize(1000, 760)
    w.view("live")
    spin(100)
    box = w.live.method
    for method in ("gradcam", "gradcam++", "xgradcam"):
        box.setCurrentIndex(box.findData(method))
        spin(20)
        need = box.fontMetrics().horizontalAdvance(box.currentText())
        assert box.width() >= need + 16, (box.currentText(), box.width(), need)
    w.resize(1440, 900)
    w.view("activations")
    settle(w)


def test_a_long_error_does_not_widen_the_window(window):
    w = window
    w.resize(1100, 800)
    spin(100)
    before = w.width()
    w.notify("error: could not read /" + "/".join(["a-very-long-folder-name"] * 40) + "/x.png")
    spin(100)
    assert w.width() == before
    w.notify("error: " + "unbreakable" * 60, details="the details")
    spin(100)
    assert w.width() == before
    assert w.minimumSizeHint().width() <= before
    w.notifications.hide()
    w.resize(1440, 900)
    spin(50)


def test_fit_per_row_makes_tiles_largest():
    from convscope.gui.views.activations import fit_per_row

    def scale(cols, n, h, w, W, H, m=1):
        return min(W / (cols * (w + m)), H / (math.ceil(n / cols) * (h + m)))

    for n, (h, w), (W, H) in [(512, (14, 14), (1200, 400)), (64, (16, 16), (800, 800)),
                              (3, (50, 20), (300, 600)), (1000, (7, 7), (500, 1500))]:
        best = fit_per_row(n, (h, w), 1, (W, H))
        s = scale(best, n, h, w, W, H)
        assert all(scale(c, n, h, w, W, H) <= s + 1e-12 for c in range(1, n + 1))
    assert fit_per_row(512, (14, 14), 1, (1200, 400)) > 16  # not the old 16-wide column
    assert fit_per_row(64, (16, 16), 1, (800, 800)) == 8  # square canvas: square grid
    assert fit_per_row(10, (8, 8), 1, (0, 0)) is None


def test_activation_grid_fills_a_wide_canvas(window):
    w = window
    w.view("activations")
    w.activations_view.per_row.setValue(0)  # auto
    w.session.set_layer("backbone/conv4")  # 64 channels of 16 x 16
    w.resize(1800, 640)
    settle(w)
    spin(300)  # the redraw after a resize is debounced
    settle(w)
    view = w.activations_view
    H, W = view.picture.shape[:2]
    cw, ch = view.canvas.width(), view.canvas.height()
    grid_aspect, canvas_aspect = W / H, cw / ch
    assert canvas_aspect > 1.6
    assert abs(math.log(grid_aspect / canvas_aspect)) < math.log(1.6), (grid_aspect, canvas_aspect)
    w.resize(1440, 900)
    settle(w)
