"""The Live view for real: offscreen Qt, the real engine thread and frame-reader thread,
the demo model, and video files written here with OpenCV (engine.video.demo_clip: the object's
pixels are known in every frame).

One window for the module (opening the model costs seconds); tests run in file order; the
last one closes the window during playback and checks that no thread is left.
"""

import cv2
import numpy as np
import pytest

from convscope.engine import jobs as J
from convscope.engine.video.demo_clip import make_clip, write_clip
from convscope.engine.qt_bridge import running_threads
from convscope.engine.video.io import read_frames, write_video
from convscope.gui.video_reader import running_readers
from gui_support import drop, open_window, settle, spin, wait_until

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("live-clips")
    clip = make_clip(60, 96, seed=11, fps=25.0)
    write_clip(str(d / "moving.avi"), clip)  # lossless: the frames are the clip's
    fast = make_clip(300, 96, seed=12, fps=100.0)  # faster than the engine on the slow model
    write_clip(str(d / "fast.avi"), fast)
    data = (d / "moving.avi").read_bytes()
    (d / "truncated.avi").write_bytes(data[: len(data) // 2])
    return {"clip": clip, "fast": fast, "dir": d}


@pytest.fixture(scope="module")
def live_window(qapp, tmp_path_factory):
    w = open_window(tmp_path_factory.mktemp("live-settings") / "c.ini", model="demo", view="live")
    yield w
    w.close()
    spin(50)


def _pointing(heatmap, mask, dilate=3):
    up = cv2.resize(heatmap, mask.shape[::-1], interpolation=cv2.INTER_LINEAR)
    y, x = np.unravel_index(np.argmax(up), up.shape)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * dilate + 1, 2 * dilate + 1))
    return bool(cv2.dilate(mask.astype(np.uint8), kernel)[y, x])


def _play_to_end(window, view, path, timeout=120):
    assert drop(window, [path]), "the window refused the dropped video"
    assert window.current_view() is view and view.reader is not None
    wait_until(lambda: view.ended, timeout, "the end of the clip")
    settle(window, timeout)


def test_overlay_follows_the_object(live_window, clips):
    view = live_window.live
    _play_to_end(live_window, view, str(clips["dir"] / "moving.avi"))
    shown = list(view.history)
    assert len(shown) >= 10, f"only {len(shown)} frames shown"
    masks = clips["clip"].masks
    hits = [_pointing(heat, masks[index]) for index, _, heat, _ in shown]
    assert np.mean(hits) >= 0.9, f"pointing game {np.mean(hits):.2f} over {len(hits)} frames"
    # what is shown is the overlay of the frame it names, and its predictions
    r = view.last
    assert np.array_equal(r.frame, clips["clip"].frames[r.index])
    assert r.picture.shape == (96, 96, 3) and not np.array_equal(r.picture, r.frame)
    assert len(view.predictions.predictions) == 4  # the demo's 4 classes, best first
    assert r.predictions[0].label == r.label
    assert "engine" in view.rates_label.text() and "latency" in view.rates_label.text()
    assert "end of moving.avi" in view.info.text()


def _explain_current_again(window, view, got):
    n = len(got)
    view._send(view.current)  # paused at the end: the frame shown, explained again
    wait_until(lambda: len(got) > n, 30, "the frame explained again")
    settle(window)


def test_live_explains_each_frames_top_class_not_the_still_images(live_window, clips):
    """Issue 17: a class chosen on the CAM tab (for the still image) made Live explain that
    class on every frame. Live follows each frame's top prediction unless a class is fixed
    in Live itself, lists the frame's own scores, and says which it does."""
    window, view = live_window, live_window.live
    got = []
    window.client.subscribe(J.LiveFrameReady, got.append)
    other = (view.last.predictions[0].index + 1) % 4
    window.cam_options.set_class(other)  # chosen on the CAM tab
    try:
        _play_to_end(window, view, str(clips["dir"] / "moving.avi"))
        shown = [r for r in got if r.mode == "cam"]
        assert len(shown) >= 5
        for r in shown:  # each frame explains its own top class
            assert r.class_index == r.predictions[0].index, (r.index, r.class_index)
        assert any(r.class_index != other for r in shown)
        _explain_current_again(window, view, got)
        last = view.last
        picker = view.cam_controls.classes
        assert picker.currentData() is None  # "top prediction"
        assert picker.itemData(1) == last.predictions[0].index  # the frame's scores listed
        assert f"{last.predictions[0].score:.3f}" in picker.itemText(1)
        assert "this frame's top class" in view.info.text()

        view.live_class.set_class(other)  # fixed in Live: every frame, and said so
        _explain_current_again(window, view, got)
        assert view.last.class_index == other
        assert f"fixed class <b>{view.last.label}</b>" in view.info.text()
        assert picker.currentData() == other
    finally:
        view.live_class.set_class(None)
        window.cam_options.set_class(None)
        settle(window)


