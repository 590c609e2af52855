"""Helpers and fixtures shared by the window tests (tests/test_gui*.py): one real window
per test module, offscreen, on the real engine thread."""
import os
import time

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from convscope.engine.loading import DEMO_PATH
from convscope.engine.qt_bridge import running_threads
from test_bridge import small_model_file  # noqa: F401 (fixture)

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
    from convscope.gui.qimage import from_qimage

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


def open_window(settings_path, **startup):
    """A real MainWindow on the settings file `settings_path` (Startup(**startup)), shown,
    its model loaded and the engine settled."""
    from convscope.gui.main_window import MainWindow, Startup
    from convscope.gui.settings import Settings

    w = MainWindow(Settings.at(str(settings_path)), Startup(**startup))
    w.show()
    wait_until(lambda: w.session.model is not None, 120, "the model to load")
    settle(w)
    return w


@pytest.fixture(scope="module")
def window(qapp, small_model_file, image_files, settings_file):
    w = open_window(settings_file, model=small_model_file, images=[image_files[0]],
                    view="activations")
    yield w
    w.close()
    spin(50)
    assert not running_threads(), "an engine thread is still running after the window closed"
