"""The window on a 1280 x 800 screen (real window, demo model, offscreen).

Found in the new-user pass (issue 17): the views' option rows were single rows, the Live
tab's ~1320 px wide, so the window could not be narrower than ~1670 px. On a 1440-px
screen under Xvfb it opened 1682 px wide: the Image dock (predictions, the strip) was off
the screen and the layer table squeezed to ~150 px. The rows now wrap (gui/flow_layout.py).
"""
import os

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget

from convscope.engine.qt_bridge import running_threads
from convscope.gui.flow_layout import FlowLayout
from gui_support import SAMPLES, open_window, settings_file, spin  # noqa: F401

pytestmark = pytest.mark.timeout(300)
SCREEN = (1280, 800)
MIN_MODEL_DOCK = 280  # the layer table's name, type and output columns
MIN_IMAGE_DOCK = 200  # the image, the strip, the prediction bars


@pytest.fixture(scope="module")
def small_window(qapp, settings_file):
    w = open_window(settings_file, model="demo", images=[os.path.join(SAMPLES, "demo_star.png")],
                    view="cam")
    w.resize(*SCREEN)
    spin(100)
    yield w
    w.close()
    spin(50)
    assert not running_threads()


def test_the_window_fits_a_1280_px_screen_with_its_docks(small_window):
    w = small_window
    assert w.minimumSizeHint().width() <= SCREEN[0], w.minimumSizeHint()
    assert w.minimumSizeHint().height() <= SCREEN[1], w.minimumSizeHint()
    for view in w.views:  # whichever tab is in front
        w.view(view.key)
        spin(50)
        assert w.minimumSizeHint().width() <= SCREEN[0], (view.key, w.minimumSizeHint())
        assert (w.width(), w.height()) == SCREEN, view.key
        assert w.model_dock.width() >= MIN_MODEL_DOCK, (view.key, w.model_dock.width())
        assert w.image_dock.width() >= MIN_IMAGE_DOCK, (view.key, w.image_dock.width())
        assert w.model_dock.isVisible() and w.image_dock.isVisible()
        tree = w.model_panel.tree  # the layer table whole: no sideways scrolling
        assert tree.horizontalScrollBar().maximum() == 0, (view.key, w.model_dock.width())


def test_a_narrow_layer_table_gives_way_in_the_name_column(small_window):
    """Seen under Xvfb: the table scrolled sideways and a right-aligned parameter count
    cut at the edge read "147,58" for 147,584. In a narrower dock the name column (elided,
    its path in the tooltip) gives way; type, output and parameters stay whole."""
    from PySide6.QtCore import Qt

    w = small_window
    tree, header = w.model_panel.tree, w.model_panel.tree.header()
    try:
        w.resizeDocks([w.model_dock], [350], Qt.Orientation.Horizontal)
        spin(100)
        assert w.model_dock.width() < w.model_panel._wanted  # narrower than the table wants
        viewport = tree.viewport().width()
        for col in (1, 2, 3):
            right = header.sectionViewportPosition(col) + header.sectionSize(col)
            assert right <= viewport, (col, right, viewport)
        assert tree.horizontalScrollBar().maximum() == 0
    finally:
        w.resizeDocks([w.model_dock], [w.model_panel._wanted + 8], Qt.Orientation.Horizontal)
        spin(50)


def test_every_control_of_every_view_is_whole_and_on_screen(small_window):
    """The controls wrap onto more rows: none cut at the view's edge, none on another."""
    w = small_window
    for view in w.views:
        w.view(view.key)
        spin(50)
        layout = view.controls
        assert isinstance(layout, FlowLayout)
        shown = [layout.itemAt(i).widget() for i in range(layout.count())]
        shown = [x for x in shown if x is not None and x.isVisible()]
        assert shown, view.key
        boxes = []
        for x in shown:
            r = x.geometry()
            assert r.left() >= 0 and r.right() < view.width(), (view.key, x, r, view.width())
            assert r.width() >= x.minimumSizeHint().width(), (view.key, x, r)
            boxes.append((x, r))
        for i, (a, ra) in enumerate(boxes):
            for b, rb in boxes[i + 1:]:
                assert not ra.intersects(rb), (view.key, a, ra, b, rb)


def test_a_caption_stays_on_the_row_of_its_control(qapp):
    """FlowLayout on its own: captions are glued to the control after them, the spare width
    of a row goes to its stretch, and the height grows with the number of rows."""
    host = QWidget()
    flow = FlowLayout(host, spacing=6, row_spacing=4)
    flow.setContentsMargins(0, 0, 0, 0)
    widgets = []
    for k in range(6):
        cap, button = QLabel(f"caption {k}"), QPushButton(f"control number {k}")
        flow.add_widget(cap, keep_with_next=True)
        flow.add_widget(button)
        widgets.append((cap, button))
    flow.add_stretch(1)
    last = QPushButton("right")
    flow.add_widget(last)
    pair = max(c.sizeHint().width() + 6 + b.sizeHint().width() for c, b in widgets)
    assert flow.minimumSize().width() == pair
    one_row = flow.sizeHint().width()
    assert flow.heightForWidth(one_row) == flow.sizeHint().height()
    narrow = pair + 10
    assert flow.heightForWidth(narrow) > 3 * flow.sizeHint().height()  # one pair a row
    flow.setGeometry(QRect(0, 0, narrow, flow.heightForWidth(narrow)))
    for cap, button in widgets:
        assert cap.geometry().center().y() == button.geometry().center().y()
        assert cap.geometry().right() < button.geometry().left()
        assert button.geometry().right() < narrow
    wide = one_row + 200
    flow.setGeometry(QRect(0, 0, wide, flow.sizeHint().height()))
    assert last.geometry().right() == wide - 1  # the stretch pushed it to the right edge
    QApplication.processEvents()


