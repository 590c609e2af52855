"""The window explains more than a class (issue 21): a region dragged on a U-Net's predicted
mask, one head of a two-head model, a regression value, one channel sent from the
Activations view; a target chosen on one model is not carried to another.

Real window (offscreen), the real engine thread, the models engine.demo_targets builds
(seeded random weights: the maths does not need training). Every map the window shows is
checked against the engine API computing the same target in this process."""
import numpy as np
import pytest

from convscope.engine import demo_targets
from convscope.engine.model import open_model
from convscope.engine.targets import parse, predicted_mask
from convscope.engine.targets import masks as MK
from gui_support import open_window, settings_file, settle, spin, wait_until  # noqa: F401

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def tm(tmp_path_factory):
    return demo_targets.save_all(str(tmp_path_factory.mktemp("gui-targets")), epochs=0)


@pytest.fixture(scope="module")
def win(qapp, tm, settings_file):
    w = open_window(settings_file, model=tm["unet"], images=[tm["shape_0"]], view="cam")
    yield w
    w.close()
    spin(50)


def _api_map(path, image, spec, layer):
    return open_model(path).cam(image, method="gradcam", layer=layer, target=spec)


def _open(w, path):
    import os

    before = w.session.model
    w.open_model(path)
    name = os.path.basename(path).split(".")[0]
    wait_until(lambda: w.session.model is not before and name in str(w.session.model.summary.name),
               120, f"{name} to load")
    settle(w, 120)


def _map_for(w, spec, timeout=120):
    wait_until(lambda: w.cam_view.result is not None and w.cam_view.result.target.startswith(
        spec.rsplit(":", 1)[0] if spec.count(",") == 3 and spec.count(":") == 2 else spec),
        timeout, f"the map of {spec}")
    settle(w, timeout)
    return w.cam_view.result


def test_unet_default_target_is_the_whole_input_at_the_bottleneck(win, tm):
    w = win
    settle(w, 120)
    assert w.session.model.default_target == "region:0,0,64,64"
    assert w.session.model.summary.default_cam_layer == "bottleneck", \
        "a U-Net's default is its deepest layer, not the output (the prediction itself)"
    bar = w.cam_view.target_bar
    assert bar.isVisible() and bar.mask.isVisible()
    assert bar.spec.text() == "region:0,0,64,64"
    r = _map_for(w, "region:0,0,64,64")
    assert r.layer == "bottleneck"
    ref = _api_map(tm["unet"], tm["shape_0"], "region:0,0,64,64", "bottleneck")
    assert r.target == ref.target  # the class the box predicts, filled in
    np.testing.assert_allclose(r.heatmap, ref.heatmap, atol=1e-5)
    assert "explains" in w.cam_view.info.text() and ref.target in w.cam_view.info.text()


def test_mask_shows_the_prediction_and_a_dragged_box_explains_its_region(win, tm):
    w = win
    bar, view = w.cam_view.target_bar, w.cam_view
    bar.mask.setChecked(True)
    wait_until(lambda: view.mask is not None, 120, "the predicted mask")
    spin(50)
    want = predicted_mask(open_model(tm["unet"]), tm["shape_0"])
    np.testing.assert_array_equal(view.mask.classes, want.classes)
    image = w.session.image
    np.testing.assert_array_equal(view.canvas.image, MK.mask_picture(image.pixels, want.classes))
    assert "mask of <b>segmentation</b>" in view.readout.text()
    assert view.mask.names == demo_targets.SEG_CLASSES  # the labels sidecar names them
    for c, _ in view.mask.counts:  # every class present is named in the legend
        assert want.names[c] in view.readout.text()
    assert view.region.roi.isVisible()

    # the user drags the box to x 8..40, y 16..48 (image pixels = input pixels here)
    view.region.roi.setPos((8, 16), finish=False)
    view.region.roi.setSize((32, 32), finish=True)
    wait_until(lambda: w.cam_options.target.spec.startswith("region:8,16,40,48"), 30,
               "the region target")
    assert not bar.mask.isChecked(), "the map of the chosen region is shown"
    r = _map_for(w, "region:8,16,40,48")
    ref = _api_map(tm["unet"], tm["shape_0"], "region:8,16,40,48", r.layer)
    assert r.target == ref.target
    np.testing.assert_allclose(r.heatmap, ref.heatmap, atol=1e-5)
    whole = _api_map(tm["unet"], tm["shape_0"], "region:0,0,64,64", r.layer)
    assert not np.allclose(r.heatmap, whole.heatmap, atol=1e-3), "the box changed the map"
    # the box stays on the map, where it was left, and the menu still says what it is
    assert view.region.box() == (8, 16, 40, 48)
    assert bar.kind.currentText() == "region of the mask" and bar.kind.count() == 1


