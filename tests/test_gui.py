"""The window, for real: offscreen Qt, the real engine thread, real model and image files.

One window is shared by the tests of this module (opening a model costs seconds); the tests
run in file order and each leaves the window in a usable state. Settings go to a temporary
INI file. The module's teardown closes the window and asserts no engine thread is left.
"""
import os
import time

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine import jobs as J
from engine.loading import DEMO_PATH
from engine.qt_bridge import running_threads
from test_bridge import LABELS, broken_model_file, small_model_file  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)

SAMPLES = os.path.join(os.path.dirname(DEMO_PATH), "..", "samples")


def spin(ms: float) -> None:
    """Run the GUI's event loop for `ms` milliseconds. (Not QTest.qWait: PySide6 keeps the
    GIL through it, which starves the engine thread ~10x.)"""
    end = time.perf_counter() + ms / 1000
    while True:
        QApplication.processEvents()
        if time.perf_counter() >= end:
            return
        time.sleep(0.002)


def wait_until(predicate, timeout=60.0, what="condition"):
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        spin(10)


def settle(window, timeout=60.0):
    """Wait until the window has nothing left to compute (twice in a row, 20 ms apart)."""
    end = time.monotonic() + timeout
    calm = 0
    while calm < 2:
        if time.monotonic() > end:
            raise AssertionError(f"window did not settle: pending {list(window.client._latest)}")
        spin(20)
        calm = calm + 1 if window.settled() else 0


def rgb_of(widget) -> np.ndarray:
    from gui.qimage import from_qimage

    return from_qimage(widget.grab().toImage())


