"""The window, for real: offscreen Qt, the real engine thread, real model and image files.

One window is shared by the tests of this module (opening a model costs seconds); the tests
run in file order and each leaves the window in a usable state. Settings go to a temporary
INI file. The module's teardown closes the window and asserts no engine thread is left.
"""
import os

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from convscope.engine import jobs as J
from convscope.engine.qt_bridge import running_threads
from gui_support import (drop, image_files, rgb_of, settings_file, settle, spin,  # noqa: F401
                         wait_until, window)
from test_bridge import LABELS, broken_model_file, small_model_file  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)


# -- start-up -----------------------------------------------------------------------------------
def test_plain_start_opens_the_demo_on_a_sample(qapp, tmp_path):
    """`python main.py` with no arguments: the demo model, the bundled samples in the strip,
    demo_circle.png analysed (predicted, activations drawn)."""
    from convscope.gui.main_window import MainWindow
    from convscope.gui.settings import Settings

    w = MainWindow(Settings.at(str(tmp_path / "s.ini")))
    w.show()
    try:
        wait_until(lambda: w.session.model is not None, 120, "the demo model")
        settle(w)
        assert w.session.model.summary.source == "demo"
        names = [im.name for im in w.session.images]
        assert "demo_circle.png" in names and "cat.jpg" in names
        assert w.session.image.name == "demo_circle.png"
        top = w.image_panel.predictions.predictions[0]
        assert top.label == "circle" and top.score > 0.5
        view = w.current_view()
        assert view.key == "activations" and view.canvas.showing_image()
    finally:
        w.close()
    assert not running_threads()