def test_compare_tile_headers_never_overlap(qapp):
    """Seen at 1440 px: "Guided Backprop" and "Guided Grad-CAM" ran into their "1170 ms".
    A tile draws the name and the time only when both fit side by side."""
    import numpy as np

    from convscope.engine.cam import registry
    from convscope.gui.views.compare import PictureTile

    overlay = np.zeros((32, 32, 3), np.uint8)
    for method in registry.names():
        for width in (120, 137, 160, 220):
            tile = PictureTile(method)
            tile.resize(width, width)
            tile.set_overlay(overlay, "12,345 ms")
            room = width - 12  # the header's rectangle (paintEvent)
            name, note = tile.header(room)
            fm = tile.fontMetrics()
            if note:
                assert fm.horizontalAdvance(name) + PictureTile.HEADER_GAP + \
                    fm.horizontalAdvance(note) <= room, (method, width)
                assert name == registry.title(method)
            else:
                assert fm.horizontalAdvance(name) <= room, (method, width)
            assert "12,345 ms" in tile.toolTip()
            tile.grab()  # paints without error
    wide = PictureTile("gradcam")
    wide.set_overlay(overlay, "3 ms")
    assert wide.header(300) == ("Grad-CAM", "3 ms")


def test_a_row_inside_a_row_wraps_too(qapp):
    """CamControls (class, layer, alpha, colour map) is a FlowLayout inside a view's
    FlowLayout: narrower than its one-row width it takes a row of its own and wraps."""
    host = QWidget()
    outer = FlowLayout(host)
    outer.setContentsMargins(0, 0, 0, 0)
    inner_widget = QWidget()
    inner = FlowLayout(inner_widget)
    inner.setContentsMargins(0, 0, 0, 0)
    buttons = [QPushButton(f"inner control {k}") for k in range(5)]
    for b in buttons:
        inner.add_widget(b)
    first = QPushButton("before")
    outer.add_widget(first)
    outer.add_widget(inner_widget)
    widest = max(b.sizeHint().width() for b in buttons)
    assert outer.minimumSize().width() == max(widest, first.sizeHint().width())
    width = widest * 2 + 20  # two inner controls a row: three rows
    height = outer.heightForWidth(width)
    assert height >= first.sizeHint().height() + 3 * buttons[0].sizeHint().height()
    host.resize(width, height)
    host.show()
    spin(20)
    assert inner_widget.geometry().top() > first.geometry().bottom()  # a row of its own
    assert inner_widget.geometry().width() == width
    for b in buttons:
        r = b.geometry().translated(inner_widget.geometry().topLeft())
        assert r.right() < width and r.bottom() < height, (b.text(), r)
    host.close()


def test_a_long_message_in_the_status_bar_stops_before_the_device(small_window):
    """Two unreadable images: the status bar's copy of the message ran under the device
    label ("... TIFF or VCPU (2 threads)"). It is one line, elided before the permanent part;
    the message bar above the views keeps the whole text."""
    w = small_window
    text = ("2 files could not be opened: " + "; ".join(
        f"/tmp/some/folder/bad{k}.png is not an image ConvScope can read (cannot identify "
        f"image file '/tmp/some/folder/bad{k}.png'); use JPEG, PNG, BMP, TIFF or WebP"
        for k in (1, 2)))
    w.notify(text)
    spin(50)
    shown = w.statusBar().currentMessage()
    assert shown.endswith("…") and shown[:-1] in text
    room = w.statusBar().width() - w.status.width()
    assert w.statusBar().fontMetrics().horizontalAdvance(shown) <= room, (shown, room)
    assert w.notifications.isVisible() and w.notifications.text.text() == text
    w.notifications.hide()
    spin(20)


def test_a_growing_widget_takes_the_spare_width_of_its_row(qapp):
    """Live's scrub bar (grow=True) fills what its row leaves, as its stretch did before."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QSlider

    host = QWidget()
    flow = FlowLayout(host)
    flow.setContentsMargins(0, 0, 0, 0)
    button, label = QPushButton("play"), QLabel("frame 12 / 300")
    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setMinimumWidth(100)
    flow.add_widget(button, keep_with_next=True)
    flow.add_widget(slider, keep_with_next=True, grow=True)
    flow.add_widget(label)
    width = flow.sizeHint().width() + 300
    flow.setGeometry(QRect(0, 0, width, flow.heightForWidth(width)))
    assert slider.geometry().width() >= 100 + 300 - 1
    assert label.geometry().right() == width - 1
