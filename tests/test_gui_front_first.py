"""The view in front comes first (issue 17), on the issue's own case: VGG16 with random
weights opened while *Compare methods* shows (a class chosen on the demo before), then
*Activations* while Score-CAM is unfinished, then Cancel.

One real window for the module (offscreen), the real engine thread; tests run in order.
VGG16 is slow here (seconds per Score-CAM chunk on 2 cores): that is the point — the
activation grid must come while Score-CAM is still running."""
import pytest

from convscope.engine import jobs as J
from convscope.gui.views.base import CANCELLED
from convscope.engine.qt_bridge import running_threads
from gui_support import open_window, settle, spin, wait_until

pytestmark = pytest.mark.timeout(900)
VGG = "builtin:vgg16?weights=none"
SLOW = ("scorecam", "faster-scorecam", "ablation-cam", "smoothgrad", "integrated-gradients",
        "occlusion", "rise")


@pytest.fixture(scope="module")
def win(qapp, tmp_path_factory):
    w = open_window(tmp_path_factory.mktemp("front") / "c.ini", model="demo", view="cam")
    w.progress = []
    w.client.sigProgress.connect(lambda done, total, text: w.progress.append(text))
    yield w
    w.client.cancel()
    w.close()
    wait_until(lambda: not running_threads(), 120, "the engine thread to end")


def test_class_chosen_on_the_demo_gives_vgg16_its_top_prediction(win):
    cam = win.cam_view
    picker = cam.cam_controls.classes
    row = picker.findData(2)
    picker.setCurrentIndex(row)
    picker.activated.emit(row)  # "triangle", as a user picks it
    settle(win, 120)
    assert cam.result.class_index == 2 and cam.result.label == "triangle"

    win.view("compare")
    win.open_model(VGG)
    wait_until(lambda: win.session.model is not None and win.session.model.summary.source == VGG,
               300, "VGG16 to load")
    assert win.cam_options.class_index is None and picker.currentData() is None
    wait_until(lambda: win.session.predictions, 300, "VGG16's predictions")
    wait_until(lambda: "gradcam" in win.compare_view.results, 300, "the first compare maps")
    top = win.session.predictions[0]
    r = win.compare_view.results["gradcam"]
    assert r.class_index == top.index and r.label == top.label


def test_activations_come_while_scorecam_is_unfinished(win):
    compare, acts = win.compare_view, win.activations_view
    wait_until(lambda: any(t.startswith("Score-CAM:") for t in win.progress), 600,
               "Score-CAM to start")
    assert win.client.pending("compare")
    got = []
    win.client.subscribe(J.ActivationsReady, got.append, channel="activations")
    win.view("activations")
    wait_until(lambda: got and acts.canvas.showing_image(), 300, "the activation grid")
    # the grid came while Compare's Score-CAM was still unfinished
    assert win.client.pending("compare"), "Compare finished first: nothing was preempted"
    assert "scorecam" not in compare.results
    assert got[-1].layer == win.session.layer
    assert got[-1].activations.shape[-1] == 512  # block5_pool / block5_conv3 of VGG16
    bridge = win.client.bridge
    assert bridge.fast_answered + bridge.nested >= 1
    # another layer: answered again while Score-CAM runs (from the cache or at its next chunk)
    win.session.set_layer("block4_conv1")
    wait_until(lambda: got[-1].layer == "block4_conv1" and acts.canvas.showing_image(), 300,
               "block4_conv1's grid")
    assert win.client.pending("compare") and "scorecam" not in compare.results


def test_cancel_leaves_every_view_correct(win):
    compare, acts, cam = win.compare_view, win.activations_view, win.cam_view
    win.session.set_layer(win.session.default_layer())
    wait_until(lambda: win.status.cancel.isEnabled(), 60, "Cancel to be offered")
    win.status.cancel.click()
    spin(200)
    assert not win.client.pending("compare")
    # Activations: it shows its last finished grid (it had no job left) or says cancelled
    assert acts.canvas.showing_image() or acts.canvas.message() == CANCELLED
    if not acts.canvas.showing_image():
        acts.canvas.sigMessageClicked.emit()  # "click to compute"
        wait_until(lambda: acts.canvas.showing_image(), 300, "the grid after a click")
        win.status.cancel.click()
    # Compare: the finished maps stay, the others say "cancelled — click to compute"
    done = set(compare.results)
    assert "gradcam" in done and "scorecam" not in done
    for m, tile in compare.tiles.items():
        if m in done:
            assert tile.pixmap is not None or "does not apply" in tile.text
        else:
            assert tile.text == CANCELLED, (m, tile.text)
    assert "cancelled" in compare.info.text()
    # the CAM tab computes its map as usual (its top class on VGG16)
    win.view("cam")
    settle(win, 300)
    assert cam.result is not None and cam.result.class_index == win.session.predictions[0].index
    assert not cam.canvas.message()
    # back on Compare: nothing restarts by itself; a click resumes only what is missing
    win.view("compare")
    spin(300)
    assert not win.client.pending("compare")
    sent = []
    orig = win.client.send
    win.client.send = lambda job: (sent.append(job), orig(job))[1]
    try:
        compare.tiles["scorecam"].sigClicked.emit()
        spin(100)
    finally:
        win.client.send = orig
    jobs = [j for j in sent if isinstance(j, J.CompareCams)]
    assert jobs and "gradcam" not in jobs[-1].methods and "scorecam" in jobs[-1].methods
    assert set(jobs[-1].methods) == set(compare.tiles) - done
    assert compare.results.keys() >= done  # the finished maps are kept
    wait_until(lambda: win.status.cancel.isEnabled(), 60, "Cancel to be offered")
    win.status.cancel.click()
    spin(200)
    assert compare.tiles["scorecam"].text == CANCELLED