def test_box_on_a_larger_image_is_converted_to_input_pixels():
    # a 128 x 96 (W x H) image stretched onto a 64 x 64 input
    assert MK.box_to_input((16, 24, 80, 72), (96, 128), (64, 64)) == (8, 16, 40, 48)
    assert MK.box_to_image((8, 16, 40, 48), (96, 128), (64, 64)) == (16, 24, 80, 72)
    assert MK.box_to_input((-3, -3, 500, 500), (96, 128), (64, 64)) == (0, 0, 64, 64)


def test_a_typed_bad_target_says_what_is_wrong(win):
    w = win
    bar = w.cam_view.target_bar
    bar.spec.setText("region:0,0,640,640")
    bar.spec.returnPressed.emit()
    wait_until(lambda: "outside" in w.cam_view.canvas.message(), 120, "the bad region's message")
    bar.spec.setText("region:0,0,64,64")
    bar.spec.returnPressed.emit()
    _map_for(w, "region:0,0,64,64")


def test_head_picker_explains_the_second_output(win, tm):
    w = win
    _open(w, tm["two_head"])
    assert w.cam_options.target.spec == "", "the region chosen on the U-Net is not carried over"
    bar = w.cam_view.target_bar
    titles = [bar.kind.itemText(i) for i in range(bar.kind.count())]
    assert titles[:3] == ["class", "output shape", "output size"]
    assert not bar.mask.isVisible()
    row = titles.index("output size")
    bar.kind.setCurrentIndex(row)
    bar.kind.activated.emit(row)
    r = _map_for(w, "output:size")
    ref = _api_map(tm["two_head"], tm["shape_0"], "output:size", r.layer)
    np.testing.assert_allclose(r.heatmap, ref.heatmap, atol=1e-5)
    assert r.score == pytest.approx(ref.score, rel=1e-5)


def test_regressor_defaults_to_its_value_and_offers_what_lowers_it(win, tm):
    w = win
    _open(w, tm["regressor"])
    bar = w.cam_view.target_bar
    assert w.cam_options.target.spec == "value:0"
    titles = [bar.kind.itemText(i) for i in range(bar.kind.count())]
    assert "value (what raises it)" in titles and "value − (what lowers it)" in titles
    r = _map_for(w, "value:0")
    row = titles.index("value − (what lowers it)")
    bar.kind.setCurrentIndex(row)
    bar.kind.activated.emit(row)
    lower = _map_for(w, "value-:0")
    ref = _api_map(tm["regressor"], tm["shape_0"], "value-:0", lower.layer)
    np.testing.assert_allclose(lower.heatmap, ref.heatmap, atol=1e-5)
    assert lower.score == pytest.approx(-r.score, rel=1e-5)


def test_explain_this_channel_sends_a_unit_target_to_the_cam_view(win, tm):
    w = win
    _open(w, tm["two_head"])
    w.view("activations")
    w.session.set_layer("conv2")
    settle(w, 120)
    acts = w.activations_view
    acts.show_channel(5)
    assert acts.detail.explain_button.isVisible()
    acts.detail.explain_button.click()
    assert w.tabs.currentWidget() is w.cam_view
    assert w.cam_options.target.spec == "unit:conv2:5"
    r = _map_for(w, "unit:conv2:5")
    assert r.layer == "conv2"
    ref = _api_map(tm["two_head"], tm["shape_0"], "unit:conv2:5", "conv2")
    np.testing.assert_allclose(r.heatmap, ref.heatmap, atol=1e-5)
    assert parse(r.target).channel == 5
    # the kind menu names it
    bar = w.cam_view.target_bar
    assert bar.kind.currentText() == "channel" and bar.spec.text() == "unit:conv2:5"