def drop(window, paths) -> bool:
    """Drag files onto the middle of the window and drop them, as a file manager would:
    DragEnter (Qt remembers the widget that accepted it), then Drop to that widget."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPoint(window.width() // 2, window.height() // 2)
    target = window.childAt(pos) or window
    local = target.mapFrom(window, pos)
    enter = QDragEnterEvent(QPointF(local), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(QPointF(local), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(target, event)
    return event.isAccepted()  # (the events must not outlive `mime`)


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gui-images")
    rng = np.random.default_rng(3)
    paths = []
    for i, (name, size) in enumerate([("ramp.png", (90, 120)), ("noise.jpg", (64, 64)),
                                      ("wide.png", (60, 200))]):
        yy, xx = np.mgrid[0:size[0], 0:size[1]]
        rgb = np.dstack([xx * 255 // size[1], yy * 255 // size[0], np.full(size, 60 * i)])
        rgb = np.clip(rgb + rng.normal(0, 20, rgb.shape), 0, 255).astype(np.uint8)
        PILImage.fromarray(rgb).save(d / name)
        paths.append(str(d / name))
    return paths


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory):
    return str(tmp_path_factory.mktemp("settings") / "convscope.ini")


@pytest.fixture(scope="module")
def window(qapp, small_model_file, image_files, settings_file):
    from gui.main_window import MainWindow, Startup
    from gui.settings import Settings

    w = MainWindow(Settings.at(settings_file),
                   Startup(model=small_model_file, images=[image_files[0]], view="activations"))
    w.show()
    wait_until(lambda: w.session.model is not None, 120, "the model to load")
    settle(w)
    yield w
    w.close()
    spin(50)
    assert not running_threads(), "an engine thread is still running after the window closed"


# -- start-up -----------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.isfile(DEMO_PATH), reason="the demo model is not trained yet")
def test_plain_start_opens_the_demo_on_a_sample(qapp, tmp_path):
    """`python main.py` with no arguments: the demo model, the bundled samples in the strip,
    demo_circle.png analysed (predicted, activations drawn)."""
    from gui.main_window import MainWindow
    from gui.settings import Settings

    w = MainWindow(Settings.at(str(tmp_path / "s.ini")))
    w.show()
    try:
        wait_until(lambda: w.session.model is not None, 120, "the demo model")
        settle(w)
        assert w.session.model.summary["source"] == "demo"
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
    assert s.model.summary["name"] == "small.keras"
    assert s.device and window.status.device.text() == s.model.summary["device"]
    assert s.layer == "backbone/conv4"  # the default CAM layer, selected in the tree
    assert window.model_panel.current_path() == "backbone/conv4"
    # predictions: all four classes with bars, sorted
    bars = window.image_panel.predictions
    assert [p.label for p in bars.predictions] and len(bars.predictions) == 4
    assert {p.label for p in bars.predictions} == set(LABELS)
    scores = [p.score for p in bars.predictions]
    assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-4
    # the activation grid is drawn (64 channels of 16x16 in an 8x8 grid)
    view = window.views[0]
    assert view.act.shape == (16, 16, 64)
    assert view.canvas.showing_image() and view.picture.shape == (8 * 17 - 1, 8 * 17 - 1, 3)
    assert not window.notifications.isVisible()


def test_layer_tree_nests_filters_and_marks(window):
    from gui.layer_tree import LayerTreeModel

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
    from engine import activation_view

    view = window.views[0]
    for path, shape in [("conv1", (64, 64, 8)), ("backbone/conv3", (16, 16, 32)),
                        ("pool2", (16, 16, 16)), ("backbone", (16, 16, 64))]:
        window.model_panel.select(path)
        settle(window)
        assert window.session.layer == path and view.shown[1] == path
        assert view.act.shape == shape
        # what is drawn is the engine's grid of these very activations
        expected = activation_view.normalise(view.act, "channel")
        assert view.picture[: shape[0], : shape[1]].shape[:2] == expected[0].shape
        from engine import colormaps
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
    view = window.views[0]
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
    assert len(ran) <= 6


def test_results_of_superseded_jobs_are_dropped(window):
    """A job replaced by a newer one of its channel while it runs: its result never
    reaches the views."""
    client, img = window.client, window.session.image
    first = J.Activations(image=img, layer="conv1")
    second = J.Activations(image=img, layer="conv2")
    got = []
    client.subscribe(J.ActivationsReady, got.append)

    def on_started(job):
        if job is first:
            client.send(second)  # while `first` runs (or has just finished)
    client.bridge.sigStarted.connect(on_started)
    dropped = client.dropped
    client.send(first)
    wait_until(lambda: any(r.job_id == second.job_id for r in got), 30, "the second result")
    client.bridge.sigStarted.disconnect(on_started)
    assert [r.job_id for r in got] == [second.job_id]
    assert client.dropped == dropped + 1
    settle(window)


def test_normalisation_colour_map_and_per_row(window):
    view = window.views[0]
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
    view = window.views[0]
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
    view, filters = window.views[0], window.views[1]
    assert view.detail.isVisible()
    ch = view.detail.channel
    view.detail.filter_button.click()
    assert window.current_view() is filters
    settle(window, 120)
    assert ch in filters.filters and filters.detail.isVisible()
    assert f"filter {ch}" in filters.detail_title.text()
    assert filters.patterns.dtype == np.uint8 and filters.patterns.shape[1:] == (64, 64, 3)


def test_filters_form_live_and_cancel(window):
    filters = window.views[1]
    window.view("filters")
    window.model_panel.select("backbone/conv4")
    filters.steps.setValue(400)
    filters.range.setText("0-63")
    filters.range.editingFinished.emit()
    frames = []
    window.client.subscribe(J.FiltersReady, lambda r: frames.append(r))
    wait_until(lambda: len([f for f in frames if not f.final]) >= 2, 120, "patterns forming")
    first, second = [f for f in frames if not f.final][:2]
    assert second.step > first.step
    assert not np.array_equal(first.patterns, second.patterns), "patterns do not change"
    assert filters.canvas.showing_image() and "step" in filters.progress.text()
    assert window.status.cancel.isEnabled()
    shown = filters.canvas.image.copy()
    filters.run.click()  # Stop
    wait_until(lambda: not window.client.pending("filters"), 10, "the stop")
    assert "stopped" in filters.progress.text()
    assert filters.canvas.showing_image()  # what had formed stays
    np.testing.assert_array_equal(filters.canvas.image, shown)
    spin(300)
    assert not any(f.final for f in frames)  # nothing finished after the stop
    filters.steps.setValue(8)
    settle(window, 120)
    assert frames[-1].final and filters.patterns.shape == (64, 64, 64, 3)
    assert "8 steps" in filters.progress.text()


def test_cam_every_method_and_a_class_change(window):
    cam = window.views[2]
    window.view("cam")
    settle(window)
    methods = window.session.model.cam_methods
    assert {"cam", "gradcam", "gradcam++", "scorecam", "faster-scorecam"} <= set(methods)
    image = window.session.image.pixels
    for m in methods:
        assert cam.set_method(m)
        settle(window)
        r = cam.result
        assert r is not None and r.method == m, (m, window.notifications.current_text())
        assert r.layer == "backbone/conv4" and r.heatmap.shape == (16, 16)
        assert cam.overlay.shape == image.shape
        assert np.abs(cam.overlay.astype(int) - image).mean() > 1, f"{m}: no heatmap drawn"
        assert r.class_index == window.session.predictions[0].index  # top prediction
    cam.set_method("gradcam")
    settle(window)
    picker = cam.cam_controls.classes
    other = next(i for i in range(4) if i != cam.result.class_index)
    picker.setCurrentIndex(picker.findData(other))
    picker.activated.emit(picker.currentIndex())
    settle(window)
    assert cam.result.class_index == other and cam.result.label == LABELS[other]
    assert LABELS[other] in cam.info.text()
    # alpha redraws without asking the engine
    before = cam.overlay.copy()
    cam.cam_controls.alpha.setValue(90)
    assert not window.client.pending() and not np.array_equal(before, cam.overlay)
    cam.cam_controls.alpha.setValue(40)
    picker.setCurrentIndex(0)
    picker.activated.emit(0)
    settle(window)


def test_compare_shows_every_method_side_by_side(window):
    compare = window.views[3]
    window.view("compare")
    settle(window, 120)
    methods = window.session.model.cam_methods
    assert list(compare.tiles) == list(methods)
    for m, tile in compare.tiles.items():
        assert tile.overlay is not None, (m, tile.text)
    layers = {r.layer for r in compare.results.values()}
    classes = {r.class_index for r in compare.results.values() if r.method != "eigencam"}
    assert layers == {"backbone/conv4"} and len(classes) == 1
    fig = compare.figure()
    assert fig.ndim == 3 and fig.std() > 5


def test_dropping_images_adds_them_to_the_strip(window, image_files):
    window.view("activations")
    before = len(window.session.images)
    assert drop(window, image_files[1:])
    assert len(window.session.images) == before + 2
    assert window.image_panel.strip.count() == before + 2
    assert window.session.image.name == "noise.jpg"
    settle(window)
    assert window.views[0].shown[0] is window.session.image
    # the strip switches the image
    window.image_panel.strip.setCurrentRow(window.image_panel.strip.count() - 1)
    assert window.session.image.name == "wide.png"
    settle(window)
    assert window.image_panel.predictions.predictions
    assert window.views[0].shown[0].name == "wide.png"


def test_paste_an_image_from_the_clipboard(window):
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[:, :25] = (250, 10, 10)
    from gui.qimage import to_qimage

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
    fig = window.views[0].figure()
    k = saved.shape[0] // fig.shape[0]  # small figures are enlarged, pixel for pixel
    assert k >= 1 and max(saved.shape[:2]) >= min(1024, max(fig.shape[:2]))
    np.testing.assert_array_equal(saved[::k, ::k], fig)
    np.testing.assert_array_equal(saved, np.repeat(np.repeat(fig, k, 0), k, 1))
    window.actions_.copy_view()
    from gui.qimage import from_qimage

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
    assert window.views[0].shown[1] == "conv2" and window.views[0].act.shape == (32, 32, 16)


def test_loading_another_model_by_drop(window, seq_sigmoid_path, small_model_file):
    drop(window, [seq_sigmoid_path])
    wait_until(lambda: window.session.model.summary["source"] == seq_sigmoid_path, 120, "load")
    settle(window)
    s = window.session
    assert s.model.summary["head"]["activation"] == "sigmoid"
    assert window.model_panel.tree_model.paths()[0] == "conv2d_1"
    assert s.layer == "max_pooling2d_2" or s.layer == s.model.summary["default_cam_layer"]
    assert window.views[0].act is not None
    assert seq_sigmoid_path in window.settings.recent("models")
    # CAM needs GAP + Dense: this Flatten head says so in the window
    window.view("cam")
    window.views[2].set_method("cam")
    settle(window)
    assert not window.views[2].canvas.showing_image()
    assert "global average pooling" in window.views[2].canvas.message().lower()
    window.views[2].set_method("gradcam")
    settle(window)
    assert window.views[2].canvas.showing_image()
    # and back to the first model
    window.open_model(small_model_file)
    wait_until(lambda: window.session.model.summary["source"] == small_model_file, 120, "reload")
    settle(window)


def test_builtin_without_cached_weights_offers_random_weights(window, small_model_file):
    # offline and no cached ImageNet weights (as on this machine and in CI): a clear message
    # and a button that opens the same architecture with random weights
    cached = os.path.expanduser("~/.keras/models/weights_mobilenet_v3_small_224_1.0_float.h5")
    if os.path.exists(cached):
        pytest.skip("the ImageNet weights are cached here")
    window.open_model("builtin:mobilenetv3small")
    wait_until(lambda: window.notifications.isVisible() and not window.client.pending("load"),
               120, "the missing-weights message")
    text = window.notifications.current_text()
    assert "ImageNet weights" in text and "weights=none" in text
    assert window.notifications.action.isVisible()
    assert window.notifications.action.text() == "Open with random weights"
    window.notifications.action.click()
    wait_until(lambda: window.session.model.summary["source"] ==
               "builtin:mobilenetv3small?weights=none", 180, "the random-weights model")
    settle(window, 120)
    assert len(window.session.labels()) == 1000
    assert window.image_panel.predictions.predictions[0].label in window.session.labels()
    window.open_model(small_model_file)
    wait_until(lambda: window.session.model.summary["source"] == small_model_file, 120, "reload")
    settle(window)


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_shows_in_the_window(window):
    from PySide6.QtCore import QEventLoop

    from gui import crash_guard

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
    assert window.views[0].shown[1] == "conv1"


def _longest_gap_while(window, start_job, done, timeout=120.0):
    """Longest interval between ticks of a 10 ms GUI timer while a job runs (ms)."""
    ticks = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    spin(50)
    start_job()
    end = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < end, "job did not finish"
        QApplication.processEvents()
        time.sleep(0.001)
    timer.stop()
    assert len(ticks) >= 2, "the job ended before the timer ticked twice"
    gaps = np.diff(ticks) * 1000
    return float(gaps.max()), len(ticks)


def test_gui_stays_responsive_during_long_jobs(window, record_property):
    """A 10 ms timer on the GUI thread keeps ticking while the engine runs a filter batch
    (64 steps, tracing included) and Score-CAM. Other processes on a shared 2-core machine
    can delay any thread now and then (an idle GUI saw 50-100 ms gaps here under load); a
    stall of ours recurs, so up to five attempts are made, each on layers whose filter and
    Score-CAM computations were not traced before."""
    filters, cam = window.views[1], window.views[2]
    cam.cam_controls.options.set_follow_tree(True)
    figures = []
    for layer in ("conv2", "pool2", "conv1", "pool1", "backbone"):
        window.view("filters")
        gap_f, n_f = _longest_gap_while(
            window, lambda: (window.model_panel.select(layer), filters.steps.setValue(64),
                             filters.range.setText("0-15"), filters.range.editingFinished.emit()),
            lambda: not window.client.pending() and filters._asked is not None and
            filters._asked[0] == layer and "64 steps" in filters.progress.text())
        window.view("cam")
        gap_c, n_c = _longest_gap_while(
            window, lambda: cam.set_method("scorecam"),
            lambda: not window.client.pending() and cam.result is not None and
            cam.result.method == "scorecam" and cam.result.layer == layer)
        cam.set_method("gradcam")
        settle(window)
        figures.append((layer, round(gap_f, 1), n_f, round(gap_c, 1), n_c))
        print(f"\nlongest GUI-thread gap on {layer}: filter batch {gap_f:.1f} ms ({n_f} ticks), "
              f"Score-CAM {gap_c:.1f} ms ({n_c} ticks)")
        if max(gap_f, gap_c) < 100:
            break
    cam.cam_controls.options.set_follow_tree(False)
    record_property("longest_gui_gaps_ms", figures)
    assert min(max(f[1], f[3]) for f in figures) < 100, figures


def test_settings_are_kept_in_the_temporary_file(window, settings_file, small_model_file):
    from gui.settings import Settings

    window.views[0].per_row.setValue(5)
    window.settings.sync()
    again = Settings.at(settings_file)
    assert again.get("activations/per_row") == 5
    assert again.recent("models")[0] == small_model_file
    assert os.path.getsize(settings_file) > 0
    window.views[0].per_row.setValue(0)


def test_gui_and_engine_defaults_agree():
    from engine.filters import DEFAULT_STEPS
    from gui.views.filters import DEFAULT_STEPS as GUI_STEPS

    assert GUI_STEPS == DEFAULT_STEPS
