"""The window's long jobs, for real (filters forming, CAM methods, superseded jobs, GUI
responsiveness): offscreen Qt, the real engine thread, real model and image files.

One window is shared by the tests of this module (opening a model costs seconds); the tests
run in file order and each leaves the window in a usable state. Settings go to a temporary
INI file. The module's teardown closes the window and asserts no engine thread is left.
"""
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from convscope.engine import jobs as J
from convscope.engine.cam import registry
from convscope.gui.views.cam_options import compare_order

PIXEL_METHODS = registry.names("pixel")
from gui_support import (image_files, settings_file, settle, spin,  # noqa: F401
                         wait_until, window)
from test_bridge import LABELS, broken_model_file, small_model_file  # noqa: F401 (fixtures)

pytestmark = pytest.mark.timeout(300)


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


def test_filters_form_live_and_cancel(window):
    filters = window.filters_view
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


def test_filters_on_the_output_show_classes_and_record_an_animation(window, tmp_path):
    from PIL import Image as PILImage

    filters = window.views[1]
    window.view("filters")
    window.model_panel.select("predictions")  # the Dense head: class-model visualisation
    filters.steps.setValue(10)
    filters.range.setText("0-3")
    filters.range.editingFinished.emit()
    settle(window, 120)
    assert filters.patterns is not None and filters.patterns.shape[0] == 4
    assert all(name in filters.info.text() for name in LABELS), filters.info.text()
    filters.enlarge(2)
    assert LABELS[2] in filters.detail_title.text()
    out = tmp_path / "ascent.gif"
    filters.record_animation(str(out))  # what the Animate… button does after its dialog
    settle(window, 120)
    assert out.exists() and "animation saved" in filters.progress.text()
    with PILImage.open(out) as im:
        assert im.n_frames == 2  # a frame every 5 of the 10 steps
    window.model_panel.select("backbone/conv4")
    settle(window, 120)


def test_cam_every_method_and_a_class_change(window):
    cam = window.cam_view
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
        if m in PIXEL_METHODS:  # pixel attributions: the input's resolution (occlusion: its grid)
            assert r.heatmap.shape == ((15, 15) if m == "occlusion" else (64, 64)), m
        else:
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


def test_cam_view_groups_pixel_attributions_and_sends_their_options(window):
    cam = window.views[2]
    window.view("cam")
    settle(window)
    combo = cam.method
    texts = [combo.itemText(i) for i in range(combo.count())]
    head_cam, head_pix = texts.index("— Class activation maps —"), texts.index("— Pixel attributions —")
    assert head_cam == 0 and texts.index("Saliency") > head_pix > texts.index("Ablation-CAM")
    assert not combo.model().item(head_pix).isEnabled()
    assert cam.cam_controls.layer.isEnabled()  # a CAM: the layer choice applies
    assert cam.set_method("ig")  # alias
    assert not cam.cam_controls.layer.isEnabled()  # input pixels: no layer to choose
    assert "no layer" in cam.cam_controls.layer.toolTip()
    assert cam.method_options.spins["steps"][1].isVisibleTo(cam)
    assert not cam.method_options.aug.isVisibleTo(cam)
    cam.method_options.spins["steps"][1].setValue(32)
    settle(window)
    r = cam.result
    assert r.method == "integrated-gradients" and "32 steps" not in cam.info.text()
    assert 0 <= r.completeness_error < 1
    assert registry.get(r.method).signed and r.heatmap.min() < 0 < r.heatmap.max()
    assert "completeness error" in cam.info.text()
    image = window.session.image.pixels
    grey = image.astype(float) @ [0.299, 0.587, 0.114]
    # drawn over a grey copy: where the map is ~0 the picture is that grey
    from convscope.engine.attribution.display import resize

    # each pixel is (1 - a) grey + a colour, a = min(1, |v| / p99(|v|) * alpha / 0.4): so it
    # lies within 255 a of the grey everywhere (an overlay on the colour image would not),
    # the quietest tenth is near grey, and the strongest pixels are coloured
    v = np.abs(resize(r.heatmap if r.display is None else r.display, image.shape[:2], signed=True))
    a = np.clip(v / np.percentile(v, 99) * (cam.options.alpha / 0.4), 0.0, 1.0)
    off = np.abs(cam.overlay.astype(float) - grey[..., None]).max(axis=2)
    assert np.all(off <= 255.0 * a + 1.5)
    quiet = v <= np.percentile(v, 10)
    assert quiet.any() and off[quiet].max() <= 255.0 * a[quiet].max() + 1.5
    colour = np.abs(image.astype(float) - grey[..., None]).max(axis=2)
    assert colour[quiet].max() > 255.0 * a[quiet].max() + 1.5, "the image is grey there anyway"
    assert off[a >= 0.9].max() > 10
    assert cam.legend.low.text() == "against"
    assert cam.set_method("gradcam")
    assert cam.cam_controls.layer.isEnabled()
    cam.method_options.eigen.setChecked(True)
    settle(window)
    assert cam.result.method == "gradcam" and cam.legend.low.text() == "no evidence"
    eigen = cam.result.heatmap.copy()
    cam.method_options.eigen.setChecked(False)
    settle(window)
    assert not np.allclose(eigen, cam.result.heatmap)  # the option reached the engine


def test_compare_shows_every_method_side_by_side(window):
    compare = window.compare_view
    window.view("compare")
    settle(window, 120)
    methods = window.session.model.cam_methods
    assert list(compare.tiles) == compare_order(methods)
    assert set(PIXEL_METHODS) <= set(methods) and list(compare.tiles)[-1] == "rise"
    for m, tile in compare.tiles.items():
        assert tile.overlay is not None, (m, tile.text)
    layers = {r.layer for r in compare.results.values() if r.method not in PIXEL_METHODS}
    classes = {r.class_index for r in compare.results.values() if r.method != "eigencam"}
    assert layers == {"backbone/conv4"} and len(classes) == 1
    fig = compare.figure()
    assert fig.ndim == 3 and fig.std() > 5


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
    filters, cam = window.filters_view, window.cam_view
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