def test_startup_opens_model_and_analyses_the_image(window):
    s = window.session
    assert s.model.summary.name == "small.keras"
    assert s.device and window.status.device.text() == s.model.summary.device
    assert s.layer == "backbone/conv4"  # the default CAM layer, selected in the tree
    assert window.model_panel.current_path() == "backbone/conv4"
    # predictions: all four classes with bars, sorted
    bars = window.image_panel.predictions
    assert [p.label for p in bars.predictions] and len(bars.predictions) == 4
    assert {p.label for p in bars.predictions} == set(LABELS)
    scores = [p.score for p in bars.predictions]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-4
    # the activation grid is drawn (64 channels of 16x16 in an 8x8 grid)
    view = window.activations_view
    assert view.act.shape == (16, 16, 64)
    # (per row chosen for the canvas' shape: the tiles as large as the canvas allows)
    from convscope.gui.views.activations import fit_per_row

    size = view.canvas.size()
    cols = fit_per_row(64, (16, 16), 1, (size.width(), size.height())) or 8
    rows = -(-64 // cols)
    assert view.canvas.showing_image() and view.picture.shape == (rows * 17 - 1, cols * 17 - 1, 3)
    assert not window.notifications.isVisible()


def test_layer_tree_nests_filters_and_marks(window):
    from convscope.gui.layer_tree import LayerTreeModel

    panel = window.model_panel
    model = panel.tree_model
    top = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert top == ["image", "conv1", "pool1", "conv2", "pool2", "backbone", "gap", "predictions"]
    backbone = model.index(top.index("backbone"), 0)
    assert [model.index(r, 0, backbone).data() for r in range(model.rowCount(backbone))] == [
        "features", "conv3", "conv4"]
    conv4 = model.index_of("backbone/conv4")
    assert model.index(conv4.row(), 2, conv4.parent()).data() == "16×16×64"
    assert model.index(conv4.row(), 3, conv4.parent()).data() == "18,496"
    assert conv4.data(LayerTreeModel.SpatialRole) is True
    assert model.index_of("gap").data(LayerTreeModel.SpatialRole) is False
    panel.filter.setText("conv")
    proxy = panel.proxy
    visible = []

    def walk(parent):
        for r in range(proxy.rowCount(parent)):
            i = proxy.index(r, 0, parent)
            visible.append(i.data(LayerTreeModel.PathRole))
            walk(i)
    walk(proxy.index(-1, -1))
    assert set(visible) == {"conv1", "conv2", "backbone", "backbone/conv3", "backbone/conv4"}
    panel.filter.setText("")


def test_selecting_layers_draws_their_activations(window):
    from convscope.engine.explore import activation_view

    view = window.activations_view
    for path, shape in [("conv1", (64, 64, 8)), ("backbone/conv3", (16, 16, 32)),
                        ("pool2", (16, 16, 16)), ("backbone", (16, 16, 64))]:
        window.model_panel.select(path)
        settle(window)
        assert window.session.layer == path and view.shown[1] == path
        assert view.act.shape == shape
        # what is drawn is the engine's grid of these very activations
        expected = activation_view.normalise(view.act, "channel")
        assert view.picture[: shape[0], : shape[1]].shape[:2] == expected[0].shape
        from convscope.engine import colormaps
        np.testing.assert_array_equal(view.picture[: shape[0], : shape[1]],
                                      colormaps.apply_u8(expected[0], "viridis"))
        np.testing.assert_array_equal(view.canvas.item.image, view.picture)
        shot = rgb_of(view.canvas)
        assert shot.std() > 5, "the canvas shows a flat picture"
    # a layer without spatial output, or the input: a sentence instead of a picture
    window.model_panel.select("gap")
    settle(window)
    assert not view.canvas.showing_image()
    assert "no channels to draw" in view.canvas.message()
    window.model_panel.select("backbone/features")
    settle(window)
    assert "the model's input" in view.canvas.message()
    assert not window.notifications.isVisible()


def test_arrow_keys_walk_layers_without_stalling(window):
    """Seven presses of Down from conv1 reach backbone/conv4 (through the nested model);
    the view follows, and the requests on the way collapse."""
    view = window.activations_view
    window.model_panel.select("conv1")
    settle(window)
    started = []
    window.client.bridge.sigStarted.connect(started.append)
    tree = window.model_panel.tree
    tree.setFocus()
    for _ in range(7):
        QTest.keyClick(tree, Qt.Key.Key_Down)
        spin(3)
    settle(window)
    window.client.bridge.sigStarted.disconnect(started.append)
    assert window.model_panel.current_path() == window.session.layer == "backbone/conv4"
    assert view.shown[1] == "backbone/conv4" and view.act.shape == (16, 16, 64)
    ran = [j.layer for j in started if isinstance(j, J.Activations)]
    # the nested model's input layer is passed over without a request (nothing to compute)
    assert ran and ran[-1] == "backbone/conv4" and "backbone/features" not in ran
    order = window.model_panel.tree_model.paths()
    assert ran == sorted(ran, key=order.index) and len(set(ran)) == len(ran)  # in order, once each

    # A burst (seven presses before the event loop runs once) collapses to ONE request,
    # for the layer the burst ends on.
    window.model_panel.select("conv1")
    settle(window)
    started.clear()
    window.client.bridge.sigStarted.connect(started.append)
    tree.setFocus()
    for _ in range(7):
        QTest.keyClick(tree, Qt.Key.Key_Down)
    settle(window)
    window.client.bridge.sigStarted.disconnect(started.append)
    assert [j.layer for j in started if isinstance(j, J.Activations)] == ["backbone/conv4"]
    assert view.shown[1] == "backbone/conv4"


def test_normalisation_colour_map_and_per_row(window):
    view = window.activations_view
    window.model_panel.select("conv2")
    settle(window)
    view.per_row.setValue(4)
    assert view.picture.shape[1] == 4 * 33 - 1  # 4 tiles of 32 + gaps
    view.normalise.setCurrentText("layer")
    view.colormap.setCurrentText("gray")
    tile = view.picture[:32, :32]
    assert (tile[..., 0] == tile[..., 1]).all()  # gray
    a = view.act
    lo, hi = a.min(), a.max()
    expected = np.clip((a[..., 0] - lo) * (255.0 / (hi - lo)) + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(tile[..., 0], expected)
    assert view.dead.text().count("/ 16")
    view.per_row.setValue(0)
    view.normalise.setCurrentText("channel")
    view.colormap.setCurrentText("viridis")


def test_hover_and_click_a_channel(window):
    view = window.activations_view
    window.model_panel.select("backbone/conv3")
    settle(window)
    h, w, c = view.act.shape  # 16x16x32: 6 per row (ceil sqrt 32)
    per_row = view._per_row
    ch = per_row + 2  # second row, third column
    row, col = 1 * (h + 1) + 5, 2 * (w + 1) + 7
    assert view.channel_at(row, col) == ch
    view._on_hover(row, col)
    assert f"channel {ch} · y 5, x 7" in view.readout.text()
    # a real mouse click on the canvas, at that cell
    canvas = view.canvas
    scene_pt = canvas.box.mapViewToScene(QPointF(col + 0.5, row + 0.5))
    pt = canvas.view.mapFromScene(scene_pt)
    QTest.mouseClick(canvas.view.viewport(), Qt.MouseButton.LeftButton,
                     Qt.KeyboardModifier.NoModifier, QPoint(pt.x(), pt.y()))
    wait_until(lambda: view.detail.isVisible(), 5, "the channel detail")
    assert view.detail.channel == ch
    np.testing.assert_allclose(view.detail.canvas.image.shape[:2], (h, w))
    assert "mean" in view.detail.stats.text() and "max" in view.detail.stats.text()


def test_one_click_from_a_channel_to_its_filter_pattern(window):
    view, filters = window.activations_view, window.filters_view
    assert view.detail.isVisible()
    ch = view.detail.channel
    view.detail.filter_button.click()
    assert window.current_view() is filters
    settle(window, 120)
    assert ch in filters.filters and filters.detail.isVisible()
    assert f"filter {ch}" in filters.detail_title.text()
    assert filters.patterns.dtype == np.uint8 and filters.patterns.shape[1:] == (64, 64, 3)


def test_dropping_images_adds_them_to_the_strip(window, image_files):
    window.view("activations")
    before = len(window.session.images)
    assert drop(window, image_files[1:])
    wait_until(lambda: len(window.session.images) == before + 2, what="decoded drops")
    assert window.image_panel.strip.count() == before + 2
    assert window.session.image.name == "noise.jpg"
    settle(window)
    assert window.activations_view.shown[0] is window.session.image
    # the strip switches the image
    window.image_panel.strip.setCurrentRow(window.image_panel.strip.count() - 1)
    assert window.session.image.name == "wide.png"
    settle(window)
    assert window.image_panel.predictions.predictions
    assert window.activations_view.shown[0].name == "wide.png"


def test_paste_an_image_from_the_clipboard(window):
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[:, :25] = (250, 10, 10)
    from convscope.gui.qimage import to_qimage

    QApplication.clipboard().setImage(to_qimage(rgb))
    before = len(window.session.images)
    window.actions_.paste_image()
    if len(window.session.images) == before:
        pytest.skip("this platform has no clipboard")
    assert window.session.image.name == "pasted image"
    np.testing.assert_array_equal(window.session.image.pixels, rgb)
    settle(window)


def test_export_and_copy_the_view(window, tmp_path):
    window.view("activations")
    settle(window)
    out = tmp_path / "grid.png"
    assert window.actions_.export_to(str(out))
    saved = np.asarray(PILImage.open(out).convert("RGB"))
    fig = window.activations_view.figure()
    k = saved.shape[0] // fig.shape[0]  # small figures are enlarged, pixel for pixel
    assert k >= 1 and max(saved.shape[:2]) >= min(1024, max(fig.shape[:2]))
    np.testing.assert_array_equal(saved[::k, ::k], fig)
    np.testing.assert_array_equal(saved, np.repeat(np.repeat(fig, k, 0), k, 1))
    window.actions_.copy_view()
    from convscope.gui.qimage import from_qimage

    copied = from_qimage(QApplication.clipboard().image())
    if copied.size:
        np.testing.assert_array_equal(copied, saved)


def test_corrupt_model_dropped_shows_error_and_app_keeps_working(window, broken_model_file):
    before = window.session.model
    drop(window, [broken_model_file])
    wait_until(lambda: window.notifications.isVisible(), 60, "the error message")
    text = window.notifications.current_text()
    assert "Could not open the model" in text and "not a valid .keras file" in text
    assert window.notifications.level == "error"
    settle(window)
    assert window.session.model is before  # the old model still works
    window.view("activations")
    window.model_panel.select("conv2")
    settle(window)
    assert window.activations_view.shown[1] == "conv2" and window.activations_view.act.shape == (32, 32, 16)


def test_loading_another_model_by_drop(window, seq_sigmoid_path, small_model_file):
    drop(window, [seq_sigmoid_path])
    wait_until(lambda: window.session.model.summary.source == seq_sigmoid_path, 120, "load")
    settle(window)
    s = window.session
    assert s.model.summary.head.activation == "sigmoid"
    assert window.model_panel.tree_model.paths()[0] == "conv2d_1"
    # no layer was asked for at start-up: the model's default CAM layer is selected
    assert s.model.summary.default_cam_layer == "max_pooling2d_2" == s.layer
    assert window.activations_view.act is not None
    assert seq_sigmoid_path in window.settings.recent("models")
    # CAM needs GAP + Dense: this Flatten head says so in the window
    window.view("cam")
    window.cam_view.set_method("cam")
    settle(window)
    assert not window.cam_view.canvas.showing_image()
    assert "global average pooling" in window.cam_view.canvas.message().lower()
    window.cam_view.set_method("gradcam")
    settle(window)
    assert window.cam_view.canvas.showing_image()
    # and back to the first model
    window.open_model(small_model_file)
    wait_until(lambda: window.session.model.summary.source == small_model_file, 120, "reload")
    settle(window)


def test_builtin_without_cached_weights_offers_random_weights(window, small_model_file,
                                                            tmp_path, monkeypatch):
    # offline and no cached ImageNet weights: a clear message and a button that opens the
    # same architecture with random weights. Offline on any machine: an empty Keras cache
    # and the download pointed at a closed port (the engine thread reads both when it runs).
    from keras.src.applications import mobilenet_v3
    from keras.src.backend import config as keras_config

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(mobilenet_v3, "BASE_WEIGHT_PATH", "http://127.0.0.1:9/unreachable/")
    window.open_model("builtin:mobilenetv3small")
    wait_until(lambda: window.notifications.isVisible() and not window.client.pending("load"),
               120, "the missing-weights message")
    text = window.notifications.current_text()
    assert "ImageNet weights" in text and "weights=none" in text
    assert window.notifications.action.isVisible()
    assert window.notifications.action.text() == "Open with random weights"
    window.notifications.action.click()
    wait_until(lambda: window.session.model.summary.source ==
               "builtin:mobilenetv3small?weights=none", 180, "the random-weights model")
    settle(window, 120)
    assert len(window.session.labels()) == 1000
    assert window.image_panel.predictions.predictions[0].label in window.session.labels()
    window.open_model(small_model_file)
    wait_until(lambda: window.session.model.summary.source == small_model_file, 120, "reload")
    settle(window)


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_shows_in_the_window(window):
    from PySide6.QtCore import QEventLoop

    from convscope.gui import crash_guard

    crash_guard.install(lambda text, details: window.notify(text, details=details))
    try:
        def broken_slot():
            raise RuntimeError("boom from a slot")
        QTimer.singleShot(0, broken_slot)
        loop = QEventLoop()  # an event loop, as app.exec() runs it (QTest.qWait re-raises)
        QTimer.singleShot(200, loop.quit)
        loop.exec()
        assert "boom from a slot" in window.notifications.current_text()
        assert window.notifications.details_button.isVisible()
    finally:
        crash_guard.uninstall()
    window.view("activations")
    window.model_panel.select("conv1")
    settle(window)
    assert window.activations_view.shown[1] == "conv1"


def test_settings_are_kept_in_the_temporary_file(window, settings_file, small_model_file):
    from convscope.gui.settings import Settings

    window.activations_view.per_row.setValue(5)
    window.settings.sync()
    again = Settings.at(settings_file)
    assert again.get("activations/per_row") == 5
    assert again.recent("models")[0] == small_model_file
    assert os.path.getsize(settings_file) > 0
    window.activations_view.per_row.setValue(0)


def test_gui_and_engine_defaults_agree():
    from convscope.engine.filters.ascent import DEFAULT_STEPS
    from convscope.gui.views.filters import DEFAULT_STEPS as GUI_STEPS

    assert GUI_STEPS is DEFAULT_STEPS  # the engine's own table (engine.filters.spec), no copy