def test_paused_live_latency_is_not_the_time_since_the_frame_was_read(live_window, clips):
    """'latency 12712 ms' while paused: a paused frame explained again (new options) is
    timed from when it was sent, not from when the reader got it long ago."""
    window, view = live_window, live_window.live
    assert view.reader is not None and not view.reader.playing()
    spin(1500)  # the frame shown was read more than a second ago
    got = []
    window.client.subscribe(J.LiveFrameReady, got.append)
    view.smooth.setValue(view.smooth.value() + 10)  # an option: the paused frame again
    wait_until(lambda: got, 30, "the paused frame explained again")
    settle(window)
    assert view.rates.latency < 1.0, f"latency {view.rates.latency:.2f} s while paused"


@pytest.fixture(scope="module")
def slow_model_file(tmp_path_factory):
    """A real Keras model ~20x slower per frame than the demo (192 px, 48-channel convs)."""
    from convscope.engine import tf_runtime

    tf_runtime.init("auto")
    import keras

    keras.utils.set_random_seed(0)
    L = keras.layers
    m = keras.Sequential([keras.Input((192, 192, 3))] + [
        L.Conv2D(48, 3, padding="same", activation="relu", name=f"c{i}") for i in range(3)] + [
        L.GlobalAveragePooling2D(name="gap"), L.Dense(4, activation="softmax", name="out")])
    path = tmp_path_factory.mktemp("slow") / "slow.keras"
    m.save(path)
    return str(path)