def test_export_figure_explains_the_views_target(win, tm):
    """A figure exported from the CAM view explains the region the view explains, never a
    class map reused from the screen (engine.figures remakes it from the spec's target)."""
    from convscope.engine.figures.data import compute
    from convscope.gui.figure_dialog import start_spec

    w = win
    _open(w, tm["unet"])
    w.view("cam")
    w.cam_options.target.set_spec("region:8,16,40,48")
    r = _map_for(w, "region:8,16,40,48")
    spec, known = start_spec(w, "cam")
    assert spec.target == "region:8,16,40,48" and spec.classes == ()
    assert all(getattr(k, "target", spec.target) == spec.target for k in known)
    data = compute(open_model(tm["unet"]), spec, [w.session.image], known=known)
    cell = data.grid.cells[0][0]
    assert cell.target == r.target
    np.testing.assert_allclose(cell.heatmap, r.heatmap, atol=1e-5)


def test_a_session_keeps_the_target_on_its_model_only(win, tm):
    """Save a session with a region chosen on the U-Net: reopened, the region is back; its
    target is not applied to another model (that model's own default instead)."""
    w = win
    _open(w, tm["unet"])
    w.view("cam")
    w.cam_options.target.set_spec("region:8,16,40,48")
    _map_for(w, "region:8,16,40,48")
    doc = w.sessions.capture()
    assert doc["cam"]["target"] == "region:8,16,40,48" and doc["cam"]["target_model"]
    w.cam_options.target.reset()
    assert w.cam_options.target.spec == "region:0,0,64,64"  # the default again
    w.sessions.apply(doc)
    wait_until(lambda: w.cam_options.target.spec == "region:8,16,40,48", 60, "the restored target")
    _map_for(w, "region:8,16,40,48")
    _open(w, tm["regressor"])
    w.cam_options.target.restore(doc["cam"]["target"], doc["cam"]["target_model"])
    assert w.cam_options.target.spec == "value:0", "a U-Net's region is not put on a regressor"


def test_live_explains_the_target_on_every_frame(win, tm, tmp_path):
    """Live on the U-Net explains the CAM view's target (its default region here) on each
    frame, says so, and each map is the engine's for that frame and target."""
    from convscope.engine import jobs as J
    from convscope.engine.images import from_array
    from convscope.engine.video.demo_clip import make_clip, write_clip
    from gui_support import drop

    w = win
    _open(w, tm["unet"])
    w.cam_options.target.reset()
    clip = make_clip(12, 64, seed=5, fps=25.0)
    path = tmp_path / "clip.avi"
    write_clip(str(path), clip)
    got = []
    w.client.subscribe(J.LiveFrameReady, got.append)
    view = w.live
    view.smooth.setValue(0)
    assert drop(w, [str(path)])
    wait_until(lambda: view.ended, 120, "the end of the clip")
    settle(w, 120)
    shown = [r for r in got if r.mode == "cam"]
    assert len(shown) >= 2  # the first and the last at least (the engine drops the rest)
    m = open_model(tm["unet"])
    for r in shown[-2:]:
        assert r.label.startswith("region:0,0,64,64:")
        ref = m.cam(from_array(r.frame), target="region:0,0,64,64", layer=r.layer)
        assert r.label == ref.target
        np.testing.assert_allclose(r.heatmap, ref.heatmap, atol=1e-5)


def test_compare_methods_explain_the_target(win, tm):
    w = win
    _open(w, tm["unet"])
    w.cam_options.target.set_spec("region:8,16,40,48")
    w.view("compare")
    view = w.compare_view
    wait_until(lambda: any(not r.error and r.heatmap is not None for r in view.results.values()),
               300, "a compared map")
    settle(w, 300)
    m = open_model(tm["unet"])
    r = view.results["gradcam"]
    ref = m.cam(tm["shape_0"], method="gradcam", layer=r.layer, target="region:8,16,40,48")
    assert r.target == ref.target
    np.testing.assert_allclose(r.heatmap, ref.heatmap, atol=1e-5)
    assert "explains" in view.info.text() and ref.target in view.info.text()
    assert view.results["cam"].error, "CAM reads a class's Dense weights: it says so"
