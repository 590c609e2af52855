"""Sessions: a saved session reopens to the same view, layer, method and class; a killed
window's autosave is offered at the next start and restores; missing files are named;
a corrupt session file is a clear error."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from convscope.engine import session_io
from gui_support import image_files, settings_file, settle, spin, wait_until, window  # noqa: F401
from test_bridge import small_model_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(400)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _open_window(settings_path, startup=None):
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings

    w = MainWindow(Settings.at(str(settings_path)), startup or Startup())
    w.show()
    return w


def _close(w):
    w.close()
    spin(50)


def _state(w):
    return (w.current_view().key, w.session.layer, w.cam_view.current_method(),
            w.cam_options.class_index)


def test_saved_session_reopens_the_same_view_layer_method_and_class(window, tmp_path, image_files):
    from convscope.gui.main_window import Startup

    window.view("cam")
    window.cam_options.set_follow_tree(True)
    window.session.set_layer("backbone/conv3")
    assert window.cam_view.set_method("gradcam++")
    window.cam_options.set_class(2)
    settle(window, 120)
    path = tmp_path / "s.convscope"
    assert window.sessions.save_to(str(path))
    doc = json.loads(path.read_text())
    assert doc["model"]["sha256"] and doc["images"][0]["sha256"]
    expected = _state(window)
    assert expected == ("cam", "backbone/conv3", "gradcam++", 2)

    doc = session_io.load(str(path))
    w = _open_window(tmp_path / "other.ini", Startup(model=doc["model"]["spec"],
                                                      images=session_io.present_images(doc),
                                                      session=doc))
    try:
        wait_until(lambda: w.session.model is not None and w.sessions.pending is None, 120,
                   "the session to be applied")
        settle(w, 120)
        assert _state(w) == expected
        assert w.cam_view.result.method == "gradcam++" and w.cam_view.result.class_index == 2
        assert w.cam_view.result.layer == "backbone/conv3"
    finally:
        _close(w)
    window.cam_options.set_follow_tree(False)
    window.cam_options.set_class(None)


def test_missing_image_is_named_and_the_rest_opens(window, tmp_path, image_files):
    copy = tmp_path / "gone.png"
    shutil.copy(image_files[0], copy)
    doc = session_io.make(window.session.model.summary.source, [str(copy), image_files[1]],
                          {"view": "activations", "layer": "conv2", "current_image": 1})
    os.remove(copy)
    path = tmp_path / "s.convscope"
    session_io.save(str(path), doc)
    assert window.sessions.open_path(str(path))
    text = window.notifications.current_text()
    assert "gone.png is missing" in text
    settle(window, 120)
    assert [im.name for im in window.session.images] == [os.path.basename(image_files[1])]
    assert window.session.layer == "conv2" and window.current_view().key == "activations"


def test_corrupt_session_is_a_clear_error(window, tmp_path, capsys):
    bad = tmp_path / "bad.convscope"
    bad.write_text('{"convscope_session": 1, "images": [')
    assert not window.sessions.open_path(str(bad))
    assert "not a ConvScope session (not valid JSON)" in window.notifications.current_text()
    from convscope.gui.app import main as gui_main

    assert gui_main(["--session", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "bad.convscope" in err
    newer = tmp_path / "newer.convscope"
    newer.write_text(json.dumps({"convscope_session": 99, "images": [], "model": None}))
    with pytest.raises(Exception, match="newer ConvScope"):
        session_io.load(str(newer))


def test_killed_window_autosave_is_offered_and_restores(qapp, tmp_path, small_model_file, image_files,
                                                       monkeypatch):
    data = tmp_path / "data"
    env = dict(os.environ, CONVSCOPE_DATA_DIR=str(data), CONVSCOPE_SETTINGS=str(tmp_path / "a.ini"),
               QT_QPA_PLATFORM="offscreen")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), "--model", small_model_file,
                             "--image", image_files[2], "--view", "cam", "--layer", "backbone/conv3",
                             "--method", "layercam"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    autosave = data / "autosave.convscope"
    try:
        end = time.monotonic() + 240
        while not (autosave.exists() and json.loads(autosave.read_text()).get("cam", {}).get("method")
                   == "layercam"):
            assert proc.poll() is None, "the window exited by itself"
            assert time.monotonic() < end, "no autosave within 240 s"
            time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)  # an abnormal exit: no close event, the marker stays
        proc.wait(30)
    assert (data / "running.pid").exists()

    monkeypatch.setenv("CONVSCOPE_DATA_DIR", str(data))
    w = _open_window(tmp_path / "b.ini")
    try:
        wait_until(lambda: "did not close normally" in w.notifications.current_text(), 30,
                   "the restore offer")
        assert w.notifications.action.isVisible()
        wait_until(lambda: w.session.model is not None, 120, "the demo model")
        w.notifications._run_action()  # the user clicks "Restore session"
        wait_until(lambda: w.session.model is not None and w.sessions.pending is None
                   and w.session.model.summary.source == small_model_file, 120, "the restore")
        settle(w, 120)
        assert w.current_view().key == "cam" and w.cam_view.current_method() == "layercam"
        assert [im.name for im in w.session.images] == [os.path.basename(image_files[2])]
        assert w.session.layer == "backbone/conv3"
    finally:
        _close(w)
    assert not (data / "running.pid").exists()  # a normal close leaves no marker