def test_slow_engine_drops_frames_and_latency_stays_bounded(live_window, clips, slow_model_file):
    window, view = live_window, live_window.live
    window.open_model(slow_model_file)
    wait_until(lambda: window.session.model.summary.source == slow_model_file, 120,
               "the slow model")
    settle(window)
    warm = []  # trace the slow model's Grad-CAM once, outside the measured clip
    window.client.subscribe(J.LiveFrameReady, warm.append)
    window.client.send(J.LiveFrame(frame=clips["fast"].frames[0], source="warm-up"))
    wait_until(lambda: warm, 60, "the warm-up frame")
    ran = []

    def on_started(job):
        if isinstance(job, J.LiveFrame):
            ran.append(job.index)

    window.client.bridge.sigStarted.connect(on_started)
    sent = view.sent
    try:
        _play_to_end(window, view, str(clips["dir"] / "fast.avi"))
    finally:
        window.client.bridge.sigStarted.disconnect(on_started)
    sent = view.sent - sent
    shown = list(view.history)
    assert view.reader.frames_read == 300
    # the engine took only the newest pending frame each time: it skipped many the view
    # sent (a first-in-first-out queue would run every one)
    assert len(ran) <= 0.8 * sent, f"the engine ran {len(ran)} of {sent} frames sent"
    # every frame the engine computed was shown (none wasted), in order, ending on the last
    assert len(ran) - len(shown) <= 1 and [s[0] for s in shown] == sorted(ran)[:len(shown)]
    assert shown[-1][0] == 299
    # latency does not grow with the clip: the last third is like the first third
    lat = np.array([s[1] for s in shown[2:]])
    third = max(1, len(lat) // 3)
    first, last = np.median(lat[:third]), np.median(lat[-third:])
    # frames behind the reader when shown: bounded, not growing toward the clip's length
    behind = np.array([s[3] - 1 - s[0] for s in shown[2:]])
    b_first, b_last = np.median(behind[:third]), np.median(behind[-third:])
    print(f"sent {sent}, ran {len(ran)}, shown {len(shown)}/300, median latency first/last "
          f"third {first:.3f}/{last:.3f} s, frames behind {b_first:.0f}/{b_last:.0f}")
    assert last <= 2 * first + 0.05, (first, last)
    assert b_last <= max(2 * b_first, 10), behind
    window.open_model("demo")
    wait_until(lambda: window.session.model.summary.source == "demo", 120, "the demo model")
    settle(window)


def test_slow_method_is_refused_live(live_window, clips):
    view = live_window.live
    view.method.setCurrentIndex(view.method.findData("scorecam"))
    sent = view.sent
    view.transport.play.click()  # at the end: plays the clip again
    wait_until(lambda: "too slow to run live" in view.info.text(), 30, "the refusal")
    spin(200)
    assert view.sent == sent
    view.reader.pause()
    view.method.setCurrentIndex(view.method.findData("gradcam"))
    settle(live_window)


def test_freeze_frame_and_export(live_window, clips, tmp_path):
    view = live_window.live
    view.open_file(str(clips["dir"] / "moving.avi"))
    wait_until(lambda: view.last is not None, 30, "a frame")
    view.toggle()  # pause
    wait_until(lambda: not live_window.client.pending("live"), 30)
    frame = view.last.frame
    view.freeze_frame()
    image = live_window.session.image
    assert np.array_equal(image.pixels, frame) and "moving frame" in image.name
    out = tmp_path / "exported.avi"
    done = []
    live_window.client.subscribe(J.VideoExported, done.append)
    view.export_to(str(out))
    wait_until(lambda: done, 120, "the export")
    frames, info = read_frames(out)
    assert frames.shape == (60, 96, 96, 3) and info.fps == 25.0
    settle(live_window)


def test_scrub_step_and_activations_mode(live_window, clips):
    view = live_window.live  # paused on moving.avi (previous test)
    frames = clips["clip"].frames

    def shows(index):
        wait_until(lambda: view.last is not None and view.last.index == index
                   and not live_window.client.pending("live"), 30, f"frame {index}")
        assert np.array_equal(view.last.frame, frames[index])

    view.transport.scrub.setValue(10)
    shows(10)
    view.transport.forward.click()
    shows(11)
    view.transport.back.click()
    shows(10)
    assert not view.reader.playing()
    # the layer's activation grid instead of the overlay, for the same (paused) frame
    live_window.model_panel.select("conv3")
    view.mode.setCurrentIndex(view.mode.findData("activations"))
    wait_until(lambda: view.last.mode == "activations" and not live_window.client.pending("live"), 30)
    from convscope.engine.explore.activation_view import render_grid

    act = live_window.session.model.layers  # conv3: 24 x 24 x 32 on the demo model
    info = next(i for i in act if i.path == "conv3")
    assert view.last.index == 10 and view.last.layer == "conv3"
    assert view.last.picture.shape == render_grid(np.zeros(info.output_shape, np.float32)).shape
    view.mode.setCurrentIndex(view.mode.findData("cam"))
    settle(live_window)


def test_decode_error_and_missing_camera_stop_cleanly(live_window, clips):
    view = live_window.live
    assert drop(live_window, [str(clips["dir"] / "truncated.avi")])
    wait_until(lambda: view.info.text().startswith("stopped:"), 60, "the decode error")
    assert "truncated" in view.info.text() and view.reader is None
    view.open_camera(57)
    wait_until(lambda: view.info.text().startswith("stopped:"), 30, "the camera error")
    assert "camera 57 cannot be opened" in view.info.text() and view.reader is None
    spin(100)
    assert not running_readers()
    live_window.view("cam")  # the window lives on
    settle(live_window)
    assert live_window.cam_view.canvas.showing_image()


def test_closing_during_playback_leaves_no_thread(live_window, clips, tmp_path):
    long = make_clip(200, 96, seed=13, fps=25.0)
    path = tmp_path / "long.mp4"
    write_video(str(path), long.frames, 25.0)
    view = live_window.live
    live_window.view("live")
    view.transport.loop.setChecked(True)
    view.open_file(str(path))
    wait_until(lambda: len(view.history) >= 3, 60, "playback")
    assert view.reader.isRunning() and view.reader.playing()
    live_window.close()
    spin(50)
    assert not running_readers(), "a frame reader is still running"
    assert not running_threads(), "an engine thread is still running"
