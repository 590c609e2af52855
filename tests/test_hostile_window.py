"""Hostile inputs through the window (offscreen, real engine thread): bad files named on
the command line and dropped, a non-spatial --layer for the CAM view, and a model without
a classifier head (VGG16 include_top=False). Every failure reaches the message bar;
image files are decoded off the GUI thread."""
import os
import threading

import numpy as np
import pytest
from PIL import Image as P

import hostile_files as hf
from gui_support import drop, settle, spin, wait_until  # noqa: F401
from test_bridge import small_model_file  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(300)
NO_HEAD = "builtin:vgg16?weights=none&include_top=false"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile-window")
    good = d / "good.png"
    P.fromarray(np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)).save(good)
    (d / "truncated.png").write_bytes(good.read_bytes()[:120])
    (d / "text.jpg").write_bytes(b"not a picture\n" * 9)
    os.mkfifo(d / "fifo.png")
    hf.png_stream(d / "bomb.png", 20000, 20000, color=0)
    return {p.stem: str(p) for p in d.iterdir()}


def _window(settings_path, **startup):
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings

    w = MainWindow(Settings.at(settings_path), Startup(**startup))
    shown = []
    w.notifications.sigShown.connect(lambda level, text: shown.append((level, text)))
    w.show()
    return w, shown


def _close(w):
    from convscope.engine.qt_bridge import running_threads

    w.close()
    spin(50)
    assert not running_threads()


def test_bad_startup_files_and_layer_reach_the_message_bar(qapp, small_model_file, files, tmp_path):
    """What `--image ... --view cam --layer gap --screenshot` reports on stderr is what the
    window's bar says; the good image still opens and the window keeps working."""
    w, shown = _window(str(tmp_path / "s.ini"), model=small_model_file, view="cam", layer="gap",
                       images=[files["truncated"], files["text"], files["bomb"], files["good"]])
    try:
        wait_until(lambda: w.session.model is not None and len(w.session.images) == 1, 120)
        settle(w)
        errors = [text for level, text in shown if level == "error"]
        assert any("truncated.png is not an image" in t for t in errors), errors
        assert any("text.jpg is not an image" in t for t in errors), errors
        assert any("bomb.png is too large" in t for t in errors), errors
        assert any("'gap' (GlobalAveragePooling2D) has no spatial output" in t for t in errors)
        assert w.session.image.name == "good.png"
    finally:
        _close(w)


def test_dropped_files_decode_off_the_gui_thread_and_a_fifo_never_hangs(
        qapp, small_model_file, files, tmp_path, monkeypatch):
    import convscope.gui.inputs as inputs

    threads = []
    real = inputs.load_image

    def spy(path):
        threads.append(threading.current_thread() is threading.main_thread())
        return real(path)

    monkeypatch.setattr(inputs, "load_image", spy)
    w, shown = _window(str(tmp_path / "s.ini"), model=small_model_file, view="activations")
    try:
        wait_until(lambda: w.session.model is not None, 120)
        settle(w)
        before = len(w.session.images)
        threads.clear()  # (the bundled samples were read at start-up)
        assert drop(w, [files["fifo"], files["good"]])  # returns at once: nothing decoded yet
        wait_until(lambda: len(w.session.images) == before + 1, 30, "the decoded drop")
        assert threads == [False, False]  # the FIFO refused and the PNG decoded off-thread
        assert any(level == "warning" and "named pipe" in text for level, text in shown), shown
        settle(w)
        assert w.views[0].shown[0] is w.session.image and w.session.image.name == "good.png"
    finally:
        _close(w)


def test_model_without_classifier_head_opens_and_its_views_say_what_works(qapp, files, tmp_path):
    w, shown = _window(str(tmp_path / "s.ini"), model=NO_HEAD, view="filters",
                       layer="block1_conv1", images=[files["good"]], mode="classic")
    try:
        wait_until(lambda: w.session.model is not None, 180, "VGG16 without its top")
        settle(w, 240)
        assert not [t for level, t in shown if level == "error"], shown
        assert "no classifier head" in w.image_panel.predictions.message
        assert "512" in w.image_panel.predictions.message
        filters = w.views[1]
        assert filters.patterns is not None and filters.patterns.shape[0] == 16
        w.view("cam")
        settle(w)
        assert "class scores" in w.views[2].canvas.message()
    finally:
        _close(w)
